"""Compressed inputs, decompressed while they are read: ``.gz``, ``.bz2``, ``.xz`` and ``.zst``."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from textrnn.errors import UserError


class _ZstdReader(io.RawIOBase):
    """A ``.zst`` file's bytes; like gzip, bz2 and lzma, it raises EOFError when the data stops mid-frame."""

    def __init__(self, path: Path):
        import zstandard  # a dependency, imported when a .zst file is read

        self.file, self.new_frame = open(path, "rb"), zstandard.ZstdDecompressor().decompressobj
        self.frame, self.pending, self.started = self.new_frame(), b"", False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            chunk = self.frame.unused_data or self.file.read(1 << 16)
            if not chunk:
                if self.started and not self.frame.eof:
                    raise EOFError("compressed data ends before the end of its frame")
                return 0
            if self.frame.eof:  # a file may hold several frames, one after another
                self.frame = self.new_frame()
            self.started, self.pending = True, self.frame.decompress(chunk)
        n = min(len(buffer), len(self.pending))
        buffer[:n], self.pending = self.pending[:n], self.pending[n:]
        return n

    def close(self) -> None:
        self.file.close()
        super().close()


def _zstd_open(path: Path, mode: str) -> IO[bytes]:
    return io.BufferedReader(_ZstdReader(path))


OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".zst": _zstd_open}


def split_suffix(path: str | Path) -> tuple[str, str | None]:
    """The file's kind and its compression: ``train.tsv.gz`` → ``(".tsv", ".gz")``, ``train.tsv`` →
    ``(".tsv", None)``."""
    path = Path(path)
    if path.suffix.lower() in OPENERS:
        return Path(path.stem).suffix.lower(), path.suffix.lower()
    return path.suffix.lower(), None


@contextmanager
def open_bytes(path: str | Path) -> Iterator[IO[bytes]]:
    """``path`` opened for reading bytes, decompressed on the fly when its suffix names a compression.

    Raises:
        UserError: the file is not valid data of its compression (a truncated or corrupt archive).
    """
    compression = split_suffix(path)[1]
    try:
        with OPENERS.get(compression, open)(Path(path), "rb") as f:
            yield f
    except (EOFError, OSError, lzma.LZMAError) as err:  # gzip/bz2 raise OSError, xz LZMAError, all EOFError
        if isinstance(err, (FileNotFoundError, io.UnsupportedOperation)) or compression is None:
            raise
        raise UserError(f"{path}: not a valid {compression} file ({err or 'it ends too early'})") from None
    except Exception as err:  # zstandard's own ZstdError
        if type(err).__name__ != "ZstdError":
            raise
        raise UserError(f"{path}: not a valid {compression} file ({err})") from None
