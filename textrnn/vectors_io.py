"""Readers of word vectors that keep only the rows a vocabulary asks for.

Files (GloVe, word2vec text and binary, fastText ``.vec``, gensim KeyedVectors) and the named
sources (the glove-6B-50d package, gensim-data models). Every reader takes ``wanted`` and returns
:class:`Found`; text lines of other words are skipped without parsing their numbers, so a
400,000-line GloVe file aligns to a 15k vocabulary in about half a second.
"""

from __future__ import annotations

import gzip
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from textrnn.errors import UserError

log = logging.getLogger("textrnn")

FORMATS = ("auto", "glove", "word2vec", "word2vec-binary", "fasttext", "keyedvectors")
# A binary record's word longer than this means the file is not word2vec binary.
_MAX_WORD_BYTES = 1 << 20
_CHUNK_BYTES = 1 << 20
_FORMAT_BY_SUFFIX = {".kv": "keyedvectors", ".model": "keyedvectors", ".bin": "word2vec-binary"}


@dataclass
class Found:
    """The wanted rows of a source: ``rows[word]`` is a float32 vector of length ``dim``."""

    dim: int
    rows: dict[str, np.ndarray]


def check_dim(where: str, dim: int, expected: int | None) -> None:
    """Raise a UserError when the source's dimension differs from ``data.embeddings.dim``."""
    if expected is not None and dim != expected:
        raise UserError(f"{where}: vectors have {dim} numbers but data.embeddings.dim is {expected}")


def read_vectors(path: Path, fmt: str, wanted: set[str], dim: int | None = None) -> Found:
    """Read the rows of ``wanted`` words from a vectors file.

    Args:
        path: A GloVe, word2vec (text or binary), fastText ``.vec`` or gensim KeyedVectors file;
            text and binary files may be gzipped (``.gz``).
        fmt: One of :data:`FORMATS`; ``auto`` picks by suffix (``.kv``/``.model``: keyedvectors,
            ``.bin``: word2vec-binary) or else by the first line (two integers: word2vec text).
        wanted: Words to keep; all other rows are skipped unparsed.
        dim: If given, the file's dimension must equal it.

    Raises:
        UserError: The file is missing, unreadable or malformed; the message names the file and,
            for text files, the line. A word that occurs twice keeps its first vector; repeats of
            wanted words are counted and logged as a warning (repeats of other words go unseen).
    """
    fmt, gzipped = _resolve_format(path, fmt)
    try:
        if fmt == "keyedvectors":
            return read_keyedvectors(path, wanted, dim)
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as f:
            if fmt == "word2vec-binary":
                return _read_binary(f, path.name, wanted, dim)
            header = {"glove": False, "word2vec": True, "fasttext": True}.get(fmt)
            return _read_text(f, path.name, wanted, dim, header)
    except FileNotFoundError:
        raise UserError(f"data.embeddings.source: file not found: {path}") from None
    except (OSError, EOFError) as err:  # EOFError: a truncated .gz
        raise UserError(f"cannot read {path}: {err}") from None


def _resolve_format(path: Path, fmt: str) -> tuple[str, bool]:
    """The format of ``path`` (``auto`` resolved by suffix; plain text is told apart later) and
    whether it is gzipped."""
    if fmt not in FORMATS:
        raise UserError(f"data.embeddings.format: {fmt!r} is not one of {FORMATS}")
    gzipped = path.suffix.lower() == ".gz"
    if fmt == "auto":
        suffix = Path(path.stem).suffix if gzipped else path.suffix
        fmt = _FORMAT_BY_SUFFIX.get(suffix.lower(), "text")
    return fmt, gzipped


def read_words(path: Path, fmt: str, n: int) -> list[str]:
    """The first ``n`` words of a vectors file, in file order (GloVe and word2vec files list the
    most frequent words first)."""
    fmt, gzipped = _resolve_format(path, fmt)
    if fmt == "keyedvectors":
        return list(load_keyedvectors(path).index_to_key[:n])
    if fmt == "word2vec-binary":
        from gensim.models import KeyedVectors

        return list(KeyedVectors.load_word2vec_format(str(path), binary=True, limit=n).index_to_key)
    words: list[str] = []
    with gzip.open(path, "rb") if gzipped else open(path, "rb") as f:
        first = f.readline()
        lines = f if _parse_header(first) else itertools.chain([first], f)
        for lineno, line in enumerate(lines, 1):
            if len(words) >= n:
                break
            word = line.partition(b" ")[0].strip()
            if word:
                words.append(_decode(word, f"{path.name} line {lineno}"))
    return words


def _parse_header(line: bytes) -> tuple[int, int] | None:
    """``(count, dim)`` if ``line`` is a word2vec header (exactly two integers), else None."""
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _read_text(f: IO[bytes], name: str, wanted: set[str], dim: int | None, header: bool | None) -> Found:
    """GloVe (no header), word2vec text and fastText ``.vec`` (header ``count dim``).

    ``header=None`` detects the header from the first line. Lines are read as bytes so that an
    invalid UTF-8 word is reported with its own line number.
    """
    first = f.readline()
    counted = _parse_header(first) if header is not False else None
    if header and counted is None:
        raise UserError(f"{name} line 1: expected a header 'count dim', found {first[:60]!r}")
    file_dim = counted[1] if counted else None
    if file_dim is not None:
        check_dim(f"{name} line 1", file_dim, dim)
    rows: dict[str, np.ndarray] = {}
    n_rows = duplicates = 0
    lines = f if counted else itertools.chain([first], f)
    for lineno, line in enumerate(lines, start=2 if counted else 1):
        word, sep, rest = line.partition(b" ")
        if not sep:  # no numbers: a blank line (tolerated) or a malformed row
            word = word.rstrip()
            if not word:
                continue
        n_rows += 1
        token = _decode(word, f"{name} line {lineno}")
        if file_dim is None:  # GloVe: the first row sets the dimension
            file_dim = len(rest.split())
            if not file_dim:
                raise UserError(f"{name} line {lineno}: expected a word followed by numbers")
            check_dim(f"{name} line {lineno}", file_dim, dim)
        if token not in wanted:
            continue
        if token in rows:
            duplicates += 1
            continue
        rows[token] = _parse_numbers(rest, file_dim, f"{name} line {lineno}")
    if counted and n_rows != counted[0]:
        raise UserError(f"{name} line 1: the header announces {counted[0]} vectors, found {n_rows}")
    if file_dim is None:
        raise UserError(f"{name}: no vectors in the file")
    _warn_duplicates(name, duplicates)
    return Found(file_dim, rows)


def _decode(word: bytes, where: str) -> str:
    try:
        return word.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(
            f"{where}: the word is not valid UTF-8 ({err.reason}); re-encode the file, "
            "e.g. iconv -f latin1 -t utf-8"
        ) from None


def _parse_numbers(rest: bytes, dim: int, where: str) -> np.ndarray:
    fields = rest.split()
    if len(fields) != dim:
        raise UserError(f"{where}: expected {dim + 1} fields (word + {dim} numbers), found {len(fields) + 1}")
    try:
        return np.array(fields, dtype=np.float32)
    except ValueError:
        bad = next(x for x in fields if not _is_number(x))
        raise UserError(f"{where}: {bad.decode(errors='replace')!r} is not a number") from None


def _is_number(field: bytes) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _read_binary(f: IO[bytes], name: str, wanted: set[str], dim: int | None) -> Found:
    """word2vec binary: a ``count dim`` line, then ``word<space><dim little-endian float32>``.

    The C tool writes a newline after each vector and gensim does not; both are accepted by
    stripping newlines in front of each word.
    """
    counted = _parse_header(f.readline())
    if counted is None:
        raise UserError(
            f"{name} line 1: expected a header 'count dim' (word2vec binary; "
            "a fastText .bin model is not supported: use its .vec file)"
        )
    count, file_dim = counted
    check_dim(f"{name} line 1", file_dim, dim)
    size = 4 * file_dim
    rows: dict[str, np.ndarray] = {}
    buf, pos, duplicates = b"", 0, 0
    for record in range(1, count + 1):
        where = f"{name} record {record} of {count}"
        space = buf.find(b" ", pos)
        while space < 0 or len(buf) < space + 1 + size:
            buf, pos = _refill(f, buf, pos, where)
            space = buf.find(b" ", pos)
        token = _decode(buf[pos:space].lstrip(b"\n"), where)
        pos = space + 1 + size
        if token in wanted:
            if token in rows:
                duplicates += 1
            else:
                rows[token] = np.frombuffer(buf, "<f4", file_dim, space + 1).astype(np.float32)
    if (buf[pos:] + f.read(64)).strip():
        raise UserError(f"{name} line 1: the header announces {count} vectors; more data follows")
    _warn_duplicates(name, duplicates)
    return Found(file_dim, rows)


def _refill(f: IO[bytes], buf: bytes, pos: int, where: str) -> tuple[bytes, int]:
    """Drop the consumed part of ``buf`` and append the next chunk of the file."""
    if len(buf) - pos > _MAX_WORD_BYTES and buf.find(b" ", pos) < 0:
        raise UserError(f"{where}: no space within 1 MiB, not a word2vec binary file?")
    chunk = f.read(_CHUNK_BYTES)
    if not chunk:
        raise UserError(f"{where}: the file ends early (is the header's count too large?)")
    return buf[pos:] + chunk, 0


def read_keyedvectors(path: Path, wanted: set[str], dim: int | None) -> Found:
    """The ``wanted`` rows of a gensim KeyedVectors file (see :func:`load_keyedvectors`)."""
    kv = load_keyedvectors(path)
    check_dim(path.name, kv.vector_size, dim)
    return rows_from_keyedvectors(kv, wanted)


def load_keyedvectors(path: Path) -> Any:
    """A file written by gensim's ``KeyedVectors.save`` or ``Word2Vec.save`` (memory-mapped).

    gensim unpickles these files, so only load files you trust.
    """
    from gensim.models import KeyedVectors  # imported here: gensim is slow to import
    from gensim.utils import SaveLoad

    if not path.is_file():
        raise FileNotFoundError(path)
    try:
        obj: Any = SaveLoad.load(str(path), mmap="r")
    except Exception as err:  # unpickling raises all kinds of errors on a foreign file
        raise UserError(f"{path.name}: not a gensim KeyedVectors file ({err})") from None
    kv = getattr(obj, "wv", obj)  # a saved Word2Vec/FastText model holds its vectors in .wv
    if not isinstance(kv, KeyedVectors):
        raise UserError(f"{path.name}: holds a {type(obj).__name__}, not KeyedVectors")
    return kv


def rows_from_keyedvectors(kv: Any, wanted: set[str]) -> Found:
    """The rows of ``wanted`` words in a gensim ``KeyedVectors``."""
    index = kv.key_to_index
    rows = {w: np.array(kv.vectors[index[w]], dtype=np.float32) for w in wanted if w in index}
    return Found(kv.vector_size, rows)


def _warn_duplicates(name: str, duplicates: int) -> None:
    if duplicates:
        log.warning("%s: %d repeated words; the first vector of each was kept", name, duplicates)
