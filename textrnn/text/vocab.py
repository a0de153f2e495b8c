"""Vocab: a token <-> id mapping with ``<pad>`` = 0 and ``<unk>``, stored in checkpoints as plain JSON."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

PAD = "<pad>"
UNK = "<unk>"


class Vocab:
    """An ordered token list; a token's id is its position.

    Ids 0 and 1 are ``<pad>`` and ``<unk>``; unknown tokens encode to ``<unk>``.
    """

    def __init__(self, tokens: Sequence[str]):
        if list(tokens[:2]) != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}; got {list(tokens[:2])}")
        self.itos: list[str] = list(tokens)
        self.stoi: dict[str, int] = {tok: i for i, tok in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("a vocabulary must not repeat a token")

    pad_id = 0
    unk_id = 1

    @classmethod
    def build(cls, counts: Counter[str], min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Build from token counts: most frequent first, ties broken alphabetically (deterministic).

        Args:
            counts: Token frequencies of the training split.
            min_freq: Drop tokens seen fewer times than this.
            max_size: Keep at most this many tokens, specials included.
        """
        kept = sorted(
            (tok for tok, n in counts.items() if n >= min_freq and tok not in (PAD, UNK)),
            key=lambda tok: (-counts[tok], tok),
        )
        if max_size is not None:
            kept = kept[: max(max_size - 2, 0)]
        return cls([PAD, UNK, *kept])

    @classmethod
    def from_texts(cls, token_lists: Iterable[list[str]], **kwargs) -> Vocab:
        """Build from tokenised texts; ``kwargs`` as in :meth:`build`."""
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        return cls.build(counts, **kwargs)

    def extend(self, tokens: Iterable[str]) -> Vocab:
        """A new vocabulary with ``tokens`` not yet in this one appended, in order."""
        added = dict.fromkeys(tok for tok in tokens if tok not in self.stoi)
        return Vocab([*self.itos, *added])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Map tokens to ids; unknown tokens become ``<unk>``."""
        get = self.stoi.get
        return [get(tok, 1) for tok in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Map ids back to tokens, skipping ``<pad>``."""
        return [self.itos[i] for i in ids if i != self.pad_id]

    def to_dict(self) -> dict:
        """A JSON-safe form, e.g. for a checkpoint."""
        return {"tokens": list(self.itos)}

    @classmethod
    def from_dict(cls, state: dict) -> Vocab:
        """Inverse of :meth:`to_dict`."""
        return cls(state["tokens"])
