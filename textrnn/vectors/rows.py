"""Found, the rows a reader keeps, and the checks every reader of vectors applies to them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from textrnn.errors import UserError

log = logging.getLogger("textrnn")


@dataclass
class Found:
    """The wanted rows of a source: ``rows[word]`` is a float32 vector of length ``dim``."""

    dim: int
    rows: dict[str, np.ndarray]


def check_dim(where: str, dim: int, expected: int | None) -> None:
    """Raise a UserError when the source's dimension differs from ``data.embeddings.dim``."""
    if expected is not None and dim != expected:
        raise UserError(f"{where}: vectors have {dim} numbers but data.embeddings.dim is {expected}")


def decode_word(word: bytes, where: str) -> str:
    """``word`` as text; ``where`` (file and line or record) names it in the error."""
    try:
        return word.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserError(
            f"{where}: the word is not valid UTF-8 ({err.reason}); re-encode the file, "
            "e.g. iconv -f latin1 -t utf-8"
        ) from None


def check_finite(row: np.ndarray, where: str, fields: list[bytes] | None = None) -> None:
    """NaN, infinity, or a number beyond float32 (read as infinity) would make a silently wrong row."""
    bad = np.flatnonzero(~np.isfinite(row))
    if bad.size:
        i = int(bad[0])
        value = fields[i].decode(errors="replace")[:40] if fields is not None else str(row[i])
        raise UserError(f"{where}: number {i + 1} is {value!r}, not a finite float32 (NaN or too large)")


def warn_duplicates(name: str, duplicates: int) -> None:
    """Log how many wanted words of the file ``name`` came again (their first vector is kept)."""
    if duplicates:
        log.warning("%s: %d repeated words; the first vector of each was kept", name, duplicates)
