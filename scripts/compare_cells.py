"""Train every recurrent cell with the same budget on SST-2 and Tiny Shakespeare; tabulate and plot.

Run from the repository root (the recipes' data paths are relative to it):

    python scripts/compare_cells.py                                # CPU budget, both tasks, 7 variants
    python scripts/compare_cells.py --tasks char --cells nn.LSTM peephole_lstm --epochs 2
    python scripts/compare_cells.py --set trainer.accelerator=gpu \\
        --char model.init_args.hidden_size=512 --char data.init_args.seq_len=128 \\
        --char trainer.limit_train_batches=1.0 --png docs/images/compare_cells.png       # larger, on a GPU

Each variant trains from its task's recipe (``--config_sst2``, ``--config_char``) through
``textrnn.training.cli.make_cli`` with the same seed, epochs and overrides; only ``cell`` and ``cell_impl``
differ. A recipe's cosine schedule is shortened to end with the budget. Overrides are applied in this
order, later ones winning: the script's budget for the task, ``--set``, ``--sst2`` / ``--char``.

Writes ``<out>/compare_cells.md`` (one table per task), ``<out>/compare_cells.json`` and a bar chart
(``--png``, default ``<out>/compare_cells.png``); the runs' CSV logs go to ``<out>/runs``. Seconds per
epoch are the median of the package's ``train_epoch_sec`` over the epochs (training only, validation
left out).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import sys
import warnings
from pathlib import Path
from typing import NamedTuple

import torch
import yaml

from textrnn.nn.cells import CELL_TYPES
from textrnn.training.cli import make_cli

# variant label -> (cell, cell_impl)
VARIANTS: dict[str, tuple[str, str]] = {
    "nn.LSTM": ("lstm", "auto"),
    "nn.GRU": ("gru", "auto"),
    "nn.RNN": ("rnn_tanh", "auto"),
    **{name: (name, "equations") for name in CELL_TYPES},
}
DEFAULT_CELLS = ["nn.LSTM", "nn.GRU", *CELL_TYPES]


class Task(NamedTuple):
    """A task's recipe and the script's budget for it."""

    title: str
    config: str
    epochs: int
    budget: tuple[str, ...] = ()  # KEY=VALUE overrides that shrink the recipe


TASKS = {
    "sst2": Task("SST-2", "configs/sst2_bilstm_glove.yaml", 4),
    "char": Task(
        "Tiny Shakespeare",
        "configs/shakespeare_char_cpu.yaml",
        3,
        (
            "model.init_args.hidden_size=256",
            "data.init_args.seq_len=100",
            "trainer.limit_train_batches=100",
            "trainer.max_time=null",
            # the recipe's settings when this comparison was measured: float32 (equation cells too), 64 streams
            "trainer.precision=32-true",
            "data.init_args.batch_size=64",
            "model.init_args.dropout=0.1",
        ),
    ),
}
QUIET = ("trainer.enable_progress_bar=false", "trainer.enable_model_summary=false")


def key_value(text: str) -> str:
    """An argparse type: ``KEY=VALUE`` (a leading ``--`` is dropped)."""
    text = text.removeprefix("--")
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return text


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS), metavar="TASK", help="sst2, char")
    names = ", ".join(VARIANTS)
    add("--cells", nargs="+", choices=list(VARIANTS), default=DEFAULT_CELLS, metavar="VARIANT", help=names)
    add("--epochs", type=int, help="epochs for every task (default: sst2 4, char 3)")
    add("--seed_everything", type=int, default=0, help="the same seed for every run")
    add("--config_sst2", default=TASKS["sst2"].config)
    add("--config_char", default=TASKS["char"].config)
    add("--set", action="append", type=key_value, default=[], metavar="KEY=VALUE", help="for both tasks")
    add("--sst2", action="append", type=key_value, default=[], metavar="KEY=VALUE", help="for SST-2 only")
    add("--char", action="append", type=key_value, default=[], metavar="KEY=VALUE", help="for char only")
    add("--out", type=Path, default=Path("runs/compare_cells"), help="reports and run logs")
    add("--png", type=Path, help="bar chart (default: <out>/compare_cells.png)")
    add("--keep_checkpoints", action="store_true", help="keep each run's .ckpt files")
    return parser.parse_args(argv)


def budget(args: argparse.Namespace, task: str) -> list[str]:
    """Every override but the cell: the same for all variants of ``task``, as ``--KEY=VALUE``."""
    config, epochs = getattr(args, f"config_{task}"), args.epochs or TASKS[task].epochs
    keys = [*TASKS[task].budget, f"trainer.max_epochs={epochs}", *QUIET]
    scheduler = yaml.safe_load(Path(config).read_text())["model"].get("init_args", {}).get("scheduler")
    init = scheduler.get("init_args", {}) if isinstance(scheduler, dict) else {}
    if "T_max" in init:
        keys.append(f"model.init_args.scheduler.init_args.T_max={epochs}")  # the cosine ends with the budget
    if init.get("total_steps") == "max_time":  # the cosine ends with the epochs instead of the clock
        keys.append("model.init_args.scheduler.init_args.total_steps=null")
    keys += [*args.set, *getattr(args, task)]
    return ["--config", config, f"--seed_everything={args.seed_everything}", *(f"--{k}" for k in keys)]


def cli_args(args: argparse.Namespace, task: str, variant: str, run_dir: Path) -> list[str]:
    """``textrnn fit`` arguments for one run, logging CSV to ``run_dir``."""
    cell, impl = VARIANTS[variant]
    logger = {
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": str(run_dir.parent.parent), "name": task, "version": variant},
    }
    return [
        "fit",
        *budget(args, task),
        f"--trainer.logger={json.dumps(logger)}",
        f"--trainer.default_root_dir={run_dir}",
        f"--model.init_args.cell={cell}",
        f"--model.init_args.cell_impl={impl}",
    ]


def epoch_seconds(log_dir: Path) -> list[float]:
    """Each epoch's ``train_epoch_sec`` from the run's CSV log."""
    with open(log_dir / "metrics.csv", newline="") as f:
        return [float(row["train_epoch_sec"]) for row in csv.DictReader(f) if row.get("train_epoch_sec")]


def count(module: torch.nn.Module) -> int:
    """Trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def scores(cli) -> dict[str, float]:
    """The best (from the best-checkpoint callback) and last validation metric of a fitted CLI."""
    monitor = cli.trainer.checkpoint_callback.monitor
    best = float(cli.trainer.checkpoint_callback.best_model_score)
    last = float(cli.trainer.callback_metrics[monitor])
    if monitor == "val_acc":
        return {"best_val_acc": best, "last_val_acc": last}
    return {"best_val_loss": best, "best_val_bpc": best / math.log(2), "last_val_loss": last}


def train(args: argparse.Namespace, task: str, variant: str) -> dict:
    """Fit one variant on one task; its row of results."""
    run_dir = args.out / "runs" / task / variant
    shutil.rmtree(run_dir, ignore_errors=True)  # a rerun starts from an empty log
    print(f"\n=== {task} / {variant} ===", flush=True)
    cli = make_cli(cli_args(args, task, variant, run_dir))
    seconds = epoch_seconds(Path(cli.trainer.logger.log_dir))
    hparams = cli.model.hparams
    if not args.keep_checkpoints:
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return {
        "task": task,
        "variant": variant,
        "cell": hparams.cell,
        "cell_impl": hparams.cell_impl,
        **scores(cli),
        "params": count(cli.model),
        "encoder_params": count(cli.model.net.encoder),
        "hidden_size": hparams.hidden_size,
        "num_layers": hparams.num_layers,
        "directions": cli.model.net.encoder.num_directions,
        "epochs": cli.trainer.current_epoch,
        "sec_per_epoch": statistics.median(seconds),
        "epoch_sec": seconds,
        "device": type(cli.trainer.accelerator).__name__.removesuffix("Accelerator").lower(),
    }


def machine() -> str:
    """One line about the hardware and software the timings come from."""
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").is_file():
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        cpu = names[0] if names else cpu
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores{gpu}; "
        f"python {platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )


COLUMNS = {  # monitor-specific columns: (header, row key, format)
    "val_acc": [("best val acc", "best_val_acc", "{:.4f}"), ("last val acc", "last_val_acc", "{:.4f}")],
    "val_loss": [
        ("best val loss (nats/char)", "best_val_loss", "{:.4f}"),
        ("best val bpc", "best_val_bpc", "{:.4f}"),
    ],
}


def table(rows: list[dict]) -> list[str]:
    """Markdown table lines for the rows of one task."""
    metric = COLUMNS["val_acc" if "best_val_acc" in rows[0] else "val_loss"]
    heads = ["variant", "cell", "implementation", *(h for h, _, _ in metric)]
    heads += ["params", "encoder params", "sec/epoch"]
    lines = ["| " + " | ".join(heads) + " |", "|---|---|---|" + "---:|" * (len(heads) - 3)]
    for r in rows:
        cells = [r["variant"], r["cell"], r["cell_impl"], *(f.format(r[k]) for _, k, f in metric)]
        cells += [f"{r['params']:,}", f"{r['encoder_params']:,}", f"{r['sec_per_epoch']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(meta: dict, rows: list[dict]) -> str:
    """The report: a header on machine, command and budget, then one table per task."""
    lines = ["# Recurrent cells compared", "", f"Machine: {meta['machine']}.", ""]
    lines += [f"Command: `{meta['command']}`", ""]
    for task, overrides in meta["budget"].items():
        done = [r for r in rows if r["task"] == task]
        if not done:
            continue
        lines += [f"## {TASKS[task].title}", "", f"Budget (every variant): `{shlex.join(overrides)}`", ""]
        lines += [*table(done), ""]
    lines.append(
        "Params: trainable parameters of the whole model; encoder params: the recurrent layers alone. "
        "sec/epoch: median wall seconds per training epoch (validation left out)."
    )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """One bar panel per task (SST-2 dev accuracy, char validation bits/char), the value on each bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        done = [r for r in rows if r["task"] == task]
        key, label = ("best_val_acc", "dev accuracy (best epoch) ↑")
        if "best_val_acc" not in done[0]:
            key, label = ("best_val_bpc", "validation bits per char (best) ↓")
        colors = ["tab:blue" if r["cell_impl"] == "auto" else "tab:orange" for r in done]
        bars = ax.bar([r["variant"] for r in done], [r[key] for r in done], color=colors)
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
        ax.set_title(f"{TASKS[task].title}, {done[0]['epochs']} epochs")
        ax.set_ylabel(label)
        ax.tick_params(axis="x", labelrotation=30)
        ax.margins(y=0.12)
    fig.suptitle("Blue: PyTorch fused kernels; orange: cells from their equations", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(args: argparse.Namespace, meta: dict, rows: list[dict]) -> str:
    """Write the markdown and JSON reports (after every run, so a long comparison keeps what it did)."""
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(meta, rows)
    (args.out / "compare_cells.md").write_text(text, encoding="utf-8")
    report = json.dumps({"meta": meta, "rows": rows}, indent=2)
    (args.out / "compare_cells.json").write_text(report + "\n", encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> str:
    """Train, report and plot; return the markdown report."""
    argv = sys.argv[1:] if argv is None else argv
    # make_cli gets its own args: LightningCLI's warning that sys.argv holds others is no news here
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    args = parse_args(argv)
    meta = {
        "machine": machine(),
        "command": shlex.join(["python", "scripts/compare_cells.py", *argv]),
        "budget": {task: budget(args, task) for task in args.tasks},
    }
    for task, overrides in meta["budget"].items():
        print(f"{task} budget: {shlex.join(overrides)}")
    rows: list[dict] = []
    for task in args.tasks:
        for variant in args.cells:
            rows.append(train(args, task, variant))
            text = write(args, meta, rows)
    plot(rows, args.png or args.out / "compare_cells.png")
    print("\n" + text)
    return text


if __name__ == "__main__":
    main()
