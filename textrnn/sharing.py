"""Share a trained model as a folder (``save_pretrained``) and load one for use (``from_pretrained``)."""

from __future__ import annotations

from pathlib import Path

import torch

from textrnn.checkpoint import read_metadata
from textrnn.classify import Classifier
from textrnn.generate import Generator
from textrnn.pretrained_folder import write_folder

BUILDERS = {"classification": Classifier.from_metadata, "char_lm": Generator.from_metadata}


def save_pretrained(source: str | Path, out: str | Path) -> Path:
    """Write the model folder (``config.json``, ``vocab.json``, ``model.safetensors``) of a checkpoint.

    Args:
        source: A checkpoint written by ``textrnn fit`` (or another model folder).
        out: The folder to write; a textrnn model folder already there is replaced.
    """
    meta = read_metadata(source)
    state = {k.removeprefix("net."): v for k, v in meta["state_dict"].items() if k.startswith("net.")}
    return write_folder(out, meta, state)


def from_pretrained(path: str | Path, device: str | torch.device | None = None) -> Classifier | Generator:
    """A ready :class:`~textrnn.Classifier` or :class:`~textrnn.Generator`, whichever the model is.

    Args:
        path: A model folder written by :func:`save_pretrained`, or a checkpoint.
        device: Where to run (default: CUDA when available, else CPU).
    """
    meta = read_metadata(path)  # read once: the task picks the builder
    return BUILDERS[meta["task"]](meta, device)
