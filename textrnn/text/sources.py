"""Read labelled or plain text from local files or the Hugging Face hub, with clear errors."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from textrnn.errors import UserError
from textrnn.text.compression import OPENERS, open_bytes, split_suffix

# file suffix -> (datasets builder, builder options); TSV is unquoted, as GLUE ships it.
_BUILDERS = {
    ".tsv": ("csv", {"delimiter": "\t", "quoting": 3, "keep_default_na": False}),
    ".csv": ("csv", {"keep_default_na": False}),
    ".jsonl": ("json", {}),
    ".json": ("json", {}),
    ".parquet": ("parquet", {}),
    ".txt": ("text", {}),
}
_HUB_HOST = ("huggingface.co", 443)


def check_utf8(path: Path) -> None:
    """Raise a UserError naming the first line of ``path`` (decompressed) that is not valid UTF-8."""
    with open_bytes(path) as f:
        for lineno, line in enumerate(f, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as err:
                raise UserError(f"{path} line {lineno}: not valid UTF-8 ({err.reason})") from None


def read_file(path: str, columns: list[str]):
    """Read a TSV/CSV/JSONL/parquet/txt file, compressed or not (``train.tsv.gz``), into a
    ``datasets.Dataset``.

    A ``.txt`` file holds one text per line in a column named ``text``.

    Raises:
        UserError: the file is missing, empty, not UTF-8, of an unknown kind or lacks a column.
    """
    import datasets

    file = Path(path)
    kind, compression = split_suffix(file)
    if not file.is_file():
        raise UserError(f"{path}: no such file")
    if kind not in _BUILDERS:
        known = f"{', '.join(_BUILDERS)}, each also compressed as {', '.join(OPENERS)}"
        raise UserError(f"{path}: unknown file kind {kind or file.suffix!r} (use {known})")
    if file.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty")
    if kind != ".parquet":
        check_utf8(file)
    builder, options = _BUILDERS[kind]
    datasets.disable_progress_bars()
    try:
        table = datasets.load_dataset(builder, data_files=str(file), split="train", **options)
    except Exception as err:  # datasets wraps parser errors in many types
        raise UserError(f"{path}: cannot be read as {builder} ({_first_line(err)})") from None
    check_columns(table, columns, path)
    if len(table) == 0:
        raise UserError(f"{path}: the file has no rows")
    return table


def check_columns(table, columns: list[str], where: str) -> None:
    """Raise a UserError when ``table`` lacks one of ``columns``."""
    for column in columns:
        if column not in table.column_names:
            have = ", ".join(table.column_names)
            raise UserError(f"{where}: no column {column!r} (columns: {have})")


def read_hub(name: str, config: str | None = None):
    """Load a hub dataset (all splits) with ``datasets.load_dataset``; fail fast when offline.

    With ``HF_DATASETS_OFFLINE=1`` only the local datasets cache is used.
    """
    import datasets
    import huggingface_hub

    offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
    advice = (
        "download it elsewhere and point data.train / data.validation / data.test at local "
        "TSV/CSV/JSONL/parquet files (or set HF_DATASETS_OFFLINE=1 to use a cached copy)"
    )
    if not offline and not _reachable(_HUB_HOST):
        raise UserError(f"hub dataset {name!r}: the hub cannot be reached; {advice}")
    datasets.disable_progress_bars()
    if offline:  # both libraries read these variables at import; a later setting must still count
        datasets.config.HF_HUB_OFFLINE = True
        huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        return datasets.load_dataset(name, config)
    except Exception as err:  # offline cache misses and hub errors come in many types
        reason = "offline and not in the local cache" if offline else _first_line(err)
        raise UserError(f"hub dataset {name!r} cannot be loaded ({reason}); {advice}") from None


def _reachable(address: tuple[str, int], timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
