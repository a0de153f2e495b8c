"""The ``textrnn`` command: LightningCLI with the data module's facts linked into the model."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from textrnn.errors import UserError
from textrnn.inference.loading import checkpoint_record, load_checkpoint
from textrnn.inference.registry import get_task
from textrnn.training.callbacks import PredictionWriter
from textrnn.training.saving import use_atomic_io

# data module attribute -> model argument; the user never types these
LINKS = {
    "vocab_size": "vocab_size",
    "vocab_tokens": "vocab",
    "tokenizer": "tokenizer",
    "num_classes": "num_classes",
    "label_names": "label_names",
    "embedding_matrix": "pretrained",
    "trainable_rows": "trainable_rows",
}


def silence_known_noise() -> None:
    """Hide messages that tell a user nothing actionable, by exact message, not wholesale."""
    for message in (
        r"The '\w+_dataloader' does not have many workers",  # 0 workers is our fastest setting
        r"The number of training batches \(\d+\) is smaller than the logging interval",
        r"Checkpoint directory .* exists and is not empty",
        r".*litlogger.*|.*litmodels.*",
        r"You have overridden `transfer_batch_to_device`",  # we keep packing lengths on the CPU
        r"Your `IterableDataset` has `__len__` defined",  # character streams use no worker processes
        r"The dirpath has changed from",  # evaluating a checkpoint elsewhere than it was trained
        r"`isinstance\(treespec, LeafSpec\)` is deprecated",  # Lightning vs. newer torch, not ours
    ):
        warnings.filterwarnings("ignore", message=message)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).addFilter(_drop_tips)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("textrnn").setLevel(logging.INFO)


def _drop_tips(record: logging.LogRecord) -> bool:
    text = record.getMessage()
    return not (
        text.startswith(("💡 Tip", "TPU available", "HPU available", "The following callbacks returned"))
        or "litlogger" in text
    )


class TextRNNCLI(LightningCLI):
    """LightningCLI that links data facts into the model and reuses a checkpoint's vocabulary."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        for source, target in LINKS.items():
            parser.link_arguments(f"data.{source}", f"model.init_args.{target}", apply_on="instantiate")
        parser.add_argument("--predictions", default="predictions.tsv", help="predict: the output file")
        parser.add_argument(
            "--tensorboard",
            type=bool,
            default=False,
            help="also log to TensorBoard, in the CSV logger's run folder (pip install 'textrnn[tensorboard]')",
        )

    def _parse_ckpt_path(self) -> None:
        """Take the architecture from ``--ckpt_path`` (as LightningCLI does), minus what the data links.

        Overrides LightningCLI's version, which cannot tell linked arguments from the model's own.
        """
        subcommand = self.config.get("subcommand")
        ckpt_path = subcommand and self.config[subcommand].get("ckpt_path")
        if not ckpt_path or ckpt_path in ("last", "best", "hpc", "registry"):
            return
        checkpoint = load_checkpoint(ckpt_path)
        hparams = checkpoint.get("hyper_parameters", {})
        init_args = {k: v for k, v in hparams.items() if k not in LINKS.values()}
        task = get_task(checkpoint_record(checkpoint, ckpt_path).task, ckpt_path)
        model = {"class_path": task.class_path("module"), "init_args": init_args}
        self.config = self.parser.parse_object({subcommand: {"model": model}}, self.config)

    def instantiate_classes(self) -> None:
        """Build data, model and trainer; a constructor's ValueError is the user's setting, so one line."""
        try:
            super().instantiate_classes()
        except ValueError as err:
            root = err
            while root.__cause__ is not None:  # jsonargparse wraps the constructor's error, values and all
                root = root.__cause__
            if root is err or not isinstance(root, ValueError):
                raise
            raise UserError(str(root)) from None

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """The Trainer, saving checkpoints atomically unless the user chose a checkpoint plugin, and logging
        to TensorBoard too with ``tensorboard: true``."""
        trainer = super().instantiate_trainer(**kwargs)
        use_atomic_io(trainer.strategy)
        _warn_of_emulated_bf16(trainer)
        if self._get(self.config_init, "tensorboard"):
            _add_tensorboard(trainer)
        return trainer

    def before_instantiate_classes(self) -> None:
        if self.subcommand in (None, "fit"):  # None: built with run=False
            return
        self.save_config_callback = None  # the recipe is worth keeping for training runs, not evaluations
        config = self.config[self.subcommand]
        # evaluation and prediction use the checkpoint's vocabulary, not one rebuilt from train
        if config.get("ckpt_path") and not config.data.init_args.get("vocab_from"):
            config.data.init_args.vocab_from = config.ckpt_path

    def before_fit(self) -> None:
        if self.config_init.fit.get("ckpt_path") == "last":
            _continue_last_version(self.trainer.logger)

    def before_predict(self) -> None:
        self.trainer.callbacks.append(PredictionWriter(self.config.predict.predictions))

    def after_fit(self) -> None:
        for cb in self.trainer.checkpoint_callbacks:
            if isinstance(cb, ModelCheckpoint) and cb.monitor and cb.best_model_path:
                score = cb.best_model_score
                print(f"best checkpoint: {cb.best_model_path} ({cb.monitor}={float(score):.4f})")


def _warn_of_emulated_bf16(trainer: Trainer) -> None:
    """Say so when bf16 is asked of a CPU without bfloat16 instructions: there it can be slower than fp32."""
    native = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)()  # AVX512-BF16 (AMX CPUs have it)
    if "bf16" in str(trainer.precision) and isinstance(trainer.accelerator, CPUAccelerator) and not native:
        logging.getLogger("textrnn").warning(
            "precision %s on a CPU without bfloat16 instructions (AVX512-BF16): it may train slower than "
            "--trainer.precision=32-true",
            trainer.precision,
        )


class TensorBoardBeside(TensorBoardLogger):
    """TensorBoard event files in another logger's run folder, in whichever version that logger settles on:
    a new one, or the one ``--ckpt_path last`` continues (see ``_continue_last_version``)."""

    def __init__(self, partner: Logger):
        super().__init__(partner.save_dir, name=partner.name, default_hp_metric=False)
        self.partner = partner

    @property
    def version(self) -> int | str:
        """The partner's version, asked when first needed: after ``--ckpt_path last`` may have set it."""
        return self.partner.version


def _add_tensorboard(trainer: Trainer) -> None:
    """Add a TensorBoard logger after the trainer's first one (which stays ``trainer.logger``), unless the
    recipe names one itself."""
    if any(isinstance(logger, TensorBoardLogger) for logger in trainer.loggers):
        return
    if trainer.logger is None or trainer.logger.save_dir is None:
        raise UserError("tensorboard: true writes into trainer.logger's run folder, and there is none")
    try:
        tensorboard = TensorBoardBeside(trainer.logger)
    except ModuleNotFoundError:  # Lightning's message asks for tensorboard or tensorboardX
        raise UserError("tensorboard: true needs TensorBoard: pip install 'textrnn[tensorboard]'") from None
    trainer.loggers = [*trainer.loggers, tensorboard]


def _continue_last_version(logger: object) -> None:
    """Point an auto-versioned logger (CSV, TensorBoard) at the newest run that has a ``last`` checkpoint.

    Lightning looks for ``last.ckpt`` in the logger's folder, and a fresh process would pick a new,
    empty ``version_N``: ``--ckpt_path last`` would then start from scratch with only a warning.
    """
    if getattr(logger, "_version", 0) is not None or not hasattr(logger, "root_dir"):
        return  # no logger, or a version chosen by the user (or already fixed)
    found = Path(logger.root_dir).glob("version_*/checkpoints/last*.ckpt")
    newest = max(found, key=lambda p: p.stat().st_mtime, default=None)
    if newest is None or not newest.parts[-3].removeprefix("version_").isdigit():
        return
    logger._version = int(newest.parts[-3].removeprefix("version_"))  # its logs continue there too
    metrics = Path(logger.log_dir) / "metrics.csv"
    if isinstance(logger, CSVLogger) and metrics.is_file():  # CSVLogger would delete the earlier rows
        kept = next(p for i in range(1, 10**6) if not (p := metrics.with_name(f"metrics.{i}.csv")).exists())
        metrics.rename(kept)


def make_cli(args: list[str] | None = None, run: bool = True) -> TextRNNCLI:
    """Parse ``args`` (default: ``sys.argv``) and run the subcommand; the CLI keeps trainer, model, data.

    With ``run=False`` the arguments name no subcommand and the CLI only builds the three objects.
    """
    silence_known_noise()
    torch.set_float32_matmul_precision("high")
    return TextRNNCLI(
        save_config_kwargs={"overwrite": True},
        trainer_defaults={
            "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "runs"}},
            # the data modules shard their own batches across processes (a length-bucketing sampler and
            # contiguous character streams), which Lightning's DistributedSampler would break
            "use_distributed_sampler": False,
        },
        load_from_checkpoint_support=False,
        auto_configure_optimizers=False,
        run=run,
        args=args,
        parser_kwargs={
            "description": "Train and evaluate textrnn models from YAML recipes. "
            "Also: textrnn export | gates | models | plot | vectors (see textrnn TOOL --help)."
        },
    )


def run(args: list[str] | None = None) -> None:
    """Run a LightningCLI subcommand; a user's mistake ends the process with one line."""
    try:
        make_cli(args)  # None: LightningCLI reads sys.argv itself (passing it would draw a warning)
    except UserError as err:
        sys.exit(f"textrnn: error: {err}")
