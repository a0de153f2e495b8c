"""The model folder: ``config.json``, ``vocab.json`` and ``model.safetensors``, no pickle.

Everything in it is plain data (JSON and raw tensors), so it can be read by any tool and loading it runs
no code. ``config.json`` is the :class:`~textrnn.inference.record.ModelRecord` without the vocabulary,
which ``vocab.json`` holds; the weights are the plain model's only: no optimiser state, no Lightning.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from textrnn.atomic import atomic_folder
from textrnn.errors import UserError
from textrnn.inference.record import ModelRecord, from_version_1
from textrnn.text.vocab import PAD, UNK, Vocab

FORMAT = "textrnn-pretrained"
CONFIG, VOCAB, WEIGHTS = "config.json", "vocab.json", "model.safetensors"
ALIASES = "textrnn_aliases"  # the weights' metadata: name -> the name whose tensor it shares
# config.json: weight name -> {"source": vectors source, "first_token": k}, a weight not stored but read back
# at load: the source's vectors of the tokens from k on (fixed pretrained rows, which need not be stored twice)
REBUILT = "rebuilt_from_vectors"


def write_folder(
    out: str | Path,
    record: ModelRecord,
    weights: dict[str, torch.Tensor],
    rebuilt: dict[str, dict] | None = None,
) -> Path:
    """Write a model folder; an existing one at ``out`` is replaced only once the new one is complete.

    Args:
        out: The folder to create (or replace).
        record: What the model is.
        weights: The plain model's ``state_dict``.
        rebuilt: Weights to leave out and read back from a vectors source at load: name ->
            ``{"source": ..., "first_token": k}`` (the source's vectors of ``record.vocab[k:]``).
    """
    out = Path(out)
    if out.exists() and not (out / CONFIG).is_file() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out}: exists and is not a textrnn model folder; choose a new path")
    if not out.parent.is_dir():
        raise UserError(f"{out}: no such directory {out.parent}")
    config = {"format": FORMAT, **record.to_dict(), **({REBUILT: rebuilt} if rebuilt else {})}
    tokens = config.pop("vocab")
    weights = {name: tensor for name, tensor in weights.items() if name not in (rebuilt or {})}
    with atomic_folder(out) as tmp:
        (tmp / CONFIG).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        (tmp / VOCAB).write_text(json.dumps(tokens, ensure_ascii=False), encoding="utf-8")
        tensors, aliases = _stored_once(weights)
        save_file(tensors, tmp / WEIGHTS, {"format": "pt", ALIASES: json.dumps(aliases)})
        _usual_permissions(tmp)
    return out


def _stored_once(weights: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Each tensor once: a name whose tensor is another name's (tied weights, an ensemble's shared rows)
    becomes an alias of the first name. The stored tensors are copies: safetensors refuses shared storage."""
    first: dict[tuple, str] = {}
    tensors, aliases = {}, {}
    for name, tensor in weights.items():
        key = (tensor.data_ptr(), tensor.dtype, tuple(tensor.shape), tensor.stride())
        if key in first and tensor.numel():
            aliases[name] = first[key]
        else:
            first[key], tensors[name] = name, tensor.detach().cpu().clone()
    return tensors, aliases


def _usual_permissions(folder: Path) -> None:
    """The umask's modes, as for any new file: safetensors writes its files private."""
    umask = os.umask(0)
    os.umask(umask)
    for file in folder.iterdir():
        file.chmod(0o666 & ~umask)


def read_folder(path: str | Path) -> tuple[ModelRecord, dict[str, torch.Tensor]]:
    """The record and the weights of a model folder.

    Raises:
        UserError: a file is missing or malformed, or the folder is of an unknown format or task.
    """
    path = Path(path)
    config = _read_json(path / CONFIG)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise UserError(f'{path / CONFIG}: not a textrnn model folder (no "format": "{FORMAT}")')
    tokens = _read_json(path / VOCAB)
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise UserError(f"{path / VOCAB}: expected a JSON list of tokens")
    if config.get("format_version") == 1:  # textrnn 0.1 called the net's arguments hparams
        task, hparams, labels = config.get("task"), config.get("hparams", {}), config.get("label_names")
        config = from_version_1(str(path / CONFIG), task, hparams, tokens, labels, config.get("tokenizer"))
    record = ModelRecord.from_dict({**config, "vocab": tokens}, str(path / CONFIG))
    try:
        weights = load_file(path / WEIGHTS)
        with safe_open(path / WEIGHTS, "pt") as f:
            aliases = json.loads((f.metadata() or {}).get(ALIASES, "{}"))
        weights |= {name: weights[first] for name, first in aliases.items()}
    except (OSError, SafetensorError, json.JSONDecodeError, KeyError, AttributeError) as err:
        raise UserError(f"{path / WEIGHTS}: not readable ({err})") from None
    return record, weights | _rebuild(config.get(REBUILT) or {}, record.vocab, path / CONFIG)


def folder_megabytes(path: str | Path) -> float:
    """The size of a model folder's files, in MB (10**6 bytes)."""
    return sum(f.stat().st_size for f in Path(path).iterdir()) / 1e6


def _rebuild(spec: dict, vocab: list[str], where: Path) -> dict[str, torch.Tensor]:
    """The weights a folder names in ``rebuilt_from_vectors``: the vectors of ``vocab[first_token:]``."""
    if not spec:
        return {}
    from textrnn.vectors.embeddings import Embeddings, build_embedding_matrix  # only such folders pay for it

    rebuilt = {}
    for name, entry in spec.items():
        try:
            source, first = str(entry["source"]), int(entry["first_token"])
        except (TypeError, KeyError, ValueError):
            raise UserError(f"{where}: {REBUILT}.{name} needs a source and a first_token") from None
        matrix, _, _ = build_embedding_matrix(Embeddings(source=source), Vocab([PAD, UNK, *vocab[first:]]))
        rebuilt[name] = matrix[2:]  # without <pad> and <unk>
    return rebuilt


def _read_json(path: Path) -> object:
    if not path.is_file():
        raise UserError(f"{path}: missing; a textrnn model folder has {CONFIG}, {VOCAB} and {WEIGHTS}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path}: not valid JSON ({err})") from None
