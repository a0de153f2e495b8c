"""CharWordFeatures: a character CNN over each vocabulary word's spelling (Kim et al. 2016, Ma & Hovy 2016).

A word's features come from its letters, learnt from the training words and shared by every word, so a word
the training data never showed (one added to the vocabulary from the vectors source) still gets features from
its prefixes and suffixes ("-less", "un-", "-ly").
The spellings are a table with one row per vocabulary id, so the model's input stays the token ids: data
loading, prediction, export and the server need nothing more. A word outside the vocabulary reads as
``<unk>``, which has no spelling (zero features), as ``<pad>`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from textrnn.text.vocab import PAD, UNK

SPELLING_BYTES = 20  # longer words keep their first and last 10 bytes: the stem's start and the suffix
CHAR_DIM = 16  # one vector per UTF-8 byte value; the CNN reads these
KERNEL = 3


def spell(word: str, length: int = SPELLING_BYTES) -> list[int]:
    """The UTF-8 bytes of ``word`` (each 1 to 255), ``length`` at most: a longer word keeps its two ends."""
    if word in (PAD, UNK):
        return []
    data = word.encode("utf-8")
    return list(data if len(data) <= length else data[: length // 2] + data[-(length - length // 2) :])


def spelling_table(vocab: Sequence[str], length: int = SPELLING_BYTES) -> torch.Tensor:
    """(len(vocab), length) uint8: row ``i`` is the spelling of ``vocab[i]``, padded with 0."""
    table = bytearray(len(vocab) * length)  # one buffer: a tensor per word costs a second for 100,000 words
    for i, word in enumerate(vocab):
        spelled = spell(word, length)
        table[i * length : i * length + len(spelled)] = bytes(spelled)
    return torch.frombuffer(table, dtype=torch.uint8).view(len(vocab), length)


class CharWordFeatures(nn.Module):
    """``features`` numbers per word id: byte vectors, one convolution of width 3, ReLU, max over the word.

    Args:
        vocab_size: Rows of the spelling table.
        features: Convolution filters, the size of each word's features.
        vocab: The vocabulary's tokens, to spell; None leaves the table empty, for weights loaded after.
    """

    def __init__(self, vocab_size: int, features: int, vocab: Sequence[str] | None = None):
        super().__init__()
        if vocab is not None and len(vocab) != vocab_size:
            raise ValueError(f"char_features: {len(vocab)} words to spell for a vocab_size of {vocab_size}")
        empty = torch.zeros(vocab_size, SPELLING_BYTES, dtype=torch.uint8)
        table = spelling_table(vocab) if vocab is not None else empty
        self.register_buffer("spellings", table)  # saved: a loaded model needs no vocabulary
        self.chars = nn.Embedding(256, CHAR_DIM, padding_idx=0)
        self.conv = nn.Conv1d(CHAR_DIM, features, KERNEL, padding=KERNEL // 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Features (..., F) of word ids (...)."""
        spelled = self.spellings[ids.flatten()].long()  # (N, L)
        x = self.chars(spelled).transpose(1, 2)  # (N, C, L)
        h = torch.relu(self.conv(x))  # (N, F, L)
        # ReLU outputs are >= 0, so zeroing the padding keeps it out of the max; an empty spelling gives 0
        h = h.masked_fill((spelled == 0).unsqueeze(1), 0.0).amax(dim=-1)  # (N, F)
        return h.view(*ids.shape, -1)
