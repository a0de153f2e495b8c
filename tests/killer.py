"""A callback that SIGKILLs its own training process at a chosen batch, for the resume tests.

Killing from inside picks the same point on every machine; a watcher killing on a timer did not under load.
"""

from __future__ import annotations

import os
import signal

from lightning.pytorch import Callback


class KillAt(Callback):
    """SIGKILL the process after batch ``fraction * batches`` of epoch ``epoch`` (nothing is saved then)."""

    def __init__(self, epoch: int, fraction: float) -> None:
        self.epoch, self.fraction = epoch, fraction

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        if trainer.current_epoch == self.epoch and batch_idx >= self.fraction * trainer.num_training_batches:
            os.kill(os.getpid(), signal.SIGKILL)
