"""Files and folders that appear whole or not at all: written under a temporary name, then renamed into place.

Every writer in textrnn goes through these two context managers: checkpoints, model folders, exported
graphs, figures, predictions and caches. A process killed meanwhile leaves the target untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """A temporary path to write; on success it is flushed to disk and renamed onto ``path``, else removed.

    The temporary file sits in the same folder (a rename cannot cross file systems) and keeps the
    suffix, for writers that choose a format or compression by it.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        _fsync(tmp)  # the data is on disk before the name points at it
        os.replace(tmp, path)
        _fsync(path.parent)  # and the rename itself is
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A new empty folder to fill; on success it takes the place of ``path``, else it is removed.

    A folder already at ``path`` is moved aside first and deleted only once the new one is in place.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()  # the umask's permissions, as for any new folder
    try:
        yield tmp
        for file in tmp.iterdir():
            _fsync(file)
        _swap_in(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(new: Path, out: Path) -> None:
    if not out.exists():
        os.replace(new, out)
    else:
        old = out.with_name(f".{out.name}.old{os.getpid()}")
        os.replace(out, old)
        os.replace(new, out)
        shutil.rmtree(old)
    _fsync(out.parent)


def _fsync(path: Path) -> None:
    # some file systems refuse to open a directory for this, harmlessly
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
