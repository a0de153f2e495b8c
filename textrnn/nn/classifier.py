"""TextClassifierNet: embedding -> recurrent encoder -> pooling -> linear head, and its config."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from textrnn.nn.embedding import WordEmbedding
from textrnn.nn.encoder import RNNEncoder
from textrnn.nn.pooling import Pooling
from textrnn.nn.spelling import CharWordFeatures
from textrnn.text.vocab import Vocab


@dataclass
class TextClassifierConfig:
    """The architecture of a :class:`TextClassifierNet`: everything needed to rebuild it, as plain data.

    Args:
        vocab_size: Rows of the embedding (``<pad>`` = 0); linked from the data.
        num_classes: Output classes; linked from the data.
        embedding_dim: Size of the word vectors; taken from the pretrained vectors when they are given,
            else 100.
        hidden_size: Encoder units per direction.
        num_layers: Stacked encoder layers.
        cell: ``lstm``, ``gru``, ``rnn_tanh`` (alias ``rnn``), ``peephole_lstm`` or ``cifg_lstm``.
        cell_impl: ``auto`` (PyTorch's fused kernels where the cell has one) or ``equations``.
        bidirectional: Read both ways.
        pooling: ``last``, ``mean``, ``max``, ``attention``, or several joined by ``+``.
        dropout: Dropout between encoder layers and before the head.
        embedding_dropout: Dropout on the word vectors.
        word_dropout: Share of training tokens replaced by ``<unk>``; regularises, and trains the
            ``<unk>`` vector that unseen words get at prediction time.
        freeze_embeddings: Keep the pretrained vectors fixed.
        static_vectors: Join a fixed copy of each word's initial vector to its fine-tuned one, so the
            encoder reads ``2 * embedding_dim`` features (:class:`~textrnn.nn.embedding.WordEmbedding`).
        trainable_rows: Rows of the training vocabulary (linked from the data); the rows after them
            (words added from the vectors source) keep their pretrained vectors. None: all rows train.
        char_features: Join to each word vector this many features read from the word's spelling by a
            character CNN (:class:`~textrnn.nn.spelling.CharWordFeatures`); 0: off.
    """

    vocab_size: int
    num_classes: int
    embedding_dim: int | None = None
    hidden_size: int = 128
    num_layers: int = 1
    cell: str = "lstm"
    cell_impl: str = "auto"
    bidirectional: bool = True
    pooling: str = "max"
    dropout: float = 0.3
    embedding_dropout: float = 0.3
    word_dropout: float = 0.0
    freeze_embeddings: bool = False
    static_vectors: bool = False
    trainable_rows: int | None = None
    char_features: int = 0


class TextClassifierNet(nn.Module):
    """Classify token-id sequences: embedding, dropout, RNN encoder, pooling, dropout, linear head.

    Args:
        config: The architecture; ``config.embedding_dim`` is filled in from ``pretrained``.
        pretrained: (vocab_size, embedding_dim) initial word vectors, or None (random rows).
        vocab: The vocabulary's tokens, spelt for ``char_features``; None: the spellings come with the weights.
    """

    config_class = TextClassifierConfig

    def __init__(
        self,
        config: TextClassifierConfig,
        pretrained: torch.Tensor | None = None,
        vocab: list[str] | None = None,
    ):
        super().__init__()
        c = self.config = replace(config, embedding_dim=_embedding_dim(config.embedding_dim, pretrained))
        self.word_dropout = c.word_dropout
        self.embedding = WordEmbedding(
            c.vocab_size, c.embedding_dim, pretrained, c.freeze_embeddings, c.trainable_rows, c.static_vectors
        )
        self.spelling = CharWordFeatures(c.vocab_size, c.char_features, vocab) if c.char_features else None
        self.embedding_dropout = nn.Dropout(c.embedding_dropout)
        self.encoder = RNNEncoder(
            self.embedding.output_size + c.char_features,
            c.hidden_size,
            c.num_layers,
            c.cell,
            c.bidirectional,
            c.dropout,
            c.cell_impl,
        )
        self.pooling = Pooling(c.pooling, self.encoder.output_size)
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(self.pooling.output_size, c.num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (B, C) for ids (B, T) padded with 0 and their lengths (B,) on the CPU."""
        return self.read(self.embed(ids), ids, lengths)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Word vectors (B, T, E) of ids (B, T); while training, ``word_dropout`` reads some as ``<unk>``."""
        if self.training and self.word_dropout > 0:
            dropped = (torch.rand(ids.shape, device=ids.device) < self.word_dropout) & (ids != 0)
            ids = ids.masked_fill(dropped, Vocab.unk_id)
        return word_vectors(self.embedding, self.spelling, ids)

    def read(self, vectors: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits (B, C) from the word vectors (B, T, E) of ids (B, T) (for the padding mask)."""
        x = self.embedding_dropout(vectors)  # (B, T, E)
        outputs, last = self.encoder.encode(x, lengths)  # (B, T, D*H), (B, D*H)
        pooled = self.pooling(outputs, ids != 0, last)  # (B, P)
        return self.head(self.dropout(pooled))  # (B, C)


def word_vectors(embedding: nn.Module, spelling: CharWordFeatures | None, ids: torch.Tensor) -> torch.Tensor:
    """The rows (B, T, E) of ids (B, T), joined to their spelling's features (B, T, E + F) if there is one."""
    vectors = embedding(ids)
    return vectors if spelling is None else torch.cat([vectors, spelling(ids)], dim=-1)


def _embedding_dim(embedding_dim: int | None, pretrained: torch.Tensor | None) -> int:
    """The vector size: the pretrained rows' (which ``embedding_dim``, if given, must match), else
    ``embedding_dim``, else 100."""
    if pretrained is None:
        return embedding_dim or 100
    if embedding_dim not in (None, pretrained.shape[1]):
        raise ValueError(f"embedding_dim={embedding_dim} but the vectors have {pretrained.shape[1]}")
    return pretrained.shape[1]
