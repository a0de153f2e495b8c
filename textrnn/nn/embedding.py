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
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        pretrained: torch.Tensor | None = None,
        freeze: bool = False,
        trainable_rows: int | None = None,
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
        self.num_embeddings, self.embedding_dim = vocab_size, embedding_dim

    @property
    def weight(self) -> torch.Tensor:
        """All rows, (vocab_size, embedding_dim)."""
        return torch.cat([self.trained.weight, self.fixed])

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Vectors (..., E) for ids (...)."""
        if self.fixed.numel() == 0:
            return self.trained(ids)
        k = self.trained.num_embeddings
        extra = F.embedding((ids - k).clamp(min=0), self.fixed)
        return torch.where((ids < k).unsqueeze(-1), self.trained(ids.clamp(max=k - 1)), extra)
