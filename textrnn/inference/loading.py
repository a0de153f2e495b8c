"""Load saved models safely: checkpoints (``weights_only=True``) and model folders, into plain models.

A saved model is a :class:`~textrnn.inference.record.ModelRecord` and the plain model's weights; the
task registry tells which class the record describes and which wrapper makes it ready for text.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from textrnn.errors import UserError
from textrnn.inference.folder import read_folder, write_folder
from textrnn.inference.record import ModelRecord, from_version_1
from textrnn.inference.registry import get_task
from textrnn.inference.shipped import resolve

RECORD_KEY = "textrnn"  # a checkpoint's model record
Weights = dict[str, torch.Tensor]


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
    if not isinstance(checkpoint, dict) or RECORD_KEY not in checkpoint:
        raise UserError(f"{path}: not a textrnn checkpoint (no {RECORD_KEY!r} entry)")
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


def checkpoint_record(checkpoint: dict, where: str) -> ModelRecord:
    """The model record of a checkpoint read by :func:`load_checkpoint` (either format)."""
    data = checkpoint[RECORD_KEY]
    if isinstance(data, dict) and "format_version" not in data:  # textrnn 0.1: vocabulary and class path
        hparams = checkpoint.get("hyper_parameters", {})
        tokens = data.get("vocab", {}).get("tokens", [])
        labels, tokenizer = hparams.get("label_names"), hparams.get("tokenizer")
        data = from_version_1(where, data.get("task"), hparams, tokens, labels, tokenizer)
    return ModelRecord.from_dict(data, where)


def read_model(path: str | Path, task: str | None = None) -> tuple[ModelRecord, Weights]:
    """The record and the plain model's weights of a checkpoint, a model folder or a shipped model's name
    (:mod:`textrnn.inference.shipped`), of ``task`` (None: any).

    Raises:
        UserError: the checkpoint or folder is unreadable or holds a model of another task.
    """
    path = resolve(path)
    if path.is_dir():
        record, weights = read_folder(path)
    else:
        checkpoint = load_checkpoint(path)
        record = checkpoint_record(checkpoint, str(path))
        weights = {
            k.removeprefix("net."): v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")
        }
    if task is not None and record.task != task:
        raise UserError(f"{path}: a {record.task} model, not {task}; use {get_task(record.task).use}")
    return record, weights


def build_net(record: ModelRecord, weights: Weights | None = None) -> nn.Module:
    """The plain model a record describes, with ``weights`` loaded (if given), in eval mode, on the CPU."""
    cls = get_task(record.task).net_for(record.architecture)
    net = cls(_config(cls, record))
    if weights is not None:
        try:
            net.load_state_dict(weights)
        except RuntimeError as err:  # e.g. an edited config.json that no longer fits the weights
            reason = str(err).strip().splitlines()[-1].strip()
            raise UserError(f"the weights do not fit the model its record describes: {reason}") from None
    return net.eval()


def _config(cls: type[nn.Module], record: ModelRecord) -> Any:
    """The config ``cls`` is built from, as the record gives it; a record of another textrnn is one line."""
    if cls.__name__ != record.architecture:
        raise UserError(f"a {record.task} model has no architecture {record.architecture!r} (newer textrnn?)")
    try:
        return cls.config_class(**record.net_args)
    except TypeError as err:  # an unknown or a missing argument
        raise UserError(f"{cls.__name__}: {err} (a model of a newer textrnn?)") from None


def load_model(path: str | Path, task: str | None = None) -> tuple[nn.Module, ModelRecord]:
    """The plain model of a checkpoint or model folder, weights loaded, and its record."""
    record, weights = read_model(path, task)
    return build_net(record, weights), record


def best_device(device: str | torch.device | None) -> str | torch.device:
    """``device``, or by default CUDA when available, else the CPU."""
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def save_pretrained(source: str | Path, out: str | Path) -> Path:
    """Write the model folder (``config.json``, ``vocab.json``, ``model.safetensors``) of a checkpoint.

    Args:
        source: A checkpoint written by ``textrnn fit`` (or another model folder).
        out: The folder to write; a textrnn model folder already there is replaced.
    """
    return write_folder(out, *read_model(source))


def from_pretrained(path: str | Path, device: str | torch.device | None = None) -> Any:
    """A ready :class:`~textrnn.Classifier` or :class:`~textrnn.Generator`, whichever the model is.

    Args:
        path: A model folder written by :func:`save_pretrained`, or a checkpoint.
        device: Where to run (default: CUDA when available, else CPU).
    """
    net, record = load_model(path)
    return get_task(record.task).get("runtime").from_model(net, record, device)
