"""Readers of word vectors that keep only the rows a vocabulary asks for.

Files (GloVe, word2vec text and binary, fastText ``.vec``; gensim KeyedVectors through
:mod:`textrnn.vectors.keyedvectors`). Every reader takes ``wanted`` and returns
:class:`Found`; text lines of other words are skipped without parsing their numbers, so a
400,000-line GloVe file aligns to a 15k vocabulary in about half a second.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import IO

import numpy as np

from textrnn.errors import UserError
from textrnn.text.compression import open_bytes, split_suffix
from textrnn.vectors.keyedvectors import load_keyedvectors, read_keyedvectors
from textrnn.vectors.rows import Found, check_dim, check_finite, decode_word, warn_duplicates

log = logging.getLogger("textrnn")

FORMATS = ("auto", "glove", "word2vec", "word2vec-binary", "fasttext", "keyedvectors")
# A binary record's word longer than this means the file is not word2vec binary.
_MAX_WORD_BYTES = 1 << 20
_CHUNK_BYTES = 1 << 20
# A text line longer than this is refused (a 300-number row takes about 4 KB): the readers never hold
# more than one such line, whatever the file.
MAX_LINE_BYTES = 1 << 20
_FORMAT_BY_SUFFIX = {".kv": "keyedvectors", ".model": "keyedvectors", ".bin": "word2vec-binary"}


def read_vectors(path: Path, fmt: str, wanted: set[str], dim: int | None = None) -> Found:
    """Read the rows of ``wanted`` words from a vectors file.

    Args:
        path: A GloVe, word2vec (text or binary), fastText ``.vec`` or gensim KeyedVectors file;
            text and binary files may be compressed (``.gz``, ``.bz2``, ``.xz``, ``.zst``).
        fmt: One of :data:`FORMATS`; ``auto`` picks by suffix (``.kv``/``.model``: keyedvectors,
            ``.bin``: word2vec-binary) or else by the first line (two integers: word2vec text).
        wanted: Words to keep; all other rows are skipped unparsed.
        dim: If given, the file's dimension must equal it.

    Raises:
        UserError: The file is missing, unreadable or malformed; the message names the file and,
            for text files, the line (binary files: the record). Malformed means: a wanted row with
            the wrong number of fields or a value that is not a finite float32 (NaN, infinity, 1e39),
            a last line cut short (checked whatever its word), a line over :data:`MAX_LINE_BYTES`, a
            header count that differs from the rows. Rows of unwanted words are not parsed. A word
            that occurs twice keeps its first vector; repeats of wanted words are counted and logged
            as a warning (repeats of other words go unseen).
    """
    fmt = _resolve_format(path, fmt)
    try:
        if fmt == "keyedvectors":
            return read_keyedvectors(path, wanted, dim)
        with open_bytes(path) as f:
            if fmt == "word2vec-binary":
                return _read_binary(f, path.name, wanted, dim)
            header = {"glove": False, "word2vec": True, "fasttext": True}.get(fmt)
            return _read_text(f, path.name, wanted, dim, header)
    except FileNotFoundError:
        raise UserError(f"data.embeddings.source: file not found: {path}") from None
    except (OSError, EOFError) as err:  # EOFError: a truncated .gz
        raise UserError(f"cannot read {path}: {err}") from None


def _resolve_format(path: Path, fmt: str) -> str:
    """The format of ``path`` (``auto`` resolved by the suffix before any compression's; plain text is told
    apart later)."""
    if fmt not in FORMATS:
        raise UserError(f"data.embeddings.format: {fmt!r} is not one of {FORMATS}")
    if fmt == "auto":
        fmt = _FORMAT_BY_SUFFIX.get(split_suffix(path)[0], "text")
    return fmt


def read_words(path: Path, fmt: str, n: int) -> list[str]:
    """The first ``n`` words of a vectors file, in file order (GloVe and word2vec files list the
    most frequent words first)."""
    fmt = _resolve_format(path, fmt)
    if fmt == "keyedvectors":
        return list(load_keyedvectors(path).index_to_key[:n])
    if fmt == "word2vec-binary":
        from gensim.models import KeyedVectors

        return list(KeyedVectors.load_word2vec_format(str(path), binary=True, limit=n).index_to_key)
    words: list[str] = []
    with open_bytes(path) as f:
        first = _readline(f, path.name, 1)
        counted = _parse_header(first)
        rest = _Lines(f, path.name, 2)
        for lineno, line in enumerate(rest if counted else itertools.chain([first], rest), 2 if counted else 1):
            if len(words) >= n:
                break
            word = line.partition(b" ")[0].strip()
            if word:
                words.append(decode_word(word, f"{path.name} line {lineno}"))
    return words


def _readline(f: IO[bytes], name: str, lineno: int) -> bytes:
    """One line of at most :data:`MAX_LINE_BYTES` (a longer one is an error, not a memory hog)."""
    line = f.readline(MAX_LINE_BYTES + 1)
    if len(line) > MAX_LINE_BYTES:
        raise UserError(
            f"{name} line {lineno}: longer than {MAX_LINE_BYTES:,} bytes without a line break; "
            "not a vectors file in text format?"
        )
    return line


class _Lines:
    """The lines of ``f`` from line number ``start`` on, without their ``\\n``, read in 1 MiB chunks
    (as fast as iterating the file) and each bounded by :data:`MAX_LINE_BYTES`.

    ``complete`` tells, once iterated, whether the last line ended with a line break.
    """

    def __init__(self, f: IO[bytes], name: str, start: int):
        self.f, self.name, self.start = f, name, start
        self.complete = True

    def __iter__(self):
        lineno, tail = self.start, b""
        while chunk := self.f.read(_CHUNK_BYTES):
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            lineno += len(lines)
            if len(tail) > MAX_LINE_BYTES:
                raise UserError(
                    f"{self.name} line {lineno}: longer than {MAX_LINE_BYTES:,} bytes without a line break; "
                    "not a vectors file in text format?"
                )
            yield from lines
        if tail:
            self.complete = False
            yield tail


def _parse_header(line: bytes) -> tuple[int, int] | None:
    """``(count, dim)`` if ``line`` is a word2vec header (exactly two integers), else None."""
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _text_header(
    f: IO[bytes], name: str, dim: int | None, header: bool | None
) -> tuple[bytes, tuple[int, int] | None]:
    """The first line and, if it is a header (``header=None``: if it looks like one), its ``(count, dim)``."""
    first = _readline(f, name, 1)
    counted = _parse_header(first) if header is not False else None
    if header and counted is None:
        raise UserError(f"{name} line 1: expected a header 'count dim', found {first[:60]!r}")
    if counted is not None:
        check_dim(f"{name} line 1", counted[1], dim)
    return first, counted


def _read_text(f: IO[bytes], name: str, wanted: set[str], dim: int | None, header: bool | None) -> Found:
    """GloVe (no header), word2vec text and fastText ``.vec`` (header ``count dim``; ``header=None``:
    detected). Lines are read as bytes so that an invalid UTF-8 word is reported with its line number."""
    first, counted = _text_header(f, name, dim, header)
    file_dim = counted[1] if counted else None
    rows: dict[str, np.ndarray] = {}
    n_rows = duplicates = 0
    line, lineno = b"", 1
    following = _Lines(f, name, 2)
    lines = following if counted else itertools.chain([first], following)
    for lineno, line in enumerate(lines, start=2 if counted else 1):
        word, sep, rest = line.partition(b" ")
        if not sep:  # no numbers: a blank line (tolerated) or a malformed row
            word = word.rstrip()
            if not word:
                continue
        n_rows += 1
        token = decode_word(word, f"{name} line {lineno}")
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
    if not following.complete and line.strip() and file_dim is not None:
        # a last line without a line break may be a download cut short: check it even if unwanted
        _parse_numbers(line.partition(b" ")[2], file_dim, f"{name} line {lineno} (the last)")
    if counted and n_rows != counted[0]:
        raise UserError(f"{name} line 1: the header announces {counted[0]} vectors, found {n_rows}")
    if file_dim is None:
        raise UserError(f"{name}: no vectors in the file")
    warn_duplicates(name, duplicates)
    return Found(file_dim, rows)


def _parse_numbers(rest: bytes, dim: int, where: str) -> np.ndarray:
    fields = rest.split()
    if len(fields) != dim:
        raise UserError(f"{where}: expected {dim + 1} fields (word + {dim} numbers), found {len(fields) + 1}")
    try:
        with np.errstate(over="ignore"):
            row = np.array(fields, dtype=np.float32)
    except ValueError:
        bad = next(x for x in fields if not _is_number(x))
        raise UserError(f"{where}: {bad.decode(errors='replace')[:40]!r} is not a number") from None
    check_finite(row, where, fields)
    return row


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
    counted = _parse_header(_readline(f, name, 1))
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
        token = decode_word(buf[pos:space].lstrip(b"\n"), where)
        pos = space + 1 + size
        if token in wanted:
            if token in rows:
                duplicates += 1
            else:
                rows[token] = np.frombuffer(buf, "<f4", file_dim, space + 1).astype(np.float32)
                check_finite(rows[token], where)
    if (buf[pos:] + f.read(64)).strip():
        raise UserError(f"{name} line 1: the header announces {count} vectors; more data follows")
    warn_duplicates(name, duplicates)
    return Found(file_dim, rows)


def _refill(f: IO[bytes], buf: bytes, pos: int, where: str) -> tuple[bytes, int]:
    """Drop the consumed part of ``buf`` and append the next chunk of the file."""
    if len(buf) - pos > _MAX_WORD_BYTES and buf.find(b" ", pos) < 0:
        raise UserError(f"{where}: no space within 1 MiB, not a word2vec binary file?")
    chunk = f.read(_CHUNK_BYTES)
    if not chunk:
        raise UserError(f"{where}: the file ends early (is the header's count too large?)")
    return buf[pos:] + chunk, 0
