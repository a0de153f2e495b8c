"""TextClassifierEnsemble: several classifiers of one vocabulary, read as one model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from textrnn.nn.classifier import TextClassifierConfig, TextClassifierNet


@dataclass
class EnsembleConfig:
    """The members of a :class:`TextClassifierEnsemble`.

    Args:
        members: Each member's :class:`~textrnn.nn.classifier.TextClassifierConfig`, as a dict; all share one
            vocabulary and label set.
    """

    members: list[dict[str, Any]]


class TextClassifierEnsemble(nn.Module):
    """The mean of its members' class probabilities, returned as log-probabilities: a softmax of the output
    gives the mean back, so it serves wherever a classifier's logits do.

    The rows of words added from the vectors source (``WordEmbedding.fixed``) are the same in every member:
    they are kept once, shared, and a model folder stores them once.

    Args:
        config: The members.
    """

    config_class = EnsembleConfig

    def __init__(self, config: EnsembleConfig):
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(TextClassifierNet(TextClassifierConfig(**m)) for m in config.members)
        for member in self.members[1:]:
            member.embedding.fixed = self.members[0].embedding.fixed

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Log of the mean probabilities (B, C) for ids (B, T) padded with 0 and their lengths (B,)."""
        probs = torch.stack([member(ids, lengths).softmax(dim=-1) for member in self.members])  # (K, B, C)
        return probs.mean(dim=0).log()  # (B, C)
