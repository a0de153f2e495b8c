"""A callback for the DDP test: each process writes what it trained on (importable from the CLI)."""

import json
import os

import lightning.pytorch as pl


class RankReport(pl.Callback):
    """Write ``rank<N>.json`` into ``folder`` at the end of fit: steps, world size, batches seen."""

    def __init__(self, folder: str):
        self.folder, self.batches = folder, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        self.batches.append(batch["index"].tolist() if isinstance(batch, dict) else batch[0][:, 0].tolist())

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        report = {
            "rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "node_rank": trainer.node_rank,
            "global_step": trainer.global_step,
            "batches": self.batches,
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()},
            "pid": os.getpid(),
        }
        with open(os.path.join(self.folder, f"rank{trainer.global_rank}.json"), "w") as f:
            json.dump(report, f)
