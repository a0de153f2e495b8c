"""The task registry: one entry per kind of model, naming the pieces that each path through textrnn needs.

A task is registered once, here or by a user's code (:func:`register_task`); everything else asks the registry:
training (the LightningModule and data module a checkpoint resumes with), loading (the plain model a
record describes, and the ready-to-use wrapper around it) and export (the graph to trace).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from textrnn.errors import UserError

Ref = Any  # an object, or "package.module:name" text, imported on first use


@dataclass(frozen=True)
class Task:
    """A kind of model and its pieces.

    Pieces may be given as ``"module:name"`` text, imported only when first asked for, so that loading
    a model for use never imports Lightning, and naming a task imports nothing.

    Attributes:
        name: The task's name, stored in every record (e.g. ``classification``).
        net: The plain ``nn.Module``; it takes its ``config_class`` (a dataclass) as first argument.
        module: The LightningModule that trains it (its ``net`` attribute is the plain model).
        data: The LightningDataModule that feeds it.
        runtime: The ready-to-use wrapper; ``runtime.from_model(net, record, device)`` builds it.
        graph: ``graph(net)`` returns the :class:`~textrnn.tools.export_graphs.Graph` to export.
        use: What a user loads it with, for error messages.
        variants: Other plain models a record of this task may name as its architecture (class name -> piece),
            e.g. an ensemble of the task's nets.
    """

    name: str
    net: Ref
    module: Ref
    data: Ref
    runtime: Ref
    graph: Ref
    use: str
    variants: dict[str, Ref] = field(default_factory=dict)

    def get(self, piece: str) -> Any:
        """The piece (``net``, ``module``, ``data``, ``runtime`` or ``graph``), imported if need be."""
        return _resolve(getattr(self, piece))

    def net_for(self, architecture: str) -> Any:
        """The plain model class of a record's ``architecture``: a variant's, else the task's net."""
        return _resolve(self.variants.get(architecture, self.net))

    def class_path(self, piece: str) -> str:
        """The dotted import path of a class piece, as LightningCLI's ``class_path`` wants it."""
        ref = getattr(self, piece)
        return ref.replace(":", ".") if isinstance(ref, str) else f"{ref.__module__}.{ref.__qualname__}"


def _resolve(ref: Ref) -> Any:
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add ``task`` (or replace the one of the same name); return it."""
    TASKS[task.name] = task
    return task


def get_task(name: object, where: str = "the model") -> Task:
    """The task named ``name``; ``where`` names the file in the error.

    Raises:
        UserError: no task has that name.
    """
    if name not in TASKS:
        raise UserError(f"{where}: unknown task {name!r}; expected one of {', '.join(sorted(TASKS))}")
    return TASKS[name]


register_task(
    Task(
        name="classification",
        net="textrnn.nn.classifier:TextClassifierNet",
        module="textrnn.training.classifier:TextClassifier",
        data="textrnn.training.text_data:TextClassificationData",
        runtime="textrnn.inference.classify:Classifier",
        graph="textrnn.tools.export_graphs:classifier_graph",
        use="load_classifier / textrnn-classify",
        variants={"TextClassifierEnsemble": "textrnn.nn.ensemble:TextClassifierEnsemble"},
    )
)
register_task(
    Task(
        name="char_lm",
        net="textrnn.nn.char_lm:CharLMNet",
        module="textrnn.training.char_lm:CharLanguageModel",
        data="textrnn.training.char_data:CharLMData",
        runtime="textrnn.inference.generate:Generator",
        graph="textrnn.tools.export_graphs:char_step_graph",
        use="load_generator / textrnn-generate",
    )
)
