"""ModelRecord: everything besides the weights that a saved model needs, as one typed, plain-data object.

Checkpoints (under their ``textrnn`` key), model folders (``config.json`` + ``vocab.json``) and the
metadata of exported ONNX and TorchScript graphs all hold this record, written by
:meth:`ModelRecord.to_dict` and read by :meth:`ModelRecord.from_dict`. It names things by their public
names (a task, an architecture), never by module paths, so moving code does not break saved models.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from textrnn.errors import UserError
from textrnn.inference.registry import get_task

FORMAT_VERSION = 2  # 1: textrnn 0.1's checkpoints (hyperparameters beside the vocabulary) and folders
REQUIRED = ("task", "architecture", "net_args", "vocab")


@dataclass
class ModelRecord:
    """What a saved model is, besides its weights.

    Attributes:
        task: The registered task (:mod:`textrnn.inference.registry`), e.g. ``classification``.
        architecture: The plain model's class name, e.g. ``TextClassifierNet``.
        net_args: The plain model's config (its constructor arguments), as JSON values.
        vocab: The tokens, by id (``<pad>`` = 0, ``<unk>`` = 1).
        label_names: The class names by id (classifiers), else None.
        tokenizer: How text becomes tokens: ``kind`` (``word`` or ``char``) and its settings.
        calibration_temperature: Classifiers divide their logits by it before the softmax; fitted on the
            validation split (temperature scaling), 1.0 when never fitted.
        format_version: The version of this layout.
    """

    task: str
    architecture: str
    net_args: dict[str, Any]
    vocab: list[str]
    label_names: list[str] | None = None
    tokenizer: dict[str, Any] = field(default_factory=dict)
    calibration_temperature: float = 1.0
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-compatible data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object, where: str) -> ModelRecord:
        """Read what :meth:`to_dict` wrote; ``where`` names the file in errors.

        Raises:
            UserError: not a record, a newer format, a missing field, or an unknown task.
        """
        if not isinstance(data, dict):
            raise UserError(f"{where}: not a textrnn model record")
        version = data.get("format_version", 1)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise UserError(f"{where}: format version {version} needs a newer textrnn")
        missing = [name for name in REQUIRED if name not in data]
        if missing:
            raise UserError(f"{where}: the model record has no {', '.join(missing)}")
        record = cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
        get_task(record.task, where)
        if not isinstance(record.vocab, list) or not all(isinstance(t, str) for t in record.vocab):
            raise UserError(f"{where}: the vocabulary is not a list of tokens")
        return record


def from_version_1(
    where: str,
    task: object,
    hparams: dict,
    vocab: list[str],
    label_names: list[str] | None,
    tokenizer: dict | None,
) -> dict[str, Any]:
    """A format-1 model (textrnn 0.1), whose hyperparameters held the net's arguments among others, in
    :meth:`ModelRecord.to_dict`'s form; ``where`` names the file in errors."""
    net = get_task(task, where).get("net")
    names = {f.name for f in fields(net.config_class)}
    return {
        "task": task,
        "architecture": net.__name__,
        "net_args": {k: v for k, v in hparams.items() if k in names},
        "vocab": vocab,
        "label_names": label_names,
        "tokenizer": tokenizer or {},
        "format_version": FORMAT_VERSION,
    }
