"""What a training run saves besides the weights: checkpoints written atomically, and the random
generators' states, so that a resumed fit draws the same dropout masks as an uninterrupted one."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.fabric.utilities.cloud_io import get_filesystem

from textrnn.atomic import atomic_file


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` that writes local checkpoints through :func:`~textrnn.atomic.atomic_file`.

    Lightning's own save goes through an fsspec transaction whose temporary file lives in the system
    temp folder: on another file system the final move is a copy (a kill mid-copy truncates the
    target), nothing is fsynced, and a killed save leaves a checkpoint-sized file in ``/tmp``.
    Remote paths (``s3://`` ...) keep Lightning's behaviour.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        if storage_options is not None or not isinstance(get_filesystem(path), LocalFileSystem):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as tmp, open(tmp, "wb") as f:
            torch.save(checkpoint, f)


def use_atomic_io(strategy: Any) -> None:
    """Give ``strategy`` an :class:`AtomicCheckpointIO` unless the user chose a checkpoint plugin."""
    if type(strategy.checkpoint_io) is TorchCheckpointIO:  # the default: nothing of the user's to replace
        strategy.checkpoint_io = AtomicCheckpointIO()


def rng_state() -> dict[str, Any]:
    """The random generators' states as plain data (tensors, ints, lists), loadable with ``weights_only``.

    Lightning 2.x does not save them; without them a resumed run draws other dropout masks.
    """
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": [version, list(mt), gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
