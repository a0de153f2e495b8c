"""Throughput counts training time and tokens only."""

from types import SimpleNamespace

import torch
from lightning.pytorch.trainer.states import TrainerFn

from textrnn.training import callbacks
from textrnn.training.callbacks import Throughput


def test_throughput_leaves_validation_time_out(monkeypatch):
    clock = iter([10.0, 12.0, 15.0, 20.0])  # epoch start, validation start, validation end, epoch end
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: next(clock))
    trainer = SimpleNamespace(state=SimpleNamespace(fn=TrainerFn.FITTING), sanity_checking=False)
    logged = {}
    module = SimpleNamespace(log=lambda name, value, **kwargs: logged.__setitem__(name, value))
    cb = Throughput()
    cb.on_train_epoch_start(trainer, module)
    cb.on_train_batch_end(trainer, module, None, {"lengths": torch.tensor([3, 5])}, 0)
    cb.on_train_batch_end(trainer, module, None, (torch.zeros(2, 4, dtype=torch.long), None), 1)
    cb.on_validation_start(trainer, module)
    cb.on_validation_end(trainer, module)
    cb.on_train_epoch_end(trainer, module)
    assert logged == {"train_epoch_sec": 7.0, "train_tokens_per_sec": 16 / 7.0}
