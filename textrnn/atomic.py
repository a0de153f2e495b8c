"""Files that appear whole or not at all: written under a temporary name, then renamed into place."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replaced_on_success(path: str | Path) -> Iterator[Path]:
    """A temporary path to write, renamed onto ``path`` when the block ends without an error, else removed.

    The temporary file sits in the same folder (a rename cannot cross file systems) and keeps the suffix,
    for writers that choose a format or compression by it. A process killed meanwhile leaves ``path``
    untouched.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
