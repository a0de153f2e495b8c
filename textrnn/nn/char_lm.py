"""CharLMNet: embedding -> stacked unidirectional RNN -> linear head over the characters, and its config."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from textrnn.nn.encoder import RNNEncoder, State


@dataclass
class CharLMConfig:
    """The architecture of a :class:`CharLMNet`: everything needed to rebuild it, as plain data.

    Args:
        vocab_size: Number of characters, with ``<pad>`` and ``<unk>``; linked from the data.
        embedding_dim: Size of the character vectors.
        hidden_size: Units per layer.
        num_layers: Stacked layers.
        cell: ``lstm``, ``gru``, ``rnn_tanh`` (alias ``rnn``), ``peephole_lstm`` or ``cifg_lstm``.
        cell_impl: ``auto`` (PyTorch's fused kernels where the cell has one) or ``equations``.
        dropout: Dropout on the embeddings, between layers and before the head.
        tie_weights: Share the embedding matrix with the output layer (needs
            ``embedding_dim == hidden_size``).
    """

    vocab_size: int
    embedding_dim: int = 64
    hidden_size: int = 256
    num_layers: int = 1
    cell: str = "lstm"
    cell_impl: str = "auto"
    dropout: float = 0.0
    tie_weights: bool = False


class CharLMNet(nn.Module):
    """Predict the next character: embedding, stacked unidirectional RNN, dropout, linear head.

    Args:
        config: The architecture.
    """

    config_class = CharLMConfig

    def __init__(self, config: CharLMConfig):
        super().__init__()
        c = self.config = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim)
        self.encoder = RNNEncoder(
            c.embedding_dim, c.hidden_size, c.num_layers, c.cell, False, c.dropout, c.cell_impl
        )
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.vocab_size)
        if c.tie_weights:
            if c.embedding_dim != c.hidden_size:
                raise ValueError(
                    f"tie_weights needs embedding_dim == hidden_size ({c.embedding_dim} != {c.hidden_size})"
                )
            self.head.weight = self.embedding.weight

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits (B, T, V) for ids (B, T), and the state after the last step, to feed back in."""
        x = self.dropout(self.embedding(ids))  # (B, T, E)
        outputs, state = self.encoder(x, state=state)  # (B, T, H)
        return self.head(self.dropout(outputs)), state  # (B, T, V)

    def step(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits (B, V) for one character per sequence, ids (B,), and the state after it; equals
        :meth:`forward` on ids (B, 1), through the encoder's faster single-step path."""
        x = self.dropout(self.embedding(ids))  # (B, E)
        out, state = self.encoder.step(x, state)  # (B, H)
        return self.head(self.dropout(out)), state  # (B, V)
