"""TextTask: what every textrnn LightningModule shares around its plain model ``net``.

The optimiser and scheduler come from the YAML; gradient clipping and the logged gradient norm, a
guard against non-finite steps, the best and last checkpoints, throughput logging, and the model
record (vocabulary, labels, tokenizer, architecture) stored in every checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, Timer
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.trainer.states import TrainerFn

from textrnn.errors import UserError
from textrnn.inference.folder import write_folder
from textrnn.inference.loading import RECORD_KEY, checkpoint_record
from textrnn.inference.record import ModelRecord
from textrnn.training.callbacks import Throughput
from textrnn.training.clipping import GradClip, check_mode, clip_gradients, global_grad_norm
from textrnn.training.saving import rng_state, set_rng_state

NOT_HPARAMS = ["pretrained", "vocab", "optimizer", "scheduler"]
RNG_KEY = "textrnn_rng"  # the random generators' states, for resuming a fit exactly


class TextTask(pl.LightningModule):
    """What every textrnn task shares: optimiser and scheduler from the YAML, gradient clipping and
    the logged gradient norm, the best-checkpoint callback, throughput logging, and the vocabulary
    stored in the checkpoint.

    Subclasses set ``task`` (the checkpoint's task name) and ``monitor`` / ``monitor_mode``.
    """

    task: str
    monitor: str
    monitor_mode: str
    calibration_temperature: float = 1.0  # classifiers fit it after each validation run (TextClassifier)

    def __init__(
        self,
        optimizer: OptimizerCallable,
        scheduler: LRSchedulerCallable | None,
        vocab: list[str] | None,
        grad_clip: GradClip | None = None,
        grad_clip_max: float = 1.0,
    ):
        super().__init__()
        self.optimizer, self.scheduler, self.vocab = optimizer, scheduler, vocab
        if grad_clip is not None:
            check_mode(grad_clip)
            if not grad_clip_max > 0:
                raise ValueError(f"grad_clip_max must be positive, not {grad_clip_max}")
        self.grad_clip, self.grad_clip_max = grad_clip, grad_clip_max
        self._first_bad: torch.Tensor | None = None  # (step, loss, grad norm) of the first non-finite step
        self._clock: tuple[Timer, int] | None = None  # a WarmupCosine fitted to max_time: its timer, step cap

    def configure_optimizers(self):
        optimizer = self.optimizer(p for p in self.parameters() if p.requires_grad)
        self._clock = None  # not a previous fit's
        if self.scheduler is None:
            return optimizer
        scheduler = self.scheduler(optimizer)
        if getattr(scheduler, "interval", "epoch") == "step":  # a per-batch schedule (WarmupCosine)
            most_steps = int(min(self.trainer.estimated_stepping_batches, 2**62))  # 2**62: max_time alone
            if getattr(scheduler, "until_max_time", False):
                timer = self._timer()
                if timer is None:
                    raise UserError("model.scheduler: total_steps: max_time needs trainer.max_time")
                self._clock = (timer, most_steps)  # looked up once, read after every batch
            if scheduler.total_steps is None:
                scheduler.total_steps = most_steps
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def _timer(self) -> Timer | None:
        """The Trainer's clock when it has a ``max_time``."""
        timers = (cb for cb in self.trainer.callbacks if isinstance(cb, Timer))
        return next((timer for timer in timers if timer.time_remaining() is not None), None)

    def on_train_batch_end(self, outputs: object, batch: object, batch_idx: int) -> None:
        if self._clock is not None:  # a cosine that ends with trainer.max_time
            timer, most_steps = self._clock
            steps, elapsed, remaining = self.global_step, timer.time_elapsed(), timer.time_remaining()
            self.lr_schedulers().fit_to_time(steps, elapsed, remaining, most_steps)

    def on_before_backward(self, loss: torch.Tensor) -> None:
        self._train_loss = loss.detach()  # checked with the gradients, before the optimiser uses them

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # Lightning calls this after AMP unscaling and before clipping: the norm the loss really produced.
        norm = global_grad_norm(self.parameters())
        self._watch(norm)
        # Logged only on the steps the logger writes (Lightning's rule): elsewhere it would go unseen.
        if self._logging_step():
            self.log("grad_norm", norm, on_step=True, on_epoch=False)

    def _logging_step(self) -> bool:
        return (self.global_step + 1) % self.trainer.log_every_n_steps == 0 or bool(self.trainer.fast_dev_run)

    def _watch(self, norm: torch.Tensor) -> None:
        """Stop on a non-finite loss (or gradient) before the optimiser takes the step.

        On the CPU every step is checked at once (reading a CPU tensor costs no sync). On an
        accelerator the first bad step is recorded on the device, without a sync, and read on the
        logging steps, where Lightning syncs anyway, and before every checkpoint is written.
        """
        # 16-bit mixed precision: GradScaler skips steps with inf gradients by design, so judge the loss only
        grads_ok = torch.isfinite(norm) | ("16-mixed" in str(self.trainer.precision))
        bad = ~(torch.isfinite(self._train_loss) & grads_ok)
        record = torch.stack([torch.full_like(norm, self.global_step), self._train_loss.to(norm), norm])
        if norm.device.type == "cpu":
            if bad:
                self._stop(record)
            return
        first = torch.full_like(record, -1.0) if self._first_bad is None else self._first_bad
        self._first_bad = torch.where(bad & (first[0] < 0), record, first)
        if self._logging_step():
            self._check_recorded()

    def on_train_end(self) -> None:
        self._check_recorded()  # a run that ends between two checks does not end as a success

    def _check_recorded(self) -> None:
        if self._first_bad is not None and self._first_bad[0] >= 0:
            self._stop(self._first_bad)

    def _stop(self, record: torch.Tensor) -> None:
        step, loss, norm = record.tolist()
        raise UserError(
            f"training stopped: non-finite loss at global step {int(step)} (loss={loss}, global gradient "
            f"norm={norm}); the last checkpoint saved before it is intact. Lower the learning rate or set "
            "model.init_args.grad_clip"
        )

    def configure_gradient_clipping(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        if self.grad_clip is None:  # the Trainer's gradient_clip_val, if any, as Lightning does it
            self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
            return
        if gradient_clip_val:
            raise ValueError(
                f"both the model's grad_clip={self.grad_clip!r} and the Trainer's "
                f"gradient_clip_val={gradient_clip_val} are set: keep one"
            )
        clip_gradients(self.parameters(), self.grad_clip, self.grad_clip_max)

    def configure_callbacks(self) -> list[pl.Callback]:
        best = ModelCheckpoint(
            monitor=self.monitor, mode=self.monitor_mode, filename=f"{{epoch}}-{{{self.monitor}:.4f}}"
        )
        # Lightning 2.6's save_last=True rewrites last.ckpt only when the best one improved, so resuming
        # from "last" could go back epochs: a second callback overwrites last.ckpt after every validation
        last = ModelCheckpoint(filename="last", monitor=None, save_top_k=1, enable_version_counter=False)
        # enable_checkpointing=false leaves the Trainer with no checkpoint callback: add none either
        return [Throughput(), best, last] if self.trainer.checkpoint_callbacks else [Throughput()]

    def record(self) -> ModelRecord:
        """What this model is, besides its weights: what checkpoints and model folders store."""
        return ModelRecord(
            task=self.task,
            architecture=type(self.net).__name__,
            net_args=asdict(self.net.config),
            vocab=list(self.vocab or []),
            label_names=self.hparams.get("label_names"),
            tokenizer=self.hparams.get("tokenizer") or {},
            calibration_temperature=self.calibration_temperature,
        )

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        self._check_recorded()  # never write a checkpoint of weights that a NaN step has touched
        checkpoint[RECORD_KEY] = self.record().to_dict()
        checkpoint[RNG_KEY] = rng_state()

    def save_pretrained(self, out: str | Path) -> Path:
        """Write this model as a folder that :func:`textrnn.from_pretrained` loads without Lightning."""
        return write_folder(out, self.record(), self.net.state_dict())

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        record = checkpoint_record(checkpoint, "the checkpoint")
        self.vocab, self.calibration_temperature = record.vocab, record.calibration_temperature
        # resuming a fit: continue the random streams (dropout masks) where the saved run left them
        if self._trainer is not None and self._trainer.state.fn == TrainerFn.FITTING and RNG_KEY in checkpoint:
            set_rng_state(checkpoint[RNG_KEY])
