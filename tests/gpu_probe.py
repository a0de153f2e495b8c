"""A callback for tests/test_gpu.py: what a fit really ran on the device, written as JSON at its end.

Importable from the CLI (``PYTHONPATH=tests``); it finds the recurrent layer and the output layer by type, so it
does not depend on textrnn's attribute names.
"""

from __future__ import annotations

import json
import math
import os

import lightning.pytorch as pl
import torch
from torch import nn


def _short(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _describe(value) -> dict:
    """Device, dtype and (on the CPU) whether the tensor is in pinned memory."""
    info = {"device": str(value.device), "dtype": _short(value.dtype)}
    if value.device.type == "cpu" and torch.cuda.is_available():
        info["pinned"] = bool(value.is_pinned())
    return info


class GpuReport(pl.Callback):
    """Write ``path`` at the end of fit: precision, devices of the first batch, the dtypes the recurrent layer
    and the output layer computed in while training, every training loss, the final metrics, peak memory.

    Args:
        path: The JSON file to write (rank 0 only).
    """

    def __init__(self, path: str):
        self.path = path
        self.losses: list[float] = []
        self.first_batch: dict | list | None = None
        self.seen: dict[str, dict] = {}
        self.handles: list = []

    def _watch(self, name: str):
        def hook(module: nn.Module, args, output) -> None:
            if not module.training or name in self.seen:
                return
            inputs = args[0] if args else None
            out = output[0] if isinstance(output, tuple) else output
            self.seen[name] = {
                "input": type(inputs).__name__,  # PackedSequence or Tensor
                "input_dtype": _short(getattr(inputs, "data", inputs).dtype) if inputs is not None else None,
                "output_dtype": _short(getattr(out, "data", out).dtype),
            }

        return hook

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        modules = list(pl_module.modules())
        rnn = next((m for m in modules if isinstance(m, nn.RNNBase)), None)
        head = next((m for m in reversed(modules) if isinstance(m, nn.Linear)), None)
        for name, module in (("rnn", rnn), ("head", head)):
            if module is not None:
                self.handles.append(module.register_forward_hook(self._watch(name)))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        if self.first_batch is None:
            if isinstance(batch, dict):
                self.first_batch = {k: _describe(v) for k, v in batch.items() if isinstance(v, torch.Tensor)}
            else:
                self.first_batch = [_describe(v) for v in batch if isinstance(v, torch.Tensor)]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is not None:
            self.losses.append(float(loss))

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for handle in self.handles:
            handle.remove()
        if trainer.global_rank != 0:
            return
        cuda = pl_module.device.type == "cuda"
        report = {
            "precision": str(trainer.precision),
            "strategy": type(trainer.strategy).__name__,
            "world_size": trainer.world_size,
            "device": str(pl_module.device),
            "device_name": torch.cuda.get_device_name(pl_module.device) if cuda else None,
            "param_dtype": _short(next(pl_module.parameters()).dtype),
            "global_step": trainer.global_step,
            "first_batch": self.first_batch,
            "layers": self.seen,
            "losses": self.losses,
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()},
            "peak_memory_mib": torch.cuda.max_memory_allocated(pl_module.device) / 2**20 if cuda else None,
            "pid": os.getpid(),
        }
        report["losses_finite"] = all(math.isfinite(x) for x in self.losses)
        with open(self.path, "w") as f:
            json.dump(report, f, indent=1)
