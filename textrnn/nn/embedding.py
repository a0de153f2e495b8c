"""WordEmbedding: word vectors from pretrained rows, fine-tuned or fixed, with extra fixed rows."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class WordEmbedding(nn.Module):
    """An embedding whose first ``trainable_rows`` rows (the training vocabulary) may be fine-tuned
    and whose remaining rows (words added from the pretrained source) stay at their pretrained values.

    Keeping the added rows out of the parameters means the optimiser never touches them, so a
    vocabulary of 100,000 extra words costs no training time. Row 0 (``<pad>``) is a zero row.

    Args:
        vocab_size: Total rows.
        embedding_dim: Vector size.
        pretrained: (vocab_size, embedding_dim) initial vectors, or None (random).
        freeze: Keep the training vocabulary's rows fixed too.
        trainable_rows: Rows that belong to the training vocabulary (default: all).
        static_copy: Also give each word its initial vector, kept fixed, after the tuned one (Kim 2014's
            two channels): vectors of size ``2 * embedding_dim``. Fine-tuning moves the training words away
            from the pretrained space the added words stay in; the fixed channel keeps both in one space.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        pretrained: torch.Tensor | None = None,
        freeze: bool = False,
        trainable_rows: int | None = None,
        static_copy: bool = False,
    ):
        super().__init__()
        if pretrained is not None and tuple(pretrained.shape) != (vocab_size, embedding_dim):
            raise ValueError(
                f"pretrained matrix is {tuple(pretrained.shape)}, expected ({vocab_size}, {embedding_dim})"
            )
        k = vocab_size if trainable_rows is None else trainable_rows
        self.trained = nn.Embedding(k, embedding_dim, padding_idx=0)
        fixed = torch.zeros(vocab_size - k, embedding_dim)
        if pretrained is not None:
            with torch.no_grad():
                self.trained.weight.copy_(pretrained[:k])
            fixed = pretrained[k:].clone()
        self.trained.weight.requires_grad_(not freeze)
        self.register_buffer("fixed", fixed)
        self.register_buffer("static", self.trained.weight.detach().clone() if static_copy else None)
        self.num_embeddings, self.embedding_dim = vocab_size, embedding_dim
        self.output_size = embedding_dim * (2 if static_copy else 1)

    @property
    def weight(self) -> torch.Tensor:
        """All rows, (vocab_size, embedding_dim)."""
        return torch.cat([self.trained.weight, self.fixed])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Vectors (..., E), or (..., 2E) with the static copy, for ids (...)."""
        tuned = self._lookup(self.trained.weight, ids)  # (..., E)
        if self.static is None:
            return tuned
        return torch.cat([tuned, self._lookup(self.static, ids)], dim=-1)  # (..., 2E)

    def _lookup(self, rows: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Rows of ``rows`` (the training vocabulary's) or of ``fixed`` (the added words') for ids (...)."""
        if self.fixed.numel() == 0:
            return F.embedding(ids, rows, padding_idx=0)
        k = rows.size(0)
        extra = F.embedding((ids - k).clamp(min=0), self.fixed)
        return torch.where(
            (ids < k).unsqueeze(-1), F.embedding(ids.clamp(max=k - 1), rows, padding_idx=0), extra
        )
