"""TextClassifier: the LightningModule that trains a TextClassifierNet (cross-entropy, accuracy, macro-F1)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from textrnn.errors import UserError
from textrnn.inference.calibration import expected_calibration_error, fit_temperature
from textrnn.nn.classifier import TextClassifierConfig, TextClassifierNet
from textrnn.training.adversarial import adversarial_loss
from textrnn.training.clipping import GradClip
from textrnn.training.module import NOT_HPARAMS, TextTask
from textrnn.training.warm_start import warm_start

log = logging.getLogger("textrnn")


class TextClassifier(TextTask):
    """Text classification (two or more labels) around :class:`~textrnn.nn.classifier.TextClassifierNet`.

    The architecture is the net's config (:class:`~textrnn.nn.classifier.TextClassifierConfig`), given
    here as keyword arguments (in YAML: ``model.init_args.hidden_size`` ...). ``vocab_size``,
    ``num_classes``, ``trainable_rows``, ``label_names``, ``tokenizer``, ``vocab`` and ``pretrained``
    come from the data module (linked by the CLI).

    Args:
        label_names: Class names, stored in the checkpoint (linked).
        tokenizer: Tokeniser settings, stored in the checkpoint (linked).
        grad_clip: Gradient clipping (:mod:`textrnn.training.clipping`): ``value``, ``norm`` (per tensor),
            ``global_norm`` (all gradients together, keeping their direction), or ``None``.
        grad_clip_max: The ``max`` of ``grad_clip``.
        optimizer: Optimiser factory (YAML: ``class_path`` + ``init_args``).
        scheduler: Learning-rate scheduler factory, stepped once per epoch.
        init_from: Start from this classifier (a checkpoint, a model folder or a shipped model's name) of
            the same architecture: its encoder, pooling and the vectors of the words both vocabularies hold
            are copied when a fit starts; the head starts afresh (:mod:`textrnn.training.warm_start`).
        class_weights: Weigh the training loss by class: ``balanced`` (class ``k`` by ``N / (K * N_k)`` of
            the training split, so that rare classes count as much as common ones), one weight per class,
            or ``None`` (every text alike). Validation and test losses stay unweighted.
        adversarial: Adversarial training (:mod:`textrnn.training.adversarial`): add the loss of each batch
            read from its word vectors moved by this L2 norm per text, in the direction that raises the loss
            most (0: off). Each training step then costs about two.
        label_smoothing: Train towards ``1 - label_smoothing`` on the true class and the rest spread evenly
            over all classes (0: off); validation and test losses stay plain cross-entropy.
        pretrained: Initial embedding matrix (kept out of the hyperparameters; linked).
        vocab: The vocabulary's tokens, saved into the checkpoint (linked).
        **net_args: The architecture: the fields of
            :class:`~textrnn.nn.classifier.TextClassifierConfig`.
    """

    task, monitor, monitor_mode = "classification", "val_acc", "max"

    def __init__(
        self,
        label_names: list[str] | None = None,
        tokenizer: dict | None = None,
        grad_clip: GradClip | None = None,
        grad_clip_max: float = 1.0,
        optimizer: OptimizerCallable = torch.optim.Adam,
        scheduler: LRSchedulerCallable | None = None,
        init_from: str | None = None,
        class_weights: Literal["balanced"] | list[float] | None = None,
        adversarial: float = 0.0,
        label_smoothing: float = 0.0,
        pretrained: torch.Tensor | None = None,
        vocab: list[str] | None = None,
        **net_args: Any,
    ):
        super().__init__(optimizer, scheduler, vocab, grad_clip, grad_clip_max)
        self.net = TextClassifierNet(TextClassifierConfig(**net_args), pretrained, vocab)
        num_classes = self.net.config.num_classes
        check_loss_args(adversarial, label_smoothing, class_weights, num_classes)
        self.adversarial, self.label_smoothing = adversarial, label_smoothing
        self.save_hyperparameters(ignore=NOT_HPARAMS)
        self.hparams.update(asdict(self.net.config))  # embedding_dim as the vectors set it
        self.hparams.label_names = label_names or [str(i) for i in range(num_classes)]
        self.metrics = torch.nn.ModuleDict(
            {
                f"{stage}_{name}": metric
                for stage in ("val", "test")
                for name, metric in (
                    ("acc", MulticlassAccuracy(num_classes, average="micro")),
                    ("f1", MulticlassF1Score(num_classes, average="macro")),
                )
            }
        )
        self.class_f1 = MulticlassF1Score(num_classes, average=None)  # test: each class's F1
        weights = torch.tensor(class_weights, dtype=torch.float) if isinstance(class_weights, list) else None
        self.register_buffer("class_weights", weights, persistent=False)  # "balanced": set by setup("fit")

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.net(ids, lengths)

    def setup(self, stage: str) -> None:
        # before a fit only: a resumed fit then restores its own weights over these, and an evaluation keeps
        # the checkpoint's
        if stage == "fit" and self.hparams.get("init_from"):
            copied = warm_start(self.net, self.vocab or [], self.hparams.init_from)
            log.info("started from %s: encoder, pooling and %d word vectors", self.hparams.init_from, copied)
        if stage == "fit" and self.hparams.get("class_weights") == "balanced":
            self.class_weights = balanced_weights(self.trainer.datamodule, self.net.config.num_classes)
            self.class_weights = self.class_weights.to(self.device)
            log.info("class weights (balanced): %s", [round(w, 3) for w in self.class_weights.tolist()])

    def transfer_batch_to_device(self, batch: dict, device: torch.device, dataloader_idx: int) -> dict:
        # pack_padded_sequence wants lengths on the CPU; moving them would force a sync per step
        return {k: v if k == "lengths" else v.to(device, non_blocking=True) for k, v in batch.items()}

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        vectors = self.net.embed(batch["ids"])  # (B, T, E)
        if self.adversarial and not vectors.requires_grad:  # frozen vectors: still perturb them
            vectors.requires_grad_()
        logits = self.net.read(vectors, batch["ids"], batch["lengths"])
        loss = self.train_loss(logits, batch["labels"])
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["labels"]))
        if self.adversarial:
            loss = loss + adversarial_loss(self.net, vectors, loss, batch, self.adversarial, self.train_loss)
        return loss

    def train_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy with the class weights and label smoothing of training."""
        return F.cross_entropy(logits, labels, weight=self.class_weights, label_smoothing=self.label_smoothing)

    def _evaluate(self, batch: dict, stage: str) -> torch.Tensor:
        logits = self(batch["ids"], batch["lengths"])
        size = len(batch["labels"])
        if stage == "val":
            self._val_outputs.append((logits.detach().float(), batch["labels"]))
        self.log(f"{stage}_loss", F.cross_entropy(logits, batch["labels"]), batch_size=size, sync_dist=True)
        for name in ("acc", "f1"):
            metric = self.metrics[f"{stage}_{name}"]
            metric(logits, batch["labels"])
            self.log(f"{stage}_{name}", metric, prog_bar=name == "acc", batch_size=size)
        return logits

    def on_validation_epoch_start(self) -> None:
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor]] = []

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        """Fit the temperature on this validation run: each checkpoint keeps the one fitted to its weights."""
        if not self._val_outputs:
            return
        logits, labels = (torch.cat(parts) for parts in zip(*self._val_outputs))
        self.calibration_temperature = fit_temperature(logits, labels)
        for name, t in (("val_ece", 1.0), ("val_ece_calibrated", self.calibration_temperature)):
            self.log(name, expected_calibration_error(torch.softmax(logits / t, -1), labels), sync_dist=True)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self.class_f1.update(self._evaluate(batch, "test"), batch["labels"])

    def on_test_epoch_end(self) -> None:
        """Each class's F1 as ``test_f1_<label>`` (spaces in a label name become ``_``)."""
        for name, f1 in zip(self.hparams.label_names, self.class_f1.compute()):
            self.log(f"test_f1_{name.replace(' ', '_')}", f1, sync_dist=True)
        self.class_f1.reset()

    def predict_step(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        probs = torch.softmax(self(batch["ids"], batch["lengths"]) / self.calibration_temperature, dim=-1)
        probability, label_id = probs.max(dim=-1)
        return {"index": batch["index"], "label_id": label_id, "probability": probability}


SentimentClassifier = TextClassifier  # the name of textrnn 0.1, kept for recipes and code that use it


def check_loss_args(
    adversarial: float, label_smoothing: float, class_weights: str | list[float] | None, num_classes: int
) -> None:
    """Refuse training-loss settings out of range, naming the argument."""
    if adversarial < 0:
        raise ValueError(f"model.adversarial must be 0 (off) or more, not {adversarial}")
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"model.label_smoothing must be in [0, 1), not {label_smoothing}")
    if isinstance(class_weights, list) and len(class_weights) != num_classes:
        raise ValueError(f"model.class_weights: {len(class_weights)} weights for {num_classes} classes")


def balanced_weights(data: Any, num_classes: int) -> torch.Tensor:
    """``N / (K * N_k)`` for each class ``k`` of the training split of ``data``; a class it lacks weighs as if
    it held one text."""
    labels = getattr(data, "splits", {}).get("train")
    if labels is None or labels.labels is None:
        raise UserError("model.class_weights: balanced needs the data module's labelled training split")
    counts = torch.bincount(labels.labels, minlength=num_classes).clamp(min=1).float()
    return len(labels.labels) / (num_classes * counts)
