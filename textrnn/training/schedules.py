"""Learning-rate schedules that step once per batch: a linear warm-up, then a cosine decay."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch.optim.lr_scheduler import LRScheduler


class WarmupCosine(LRScheduler):
    """Rise linearly from ``lr / warmup_steps`` to ``lr`` over ``warmup_steps`` batches, then fall along a
    half cosine to ``min_lr_ratio * lr`` at ``total_steps``; stepped after every batch.

    In YAML: ``scheduler: {class_path: textrnn.WarmupCosine, init_args: {warmup_steps: 200}}``. With
    ``total_steps`` unset the fit sets it to the Trainer's estimate of its optimiser steps (``max_epochs``
    or ``max_steps``), so the cosine ends with the run. With ``total_steps: max_time`` the cosine ends when the
    Trainer's ``max_time`` runs out instead: after every batch the fit sets ``total_steps`` to the steps done
    plus those the remaining time allows at the speed so far (validation included), so one recipe anneals fully
    on a slow machine and a fast one. Such a fit is not repeatable step for step: its length follows the clock.

    Args:
        optimizer: The optimiser whose learning rates are scheduled.
        warmup_steps: Batches of the linear warm-up.
        total_steps: Batches until the end of the cosine; None: set by the fit; ``"max_time"``: fitted to the
            Trainer's ``max_time`` as the fit goes.
        min_lr_ratio: The last learning rate, as a share of each group's ``lr``.
    """

    interval = "step"  # read by TextTask.configure_optimizers

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = 0,
        total_steps: int | Literal["max_time"] | None = None,
        min_lr_ratio: float = 0.0,
        last_epoch: int = -1,
    ):
        self.until_max_time = total_steps == "max_time"
        if self.until_max_time:
            total_steps = None  # the fit's estimate from max_epochs / max_steps, until the clock says less
        if warmup_steps < 0 or not 0 <= min_lr_ratio <= 1 or (total_steps is not None and total_steps < 1):
            raise ValueError(
                "WarmupCosine: warmup_steps >= 0, total_steps >= 1 (or max_time) and 0 <= min_lr_ratio <= 1"
            )
        self.warmup_steps, self.total_steps, self.min_lr_ratio = warmup_steps, total_steps, min_lr_ratio
        super().__init__(optimizer, last_epoch)

    def fit_to_time(self, steps_done: int, elapsed: float, remaining: float, most_steps: int) -> None:
        """End the cosine when ``remaining`` seconds run out at the speed of the ``steps_done`` batches so far
        (``elapsed`` seconds), but after at most ``most_steps`` batches (where ``max_epochs`` ends the fit)."""
        if steps_done > 0 and elapsed > 0:
            fitting = steps_done + int(max(0.0, remaining) * steps_done / elapsed)
            self.total_steps = max(1, min(most_steps, fitting))

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
