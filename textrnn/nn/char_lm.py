"""CharLMNet: embedding -> stacked unidirectional RNN -> linear head over the characters, and its config."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from textrnn.nn.encoder import KERNELS, RNNEncoder, State
from textrnn.nn.regularize import embedding_dropout, locked_dropout, weight_dropped_layers


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
        dropout: Dropout between layers and before the head (and on the embeddings, unless
            ``input_dropout`` is set).
        tie_weights: Share the embedding matrix with the output layer (needs
            ``embedding_dim == hidden_size``).
        input_dropout: Dropout on the character vectors; None: ``dropout``.
        embedding_dropout: Share of the characters whose vector is zeroed for a whole batch (AWD-LSTM's
            embedding dropout).
        weight_drop: Share of each layer's hidden-to-hidden weights dropped per batch (DropConnect; needs a
            fused cell: ``lstm``, ``gru`` or ``rnn`` with ``cell_impl: auto``).
        locked_dropout: Draw every dropout mask once per sequence, the same at every step (variational
            dropout); between layers this needs a fused cell too.
    """

    vocab_size: int
    embedding_dim: int = 64
    hidden_size: int = 256
    num_layers: int = 1
    cell: str = "lstm"
    cell_impl: str = "auto"
    dropout: float = 0.0
    tie_weights: bool = False
    input_dropout: float | None = None
    embedding_dropout: float = 0.0
    weight_drop: float = 0.0
    locked_dropout: bool = False


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
        self.input_dropout = c.dropout if c.input_dropout is None else c.input_dropout
        self.layer_by_layer = c.weight_drop > 0 or (c.locked_dropout and c.num_layers > 1)
        if self.layer_by_layer and type(self.encoder.rnn) not in KERNELS:
            raise ValueError(f"weight_drop and locked_dropout between layers need a fused cell, not {c.cell!r}")
        self.head = nn.Linear(c.hidden_size, c.vocab_size)
        if c.tie_weights:
            if c.embedding_dim != c.hidden_size:
                raise ValueError(
                    f"tie_weights needs embedding_dim == hidden_size ({c.embedding_dim} != {c.hidden_size})"
                )
            self.head.weight = self.embedding.weight

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits (B, T, V) for ids (B, T), and the state after the last step, to feed back in."""
        x = self._drop(self._embed(ids), self.input_dropout)  # (B, T, E)
        if self.training and self.layer_by_layer:
            rnn, between = self.encoder.rnn, partial(self._drop, p=self.config.dropout)
            outputs, state = weight_dropped_layers(
                rnn, x, state, self.config.weight_drop, between, KERNELS[type(rnn)]
            )
        else:
            outputs, state = self.encoder(x, state=state)  # (B, T, H)
        return self.head(self._drop(outputs, self.config.dropout)), state  # (B, T, V)

    def step(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits (B, V) for one character per sequence, ids (B,), and the state after it; equals
        :meth:`forward` on ids (B, 1), through the encoder's faster single-step path."""
        x = self._drop(self._embed(ids), self.input_dropout)  # (B, E)
        out, state = self.encoder.step(x, state)  # (B, H)
        return self.head(self._drop(out, self.config.dropout)), state  # (B, V)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Character vectors (..., E) of ids (...); while training, whole characters dropped."""
        weight = embedding_dropout(self.embedding.weight, self.config.embedding_dropout, self.training)
        return F.embedding(ids, weight)

    def _drop(self, x: torch.Tensor, p: float) -> torch.Tensor:
        """Dropout of x (B, T, F), or of one step (B, F): with ``locked_dropout`` one mask per sequence."""
        if self.config.locked_dropout and x.dim() == 3:
            return locked_dropout(x, p, self.training)
        return F.dropout(x, p, self.training)  # one step: a mask per sequence is a mask per element
