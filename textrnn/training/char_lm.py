"""CharLanguageModel: a thin LightningModule that trains CharLMNet with truncated BPTT."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.trainer.states import TrainerFn
from torchmetrics import MeanMetric

from textrnn.nn.char_lm import CharLMConfig, CharLMNet
from textrnn.nn.encoder import State
from textrnn.training.clipping import GradClip
from textrnn.training.module import NOT_HPARAMS, TextTask

STATE_KEY = "textrnn_carried_state"  # the training state carried between batches, for resuming mid-epoch


def detach(state: State) -> State:
    """Cut the graph at a batch boundary: the next batch starts from these values, not their history."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def _to(state: State, device: torch.device) -> State:
    return tuple(s.to(device) for s in state) if isinstance(state, tuple) else state.to(device)


class CharLanguageModel(TextTask):
    """Next-character prediction; loss in nats per character, also reported as bits per character
    and perplexity.

    The recurrent state is carried from one training batch to the next (the data module serves
    contiguous streams) and reset at every epoch start and for each validation or test run. It lives
    here, in the training loop, not in the plain model; checkpoints written during a fit hold it, so
    a fit resumed inside an epoch carries on from the saved state (and the data from the next batch).

    Args:
        tokenizer: Tokeniser settings (linked; ``{"kind": "char"}``).
        grad_clip: Gradient clipping (:mod:`textrnn.training.clipping`): ``value``, ``norm`` (per tensor),
            ``global_norm`` (all gradients together, keeping their direction), or ``None``.
        grad_clip_max: The ``max`` of ``grad_clip``.
        optimizer: Optimiser factory (YAML: ``class_path`` + ``init_args``).
        scheduler: Learning-rate scheduler factory, stepped once per epoch.
        vocab: The characters, saved into the checkpoint (linked).
        **net_args: The architecture: the fields of :class:`~textrnn.nn.char_lm.CharLMConfig`
            (``vocab_size`` is linked from the data).
    """

    task, monitor, monitor_mode = "char_lm", "val_loss", "min"

    def __init__(
        self,
        tokenizer: dict | None = None,
        grad_clip: GradClip | None = None,
        grad_clip_max: float = 1.0,
        optimizer: OptimizerCallable = torch.optim.Adam,
        scheduler: LRSchedulerCallable | None = None,
        vocab: list[str] | None = None,
        **net_args: Any,
    ):
        super().__init__(optimizer, scheduler, vocab, grad_clip, grad_clip_max)
        self.net = CharLMNet(CharLMConfig(**net_args))
        self.save_hyperparameters(ignore=NOT_HPARAMS)
        self.eval_loss = MeanMetric()
        self._state: State | None = None
        self._saved_train_state: State | None = None
        self._evaluating = False  # between _evaluate_start and _evaluate_end: _state is not training's

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        return self.net(ids, state)

    def _loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        inputs, targets = batch  # (B, T) each
        logits, state = self(inputs, self._state)
        self._state = detach(state)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def on_train_epoch_start(self) -> None:
        # Lightning skips this hook when it resumes an epoch from a checkpoint saved inside it: the
        # restored state is kept then
        self._state = None

    def on_train_start(self) -> None:
        if self._state is not None:  # restored from a checkpoint, on the CPU
            self._state = _to(self._state, self.device)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        super().on_save_checkpoint(checkpoint)
        # saved after validation, when _evaluate_end has put the training state back; during an
        # evaluation the training state is the one set aside
        state = self._saved_train_state if self._evaluating else self._state
        if state is not None and self._trainer is not None and self._trainer.state.fn == TrainerFn.FITTING:
            checkpoint[STATE_KEY] = [
                s.detach().cpu() for s in (state if isinstance(state, tuple) else (state,))
            ]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        saved = checkpoint.get(STATE_KEY)
        if saved and self._trainer is not None and self._trainer.state.fn == TrainerFn.FITTING:
            self._state = tuple(saved) if len(saved) > 1 else saved[0]

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def _evaluate_start(self) -> None:
        self._saved_train_state, self._state = self._state, None
        self._evaluating = True
        self.eval_loss.reset()

    def _evaluate(self, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.eval_loss.update(self._loss(batch), weight=batch[1].numel())

    def _evaluate_end(self, stage: str) -> None:
        loss = self.eval_loss.compute()
        metrics = {f"{stage}_loss": loss, f"{stage}_bpc": loss / math.log(2), f"{stage}_ppl": loss.exp()}
        self.log_dict(metrics, sync_dist=True)  # equal on every process already; this says so to Lightning
        self._state = self._saved_train_state  # validation inside an epoch must not disturb training
        self._evaluating = False

    def on_validation_epoch_start(self) -> None:
        self._evaluate_start()

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch)

    def on_validation_epoch_end(self) -> None:
        self._evaluate_end("val")

    def on_test_epoch_start(self) -> None:
        self._evaluate_start()

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch)

    def on_test_epoch_end(self) -> None:
        self._evaluate_end("test")
