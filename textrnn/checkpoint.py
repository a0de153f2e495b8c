"""Self-contained checkpoints: read them safely (``weights_only=True``) and check their task."""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from textrnn.errors import UserError
from textrnn.models import build_net
from textrnn.pretrained_folder import read_folder

META_KEY = "textrnn"
TASKS = {
    "classification": "load_classifier / textrnn-classify",
    "char_lm": "load_generator / textrnn-generate",
}


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint onto the CPU without executing any code stored in it.

    Raises:
        UserError: the file is missing, truncated, not a checkpoint, or holds pickled objects.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise UserError(
            f"{path}: refused, it holds objects that are not plain data ({_unsafe_reason(err)}); "
            "loading it could run code stored in it"
        ) from None
    except Exception as err:  # torch's unpickler fails in many ways on a file that is not a checkpoint
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: not a readable checkpoint (truncated or corrupt: {reason})") from None
    if not isinstance(checkpoint, dict) or META_KEY not in checkpoint:
        raise UserError(f"{path}: not a textrnn checkpoint (no {META_KEY!r} entry)")
    return checkpoint


def _unsafe_reason(err: Exception) -> str:
    """The line of torch's refusal that names what was refused (e.g. ``GLOBAL posix.system``).

    torch's message also suggests retrying with ``weights_only=False``: advice not to repeat for a
    file of unknown origin.
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    named = [line for line in lines if "GLOBAL" in line or "Unsupported" in line or "unsupported" in line]
    reason = (named or lines or [type(err).__name__])[0]
    return reason.rstrip(".")


def read_metadata(path: str | Path, task: str | None = None) -> dict:
    """The vocabulary, labels, tokeniser settings, hyperparameters and weights of a model of ``task``
    (None: any), from a checkpoint or a pretrained-model folder (:mod:`textrnn.pretrained_folder`).

    Raises:
        UserError: the checkpoint or folder is unreadable or belongs to another task.
    """
    meta = read_folder(path) if Path(path).is_dir() else _checkpoint_metadata(path)
    if task is not None and meta.get("task") != task:
        found = meta.get("task")
        raise UserError(f"{path}: a {found} model, not {task}; use {TASKS.get(found, 'another tool')}")
    return meta


def model_metadata(task: str, tokens: list[str], hparams: dict) -> dict:
    """The metadata of a model in :func:`read_metadata`'s form, its weights aside."""
    hparams = dict(hparams)
    return {
        "task": task,
        "vocab": {"tokens": list(tokens)},
        "hparams": hparams,
        "label_names": hparams.get("label_names"),
        "tokenizer": hparams.get("tokenizer"),
    }


def _checkpoint_metadata(path: str | Path) -> dict:
    checkpoint = load_checkpoint(path)
    meta = checkpoint[META_KEY]
    return {
        **meta,
        **model_metadata(meta.get("task"), meta["vocab"]["tokens"], checkpoint.get("hyper_parameters", {})),
        "state_dict": checkpoint["state_dict"],
    }


def load_net(path: str | Path, task: str, cls: type[torch.nn.Module]) -> tuple[torch.nn.Module, dict]:
    """The plain model of a ``task`` checkpoint, weights loaded, with the checkpoint's metadata."""
    meta = read_metadata(path, task)
    return net_from_metadata(meta, cls), meta


def best_device(device: str | torch.device | None) -> str | torch.device:
    """``device``, or by default CUDA when available, else the CPU."""
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def net_from_metadata(meta: dict, cls: type[torch.nn.Module]) -> torch.nn.Module:
    """The plain model ``cls`` built from checkpoint metadata (:func:`read_metadata`), weights loaded."""
    net = build_net(cls, meta["hparams"])
    state = {k.removeprefix("net."): v for k, v in meta["state_dict"].items() if k.startswith("net.")}
    try:
        net.load_state_dict(state)
    except RuntimeError as err:  # e.g. an edited config.json that no longer fits the weights
        reason = str(err).strip().splitlines()[-1].strip()
        raise UserError(f"the weights do not fit the model its hyperparameters describe: {reason}") from None
    return net
