"""The embedding cache: aligned matrices saved under ``<cache_dir>/embeddings/``, so that a repeated run
does not open the vectors source at all."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from textrnn.atomic import atomic_file

log = logging.getLogger("textrnn")


def load_cached(path: Path, n_rows: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    if not path.is_file():
        return None
    try:
        state = torch.load(path, weights_only=True)
        matrix, hit = state["matrix"], state["hit"]
        if matrix.shape[0] != n_rows or hit.shape != (n_rows,):
            raise ValueError(f"shape {tuple(matrix.shape)} for {n_rows} tokens")
    except Exception as err:  # damage shows up as zip, pickle, key or shape errors alike
        log.warning("rebuilding the damaged embedding cache %s (%s)", path, err)
        return None
    return matrix, hit


def save_cached(path: Path, matrix: torch.Tensor, hit: torch.Tensor) -> None:
    """Write through a temp file and rename, so a killed process never leaves a truncated file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp:
            torch.save({"matrix": matrix, "hit": hit}, tmp)
    except OSError as err:  # a read-only cache folder should not stop training
        log.warning("could not write the embedding cache %s: %s", path, err)
