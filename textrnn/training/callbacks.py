"""Callbacks: training throughput, and writing predictions to a file."""

from __future__ import annotations

import time

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from lightning.pytorch.trainer.states import TrainerFn

from textrnn.atomic import atomic_file


class Throughput(pl.Callback):
    """Log ``train_tokens_per_sec`` and ``train_epoch_sec`` (training time only) once per epoch.

    Tokens are counted from a classification batch's ``lengths`` (CPU tensors) or a character
    batch's shape, so counting forces no device sync. Validation runs inside the epoch (at its end,
    or every ``val_check_interval``) are timed separately and left out.
    """

    def __init__(self):
        self.tokens, self.start, self.validating, self.validation_start = 0, 0.0, 0.0, 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.tokens, self.start, self.validating = 0, time.perf_counter(), 0.0

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.validation_start = time.perf_counter()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking:
            self.validating += time.perf_counter() - self.validation_start

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.tokens += int(batch["lengths"].sum()) if isinstance(batch, dict) else batch[0].numel()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        seconds = time.perf_counter() - self.start - self.validating
        pl_module.log("train_tokens_per_sec", self.tokens / seconds, rank_zero_only=True)
        pl_module.log("train_epoch_sec", seconds, rank_zero_only=True)


class PredictionWriter(BasePredictionWriter):
    """Write one ``label<TAB>probability<TAB>text`` line per input text, in input order.

    Args:
        path: Output file; written under a temporary name first, so a failure leaves nothing half-written.
    """

    def __init__(self, path: str = "predictions.tsv"):
        super().__init__(write_interval="epoch")
        self.path = path

    def write_on_epoch_end(self, trainer, pl_module, predictions: list[dict], batch_indices) -> None:
        order = torch.cat([p["index"] for p in predictions]).argsort()
        label_ids = torch.cat([p["label_id"] for p in predictions])[order].tolist()
        probabilities = torch.cat([p["probability"] for p in predictions])[order].tolist()
        names = pl_module.hparams.label_names
        texts = trainer.datamodule.predict_texts
        with atomic_file(self.path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            for text, label_id, p in zip(texts, label_ids, probabilities):
                f.write(f"{names[label_id]}\t{p:.4f}\t{text}\n")
        print(f"predictions: {self.path} ({len(texts)} lines)")
