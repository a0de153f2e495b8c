"""The labelled token store: what ``TextClassificationData`` prepares (vocabulary, labels, encoded splits,
aligned embedding rows), saved once and mapped from disk by later runs with the same inputs and settings."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import torch

from textrnn.atomic import atomic_file
from textrnn.text.batching import EncodedTexts
from textrnn.text.store import cache_root, file_stamp, smallest_dtype, store_key
from textrnn.text.vocab import Vocab

log = logging.getLogger("textrnn")
FORMAT = 1
SETTINGS = (  # the data module's attributes that change what it prepares
    "dataset", "dataset_config", "text_column", "label_column", "given_label_names", "val_fraction", "seed",
    "lowercase", "min_freq", "max_vocab_size", "max_length",
)  # fmt: skip


def store_path(data: Any) -> Path:
    """Where the prepared data of ``data`` (a ``TextClassificationData``) is kept, keyed on its inputs."""
    files = {split: _stamp(data.files[split]) for split in ("train", "validation", "test")}
    embeddings = dataclasses.asdict(data.embeddings) if data.embeddings is not None else None
    if embeddings is not None:
        embeddings.pop("cache_dir")
        embeddings["file"] = _stamp(embeddings["source"])
    facts = {"format": FORMAT, "files": files, "embeddings": embeddings}
    facts |= {name: getattr(data, name) for name in SETTINGS}
    return cache_root() / "labelled" / f"{store_key(facts)}.pt"


def _stamp(name: str | None) -> list | None:
    """A file's stamp (:func:`~textrnn.text.store.file_stamp`); None for no file (a hub or package name)."""
    return file_stamp(Path(name)) if name is not None and Path(name).is_file() else None


def restore(data: Any, path: Path) -> bool:
    """Fill ``data`` from the store at ``path`` (:func:`store_path`); False when there is none (or it cannot
    be read)."""
    if not path.is_file():
        return False
    try:
        saved = torch.load(path, weights_only=True, mmap=True)  # the tensors stay on disk until used
        splits = {name: EncodedTexts.from_arrays(**arrays) for name, arrays in saved["splits"].items()}
    except Exception as err:  # damage shows up as zip, pickle or key errors alike
        log.warning("preparing the data again: the token store %s is damaged (%s)", path, err)
        return False
    data._vocab, data._label_names = Vocab(saved["vocab"]), saved["label_names"]
    data._trainable_rows, data._matrix, data.splits = saved["trainable_rows"], saved["matrix"], splits
    return True


def save(data: Any, path: Path) -> None:
    """Write what ``data`` prepared into the store at ``path`` (a warning, not an error, when the cache is
    read-only)."""
    small = smallest_dtype(len(data.vocab))
    splits = {name: texts.arrays() for name, texts in data.splits.items()}
    splits = {name: arrays | {"ids": arrays["ids"].to(small)} for name, arrays in splits.items()}
    saved = {"vocab": data.vocab.itos, "label_names": data._label_names, "trainable_rows": data._trainable_rows}
    try:
        with atomic_file(path) as tmp:
            torch.save(saved | {"matrix": data._matrix, "splits": splits}, tmp)
    except OSError as err:
        log.warning("could not write the token store %s: %s", path, err)
