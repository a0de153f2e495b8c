"""Pooling: turn encoder outputs (B, T, H) into one vector per text, ignoring padding."""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("last", "mean", "max", "attention")


class Pooling(nn.Module):
    """One or more poolings, concatenated: ``"max"``, ``"mean+max"``, ``"attention"``, ...

    ``last`` needs the encoder's final state (forward ‖ backward); the others use the outputs with
    a mask. ``attention`` learns a query vector and takes a masked softmax over time.

    Args:
        kinds: Pooling names joined by ``+``.
        size: Size H of each encoder output vector.
    """

    def __init__(self, kinds: str, size: int):
        super().__init__()
        self.kinds = kinds.split("+")
        for kind in self.kinds:
            if kind not in POOLINGS:
                raise ValueError(f"unknown pooling {kind!r}; choose from {', '.join(POOLINGS)}")
        self.query = nn.Parameter(torch.randn(size) / size**0.5) if "attention" in self.kinds else None
        self.output_size = size * len(self.kinds)

    def forward(self, outputs: torch.Tensor, mask: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """Pool.

        Args:
            outputs: (B, T, H) encoder outputs.
            mask: (B, T) True at real tokens.
            last: (B, H) the encoder's final state, used by ``last``.

        Returns:
            (B, H * number of kinds).
        """
        return torch.cat([self._pool(kind, outputs, mask, last) for kind in self.kinds], dim=-1)

    def _pool(self, kind: str, outputs: torch.Tensor, mask: torch.Tensor, last: torch.Tensor):
        m = mask.unsqueeze(-1)  # (B, T, 1)
        if kind == "last":
            return last
        if kind == "mean":
            return (outputs * m).sum(1) / m.sum(1).clamp(min=1)
        if kind == "max":
            return outputs.masked_fill(~m, torch.finfo(outputs.dtype).min).amax(1)
        scores = outputs @ self.query  # (B, T); bfloat16 under autocast even when outputs are float32
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=1).unsqueeze(-1)  # (B, T, 1)
        return (weights * outputs).sum(1)
