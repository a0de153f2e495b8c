"""Thin LightningModules: losses, metrics, optimisers and checkpoint metadata around plain models."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.trainer.states import TrainerFn
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from textrnn.callbacks import Throughput
from textrnn.checkpoint import META_KEY, model_metadata
from textrnn.checkpoint_io import rng_state, set_rng_state
from textrnn.clipping import GradClip, check_mode, clip_gradients, global_grad_norm
from textrnn.errors import UserError
from textrnn.models import TextClassifierNet, build_net
from textrnn.pretrained_folder import write_folder

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

    def configure_optimizers(self):
        optimizer = self.optimizer(p for p in self.parameters() if p.requires_grad)
        if self.scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": self.scheduler(optimizer)}

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

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        self._check_recorded()  # never write a checkpoint of weights that a NaN step has touched
        checkpoint[META_KEY] = {
            "task": self.task,
            "class_path": f"{type(self).__module__}.{type(self).__qualname__}",
            "vocab": {"tokens": list(self.vocab or [])},
        }
        checkpoint[RNG_KEY] = rng_state()

    def save_pretrained(self, out: str | Path) -> Path:
        """Write this model as a folder that :func:`textrnn.from_pretrained` loads without Lightning."""
        meta = model_metadata(self.task, self.vocab or [], self.hparams)
        return write_folder(out, meta, self.net.state_dict())

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.vocab = checkpoint.get(META_KEY, {}).get("vocab", {}).get("tokens")
        # resuming a fit: continue the random streams (dropout masks) where the saved run left them
        if self._trainer is not None and self._trainer.state.fn == TrainerFn.FITTING and RNG_KEY in checkpoint:
            set_rng_state(checkpoint[RNG_KEY])


class SentimentClassifier(TextTask):
    """Text classification with cross-entropy, accuracy and macro-F1.

    ``vocab_size``, ``num_classes``, ``label_names``, ``tokenizer``, ``vocab`` and ``pretrained``
    come from the data module (linked by the CLI); the rest is the architecture.

    Args:
        vocab_size: Rows of the embedding.
        num_classes: Number of classes.
        label_names: Class names, stored in the checkpoint.
        tokenizer: Tokeniser settings, stored in the checkpoint.
        embedding_dim: Word-vector size; taken from ``pretrained`` when that is given.
        hidden_size: Encoder units per direction.
        num_layers: Stacked encoder layers.
        cell: ``lstm``, ``gru``, ``rnn_tanh`` (alias ``rnn``), ``peephole_lstm`` or ``cifg_lstm``.
        cell_impl: ``auto`` (PyTorch's fused kernels where the cell has one) or ``equations``.
        bidirectional: Read both ways.
        pooling: ``last``, ``mean``, ``max``, ``attention``, or several joined by ``+``.
        dropout: Dropout between encoder layers and before the head.
        embedding_dropout: Dropout on word vectors.
        word_dropout: Share of training tokens replaced by ``<unk>``.
        freeze_embeddings: Keep the pretrained vectors fixed.
        trainable_rows: Rows of the training vocabulary (linked); rows after them stay fixed.
        grad_clip: Gradient clipping: ``value`` (each element into ``[-max, max]``), ``norm`` (each
            tensor's L2 norm to at most ``max``), ``global_norm`` (all gradients scaled together to an
            L2 norm of at most ``max``, keeping the direction), or ``None`` for none.
        grad_clip_max: The ``max`` of ``grad_clip``.
        optimizer: Optimiser factory (YAML: ``class_path`` + ``init_args``).
        scheduler: Learning-rate scheduler factory, stepped once per epoch.
        pretrained: Initial embedding matrix (kept out of the hyperparameters).
        vocab: The vocabulary's tokens, saved into the checkpoint.
    """

    task, monitor, monitor_mode = "classification", "val_acc", "max"

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        label_names: list[str] | None = None,
        tokenizer: dict | None = None,
        embedding_dim: int | None = None,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        cell_impl: str = "auto",
        bidirectional: bool = True,
        pooling: str = "max",
        dropout: float = 0.3,
        embedding_dropout: float = 0.3,
        word_dropout: float = 0.0,
        freeze_embeddings: bool = False,
        trainable_rows: int | None = None,
        grad_clip: GradClip | None = None,
        grad_clip_max: float = 1.0,
        optimizer: OptimizerCallable = torch.optim.Adam,
        scheduler: LRSchedulerCallable | None = None,
        pretrained: torch.Tensor | None = None,
        vocab: list[str] | None = None,
    ):
        super().__init__(optimizer, scheduler, vocab, grad_clip, grad_clip_max)
        if pretrained is not None:
            if embedding_dim not in (None, pretrained.shape[1]):
                raise ValueError(f"embedding_dim={embedding_dim} but the vectors have {pretrained.shape[1]}")
            embedding_dim = pretrained.shape[1]
        self.save_hyperparameters(ignore=NOT_HPARAMS)
        self.hparams.embedding_dim = embedding_dim or 100
        self.hparams.label_names = label_names or [str(i) for i in range(num_classes)]
        self.net = build_net(TextClassifierNet, dict(self.hparams), pretrained=pretrained)
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

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.net(ids, lengths)

    def transfer_batch_to_device(self, batch: dict, device: torch.device, dataloader_idx: int) -> dict:
        # pack_padded_sequence wants lengths on the CPU; moving them would force a sync per step
        return {k: v if k == "lengths" else v.to(device, non_blocking=True) for k, v in batch.items()}

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = F.cross_entropy(self(batch["ids"], batch["lengths"]), batch["labels"])
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["labels"]))
        return loss

    def _evaluate(self, batch: dict, stage: str) -> None:
        logits = self(batch["ids"], batch["lengths"])
        size = len(batch["labels"])
        self.log(f"{stage}_loss", F.cross_entropy(logits, batch["labels"]), batch_size=size, sync_dist=True)
        for name in ("acc", "f1"):
            metric = self.metrics[f"{stage}_{name}"]
            metric(logits, batch["labels"])
            self.log(f"{stage}_{name}", metric, prog_bar=name == "acc", batch_size=size)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: dict, batch_idx: int) -> dict[str, torch.Tensor]:
        probs = torch.softmax(self(batch["ids"], batch["lengths"]), dim=-1)
        probability, label_id = probs.max(dim=-1)
        return {"index": batch["index"], "label_id": label_id, "probability": probability}
