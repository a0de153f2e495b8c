"""Plain ``nn.Module`` models: embedding -> encoder -> pooling -> head."""

from __future__ import annotations

import inspect

import torch
from torch import nn

from textrnn.embedding import WordEmbedding
from textrnn.encoders import RNNEncoder, State
from textrnn.pooling import Pooling
from textrnn.vocab import Vocab


def build_net(cls: type[nn.Module], hparams: dict, **extra) -> nn.Module:
    """The plain model ``cls`` described by (a superset of) its arguments, e.g. checkpoint hyperparameters."""
    names = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in hparams.items() if k in names}, **extra)


class TextClassifierNet(nn.Module):
    """Classify token-id sequences: embedding, dropout, RNN encoder, pooling, dropout, linear head.

    Args:
        vocab_size: Rows of the embedding (``<pad>`` = 0).
        num_classes: Output classes.
        embedding_dim: Size of the word vectors.
        hidden_size: Encoder units per direction.
        num_layers: Stacked encoder layers.
        cell: ``lstm``, ``gru``, ``rnn_tanh`` (alias ``rnn``), ``peephole_lstm`` or ``cifg_lstm``.
        cell_impl: ``auto`` (fused kernels where they exist) or ``equations``.
        bidirectional: Read both ways.
        pooling: ``last``, ``mean``, ``max``, ``attention`` or several joined by ``+``.
        dropout: Dropout between layers and before the head.
        embedding_dropout: Dropout on the word vectors.
        word_dropout: Share of training tokens replaced by ``<unk>``; regularises, and trains the
            ``<unk>`` vector that unseen words get at prediction time.
        pretrained: (vocab_size, embedding_dim) initial word vectors.
        freeze_embeddings: Keep the word vectors fixed.
        trainable_rows: Rows of the training vocabulary; the rows after them (words added from the
            pretrained source) keep their pretrained vectors. Default: all rows are trainable.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        embedding_dim: int = 100,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        cell_impl: str = "auto",
        bidirectional: bool = True,
        pooling: str = "max",
        dropout: float = 0.3,
        embedding_dropout: float = 0.3,
        word_dropout: float = 0.0,
        pretrained: torch.Tensor | None = None,
        freeze_embeddings: bool = False,
        trainable_rows: int | None = None,
    ):
        super().__init__()
        self.word_dropout = word_dropout
        self.embedding = WordEmbedding(vocab_size, embedding_dim, pretrained, freeze_embeddings, trainable_rows)
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.encoder = RNNEncoder(
            embedding_dim, hidden_size, num_layers, cell, bidirectional, dropout, cell_impl
        )
        self.pooling = Pooling(pooling, self.encoder.output_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.pooling.output_size, num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (B, C) for ids (B, T) padded with 0 and their lengths (B,) on the CPU."""
        mask = ids != 0  # (B, T)
        if self.training and self.word_dropout > 0:
            dropped = (torch.rand(ids.shape, device=ids.device) < self.word_dropout) & mask
            ids = ids.masked_fill(dropped, Vocab.unk_id)
        x = self.embedding_dropout(self.embedding(ids))  # (B, T, E)
        outputs, last = self.encoder.encode(x, lengths)  # (B, T, D*H), (B, D*H)
        pooled = self.pooling(outputs, mask, last)  # (B, P)
        return self.head(self.dropout(pooled))  # (B, C)


class CharLMNet(nn.Module):
    """Predict the next character: embedding, stacked unidirectional RNN, dropout, linear head.

    Args:
        vocab_size: Number of characters (with ``<pad>`` and ``<unk>``).
        embedding_dim: Size of the character vectors.
        hidden_size: Units per layer.
        num_layers: Stacked layers.
        cell: ``lstm``, ``gru``, ``rnn_tanh`` (alias ``rnn``), ``peephole_lstm`` or ``cifg_lstm``.
        cell_impl: ``auto`` (fused kernels where they exist) or ``equations``.
        dropout: Dropout between layers and before the head.
        tie_weights: Share the embedding matrix with the output layer (needs
            ``embedding_dim == hidden_size``).
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 1,
        cell: str = "lstm",
        cell_impl: str = "auto",
        dropout: float = 0.0,
        tie_weights: bool = False,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.encoder = RNNEncoder(embedding_dim, hidden_size, num_layers, cell, False, dropout, cell_impl)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            if embedding_dim != hidden_size:
                raise ValueError(
                    f"tie_weights needs embedding_dim == hidden_size ({embedding_dim} != {hidden_size})"
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


NETS = {"classification": TextClassifierNet, "char_lm": CharLMNet}  # task -> its plain model
