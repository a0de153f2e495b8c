"""The character token store: a corpus tokenised once into a memory-mapped file of ids on disk.

Text files (compressed or not) are read in chunks, never whole: one pass counts the characters, the training
part's vocabulary is taken from those counts, a second pass writes the ids in the smallest unsigned type that
holds them. The store is cached under ``<cache>/tokens/<key>/``, keyed like the embedding cache on what it was
made from (each file's path, size and modification time, the split, the vocabulary), so a repeated run maps it
at once; training reads slices of the map, and the corpus is never held in memory.
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from textrnn.atomic import atomic_folder
from textrnn.errors import UserError
from textrnn.text.compression import open_bytes
from textrnn.text.sources import check_utf8
from textrnn.text.vocab import Vocab

FORMAT = 1
CHUNK_BYTES = 1 << 24  # 16 MiB of text at a time
UNICODE = 0x110000


@dataclass(frozen=True)
class CharStore:
    """A tokenised corpus: ``ids.bin`` (the ids of every character, in order) beside ``store.json`` (this).

    Attributes:
        folder: Where the store lies.
        vocab: The characters by id, counted on the training part (or given).
        dtype: The ids' numpy type: ``uint8``, ``uint16`` or ``uint32``.
        parts: Each part's ``[start, end)`` in characters: ``train``, ``validation`` and maybe ``test``.
    """

    folder: str
    vocab: list[str]
    dtype: str
    parts: dict[str, list[int]]

    def ids(self, part: str) -> torch.Tensor:
        """(n,) the ids of ``part``, mapped from disk (no copy; pages are read when a slice is used)."""
        start, end = self.parts[part]
        # copy-on-write: torch wants a writable array, and nothing writes, so nothing is copied
        data = np.memmap(Path(self.folder) / "ids.bin", dtype=self.dtype, mode="c")
        return torch.from_numpy(data[start:end])


def smallest_dtype(vocab_size: int) -> torch.dtype:
    """The smallest unsigned integer type that holds the ids of a vocabulary of ``vocab_size``."""
    return next(t for t in (torch.uint8, torch.uint16, torch.uint32) if vocab_size <= torch.iinfo(t).max + 1)


def cache_root() -> Path:
    return Path(os.environ.get("TEXTRNN_CACHE") or "~/.cache/textrnn").expanduser() / "tokens"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock file: processes that prepare the same data take turns, so one tokenises and the
    others find its store."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no flock; concurrent builders then each write a whole store, atomically
        yield
        return
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def char_store(
    files: list[str], val_fraction: float, test_fraction: float, vocab: Vocab | None = None
) -> CharStore:
    """The store of ``files`` split into parts, from the cache when it holds one made from the same inputs.

    Args:
        files: Text files, joined in order; each may be compressed.
        val_fraction: Share of the characters, after the training part, that validates.
        test_fraction: Share at the end that tests.
        vocab: Use these characters instead of counting the training part's.

    Raises:
        UserError: A file is missing, empty, not UTF-8 (named by file and line) or a broken archive.
    """
    paths = [Path(name) for name in files]
    for path in paths:
        if not path.is_file():
            raise UserError(f"{path}: no such file")
    folder = cache_root() / _key(paths, val_fraction, test_fraction, vocab)
    with locked(folder):  # one process tokenises, the others wait and map its store
        if not (folder / "store.json").is_file():
            with atomic_folder(folder) as tmp:
                store = _build(paths, val_fraction, test_fraction, vocab, tmp)
                meta = json.dumps(asdict(store) | {"folder": str(folder)})
                (tmp / "store.json").write_text(meta, encoding="utf-8")
    return CharStore(**json.loads((folder / "store.json").read_text(encoding="utf-8")))


def _key(paths: list[Path], val_fraction: float, test_fraction: float, vocab: Vocab | None) -> str:
    facts = {"format": FORMAT, "files": [file_stamp(p) for p in paths], "split": [val_fraction, test_fraction]}
    return store_key(facts | {"vocab": vocab.itos if vocab is not None else None})


def file_stamp(path: Path) -> list:
    """What identifies a file's contents for a cache: its resolved path, size and modification time."""
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def store_key(facts: dict) -> str:
    """The cache key of a store made from ``facts`` (JSON-ready)."""
    return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()[:24]


def split_bounds(n: int, val_fraction: float, test_fraction: float) -> dict[str, list[int]]:
    """``[start, end)`` of each contiguous part of ``n`` items: train, validation, and test when it is not
    empty."""
    n_test, n_val = int(n * test_fraction), int(n * val_fraction)
    parts = {"train": [0, n - n_val - n_test], "validation": [n - n_val - n_test, n - n_test]}
    if n_test:
        parts["test"] = [n - n_test, n]
    return parts


def chunks(paths: list[Path]) -> Iterator[np.ndarray]:
    """The corpus as arrays of code points (uint32), about :data:`CHUNK_BYTES` of text each."""
    for path in paths:
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        with open_bytes(path) as f:
            while True:
                data = f.read(CHUNK_BYTES)
                try:
                    text = decoder.decode(data, final=not data)
                except UnicodeDecodeError:
                    check_utf8(path)  # names the line
                    raise
                if text:
                    yield np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
                if not data:
                    break


def _build(
    paths: list[Path], val_fraction: float, test_fraction: float, vocab: Vocab | None, folder: Path
) -> CharStore:
    lengths, counts = [], []  # per chunk: characters, and (code points, counts) of the ones it holds
    for points in chunks(paths):
        found = np.bincount(points, minlength=UNICODE)
        lengths.append(len(points))
        counts.append((np.flatnonzero(found), found[found > 0]))
    n = sum(lengths)
    if n == 0:
        raise UserError(f"{', '.join(map(str, paths))}: the text is empty")
    parts = split_bounds(n, val_fraction, test_fraction)
    vocab = vocab or Vocab.build(_train_counts(paths, lengths, counts, parts["train"][1]))
    dtype = np.dtype(str(smallest_dtype(len(vocab))).removeprefix("torch."))
    table = np.full(UNICODE, Vocab.unk_id, dtype=dtype)  # code point -> id
    for i, token in enumerate(vocab.itos[2:], 2):
        table[ord(token)] = i
    with open(folder / "ids.bin", "wb") as f:  # written, not mapped: mapped pages would count as our memory
        for points in chunks(paths):
            f.write(table[points].tobytes())
    return CharStore(str(folder), vocab.itos, dtype.name, parts)


def _train_counts(paths: list[Path], lengths: list[int], counts: list, n_train: int) -> Counter:
    """How often each character occurs in the first ``n_train`` characters."""
    total, seen, whole = np.zeros(UNICODE, dtype=np.int64), 0, 0
    for length, (points, found) in zip(lengths, counts):
        if seen + length > n_train:
            break
        total[points] += found
        seen, whole = seen + length, whole + 1
    if seen < n_train:  # the chunk the training part ends in: count its first characters again
        boundary = next(itertools.islice(chunks(paths), whole, None))
        total += np.bincount(boundary[: n_train - seen], minlength=UNICODE)
    return Counter({chr(c): int(total[c]) for c in np.flatnonzero(total)})
