"""Learning-rate schedules that step once per batch: a linear warm-up, then a cosine decay."""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LRScheduler


class WarmupCosine(LRScheduler):
    """Rise linearly from ``lr / warmup_steps`` to ``lr`` over ``warmup_steps`` batches, then fall along a
    half cosine to ``min_lr_ratio * lr`` at ``total_steps``; stepped after every batch.

    In YAML: ``scheduler: {class_path: textrnn.WarmupCosine, init_args: {warmup_steps: 200}}``. With
    ``total_steps`` unset the fit sets it to the Trainer's estimate of its optimiser steps (``max_epochs``
    or ``max_steps``), so the cosine ends with the run.

    Args:
        optimizer: The optimiser whose learning rates are scheduled.
        warmup_steps: Batches of the linear warm-up.
        total_steps: Batches until the end of the cosine; None: set by the fit.
        min_lr_ratio: The last learning rate, as a share of each group's ``lr``.
    """

    interval = "step"  # read by TextTask.configure_optimizers

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = 0,
        total_steps: int | None = None,
        min_lr_ratio: float = 0.0,
        last_epoch: int = -1,
    ):
        if warmup_steps < 0 or not 0 <= min_lr_ratio <= 1 or (total_steps is not None and total_steps < 1):
            raise ValueError("WarmupCosine: warmup_steps >= 0, total_steps >= 1 and 0 <= min_lr_ratio <= 1")
        self.warmup_steps, self.total_steps, self.min_lr_ratio = warmup_steps, total_steps, min_lr_ratio
        super().__init__(optimizer, last_epoch)

    def factor(self, step: int) -> float:
        """The share of the base learning rate at ``step`` (0-based)."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.total_steps is None:
            return 1.0
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        return self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    def get_lr(self) -> list[float]:
        return [base * self.factor(self.last_epoch) for base in self.base_lrs]
