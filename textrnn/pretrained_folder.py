"""The pretrained-model folder: ``config.json``, ``vocab.json`` and ``model.safetensors``, no pickle.

Everything in it is plain data (JSON and raw tensors), so it can be read by any tool and loading it runs no
code. It holds the plain model's weights only: no optimiser state, no Lightning.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from textrnn.errors import UserError
from textrnn.models import NETS

FORMAT, FORMAT_VERSION = "textrnn-pretrained", 1
CONFIG, VOCAB, WEIGHTS = "config.json", "vocab.json", "model.safetensors"


def net_hparams(task: str, hparams: dict) -> dict:
    """The constructor arguments of ``task``'s plain model found in ``hparams`` (no tensors)."""
    names = inspect.signature(NETS[task]).parameters
    return {k: v for k, v in hparams.items() if k in names and k != "pretrained"}


def write_folder(out: str | Path, meta: dict, net_state: dict[str, torch.Tensor]) -> Path:
    """Write a model folder; an existing one at ``out`` is replaced only once the new one is complete.

    Args:
        out: The folder to create (or replace).
        meta: ``task``, ``vocab`` (``{"tokens": [...]}``), ``hparams``, ``label_names`` and ``tokenizer``.
        net_state: The plain model's ``state_dict``.
    """
    out = Path(out)
    if out.exists() and not (out / CONFIG).is_file() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out}: exists and is not a textrnn model folder; choose a new path")
    if not out.parent.is_dir():
        raise UserError(f"{out}: no such directory {out.parent}")
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "task": meta["task"],
        "architecture": NETS[meta["task"]].__name__,
        "hparams": net_hparams(meta["task"], meta["hparams"]),
        "label_names": meta.get("label_names"),
        "tokenizer": meta.get("tokenizer"),
    }
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (tmp / VOCAB).write_text(json.dumps(meta["vocab"]["tokens"], ensure_ascii=False), encoding="utf-8")
        # tied weights share storage, which safetensors refuses: each name gets its own copy
        save_file({k: v.detach().cpu().clone() for k, v in net_state.items()}, tmp / WEIGHTS, {"format": "pt"})
        _usual_permissions(tmp)
        _swap_in(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _usual_permissions(folder: Path) -> None:
    """The umask's modes, as for any new folder: temporary folders and safetensors files are private."""
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for file in folder.iterdir():
        file.chmod(0o666 & ~umask)


def _swap_in(new: Path, out: Path) -> None:
    """Put the complete folder ``new`` at ``out``; a previous folder there is removed only afterwards."""
    if not out.exists():
        os.replace(new, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    os.replace(out, old / out.name)
    os.replace(new, out)
    shutil.rmtree(old)


def read_folder(path: str | Path) -> dict:
    """The metadata and weights of a model folder, in :func:`textrnn.checkpoint.read_metadata`'s form.

    Raises:
        UserError: a file is missing or malformed, or the folder is of an unknown format or task.
    """
    path = Path(path)
    config = _read_json(path / CONFIG)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise UserError(f'{path / CONFIG}: not a textrnn model folder (no "format": "{FORMAT}")')
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise UserError(f"{path}: format version {config['format_version']} needs a newer textrnn")
    if config.get("task") not in NETS:
        raise UserError(f"{path / CONFIG}: unknown task {config.get('task')!r}; expected one of {sorted(NETS)}")
    tokens = _read_json(path / VOCAB)
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise UserError(f"{path / VOCAB}: expected a JSON list of tokens")
    try:
        weights = load_file(path / WEIGHTS)
    except (OSError, SafetensorError) as err:
        raise UserError(f"{path / WEIGHTS}: not readable ({err})") from None
    return {
        "task": config["task"],
        "vocab": {"tokens": tokens},
        "hparams": config.get("hparams", {}),
        "label_names": config.get("label_names"),
        "tokenizer": config.get("tokenizer"),
        "state_dict": {f"net.{k}": v for k, v in weights.items()},  # the checkpoint's naming
    }


def _read_json(path: Path) -> object:
    if not path.is_file():
        raise UserError(f"{path}: missing; a textrnn model folder has {CONFIG}, {VOCAB} and {WEIGHTS}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: not valid JSON ({err})") from None
