"""``textrnn plot``: a run's training curves, and a classifier's confusion matrix on one split of its data.

A run folder is what Lightning's CSVLogger writes: ``metrics.csv`` (``metrics.N.csv`` too, the rows of
the earlier parts of a run resumed with ``--ckpt_path last``), ``config.yaml`` and ``checkpoints/``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from textrnn.atomic import atomic_file
from textrnn.errors import UserError
from textrnn.inference.classify import load_classifier
from textrnn.tools.figures import pyplot

SMOOTH = 0.04  # the train curves' moving average spans this share of their points
LOWER_IS_BETTER = ("loss", "bpc", "ppl")
STAGES = {"train": "fit", "validation": "validate", "test": "test"}  # split -> the stage that reads it
BEST = "val_acc"  # names the best checkpoints of a classifier (TextClassifier.monitor); higher is better


def _metric_files(run: Path) -> list[Path]:
    """``metrics.1.csv``, ``metrics.2.csv`` ... (earlier parts of a resumed run), then ``metrics.csv``."""
    parts = {
        int(m[1]): p for p in run.glob("metrics.*.csv") if (m := re.fullmatch(r"metrics\.(\d+)\.csv", p.name))
    }
    latest = run / "metrics.csv"
    return [parts[i] for i in sorted(parts)] + ([latest] if latest.is_file() else [])


def find_run(path: str | Path) -> Path:
    """The run folder: ``path`` itself if it holds metrics, else its newest ``version_N`` training run.

    A training run is one with ``config.yaml`` (``textrnn test`` and the like save none); newest is the
    one whose metrics were written last, so a resumed older version counts as new.
    """
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: no such directory")
    if _metric_files(path):
        return path
    runs = [p.parent for p in path.glob("version_*/config.yaml") if _metric_files(p.parent)]
    if not runs:
        raise UserError(f"{path}: no metrics.csv, here or in a version_N folder (a CSVLogger run is needed)")
    return max(runs, key=lambda run: _metric_files(run)[-1].stat().st_mtime)


def read_metrics(run: Path) -> pd.DataFrame:
    """Every row the run logged, those of a resumed run's earlier parts first."""
    try:
        metrics = pd.concat([pd.read_csv(f) for f in _metric_files(run)], ignore_index=True)
    except (ValueError, pd.errors.ParserError) as err:  # no files, or one that is not a table
        raise UserError(f"{run}: no readable metrics.csv ({str(err).splitlines()[0]})") from None
    if "step" not in metrics.columns:
        raise UserError(f"{run}: metrics.csv has no 'step' column; is it a Lightning CSVLogger file?")
    return metrics


def series(metrics: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows logging ``column`` (its step, epoch and value) in step order; a step logged again by a
    resumed run keeps its latest value."""
    rows = metrics[[c for c in ("step", "epoch", column) if c in metrics.columns]].dropna(subset=[column])
    return rows.drop_duplicates("step", keep="last").sort_values("step")


def panels(metrics: pd.DataFrame) -> dict[str, tuple[str | None, str | None]]:
    """Panel name -> its (train, validation) columns: ``loss``, each other validation metric, ``grad_norm``."""
    logged = {c for c in metrics.columns if metrics[c].notna().any()}
    wanted = {"loss": ("train_loss", "val_loss")}
    wanted |= {c: (None, c) for c in metrics.columns if c.startswith("val_") and c != "val_loss"}
    wanted["grad_norm"] = ("grad_norm", None)
    found = {name: tuple(c if c in logged else None for c in pair) for name, pair in wanted.items()}
    return {name: pair for name, pair in found.items() if pair != (None, None)}


def smoothed(values: np.ndarray, fraction: float) -> np.ndarray:
    """A centred moving average over ``fraction`` of the points (at least 3; shorter at the ends): unlike an
    exponential average it does not lag behind the raw curve."""
    window = max(3, round(len(values) * fraction)) | 1
    return pd.Series(values).rolling(window, center=True, min_periods=1).mean().to_numpy()


def _draw_panel(ax, metrics: pd.DataFrame, train: str | None, val: str | None, smooth: float) -> None:
    """Train values as lines (raw and smoothed), validation values as markers, the legend beside."""
    if train:
        rows = series(metrics, train)
        if smooth:
            ax.plot(rows["step"], rows[train], color="C0", alpha=0.25, lw=0.8, label="train")
        line = smoothed(rows[train].to_numpy(), smooth) if smooth else rows[train]
        ax.plot(rows["step"], line, color="C0", lw=1.5, label="train, smoothed" if smooth else "train")
    if val:
        rows = series(metrics, val)
        best = rows.loc[rows[val].idxmin() if val.endswith(LOWER_IS_BETTER) else rows[val].idxmax()]
        where = f"epoch {int(best['epoch'])}" if "epoch" in rows else f"step {int(best['step'])}"
        label = f"validation (best {best[val]:.4g}, {where})"
        ax.plot(rows["step"], rows[val], "o-", color="C1", ms=3.5, lw=1, label=label)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)  # outside: over no curve
    ax.grid(axis="y", alpha=0.25)  # vertical lines are for epochs


def _epoch_axis(ax, metrics: pd.DataFrame) -> None:
    """Faint lines between epochs (at an epoch's last logged step: its epoch-end rows log there), and each
    epoch's number, as in checkpoint names, above its span on top of ``ax``."""
    if "epoch" not in metrics.columns:
        return
    ends = metrics.dropna(subset=["epoch"]).groupby("epoch")["step"].max()
    starts = np.concatenate([[0], ends.to_numpy()[:-1]])
    for axis in ax.figure.axes:
        for start in starts[1:]:
            axis.axvline(start, color="0.5", lw=0.6, alpha=0.35, zorder=0)
    every = -(-len(ends) // 20)  # at most 20 numbers, so that they never overlap
    top = ax.secondary_xaxis("top")
    middles = (starts + ends.to_numpy()) / 2
    top.set_xticks(middles[::every], [str(int(e)) for e in ends.index[::every]], fontsize=8)
    top.tick_params(length=0)
    top.set_xlabel("epoch")


def draw_curves(metrics: pd.DataFrame, title: str, smooth: float = SMOOTH):
    """The training curves as a figure: one panel per metric (its y label is the panel's name), steps across.

    Train curves are drawn raw (faint) and smoothed (see :func:`smoothed`); validation as markers.
    """
    found = panels(metrics)
    if not found:
        raise UserError(f"{title}: no loss or validation metric was logged")
    plt = pyplot()
    size = (11, 1.3 + 2.2 * len(found))
    fig, axes = plt.subplots(len(found), 1, figsize=size, sharex=True, squeeze=False, layout="constrained")
    for ax, (name, (train, val)) in zip(axes[:, 0], found.items()):
        _draw_panel(ax, metrics, train, val, smooth)
        ax.set_ylabel(name)
    axes[-1, 0].set_xlabel("step")
    _epoch_axis(axes[0, 0], metrics)
    fig.suptitle(title, fontsize=11)
    return fig


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` as a PNG that appears whole or not at all (a temporary name first), then free it."""
    path = Path(path)
    try:
        if not path.parent.is_dir():
            raise UserError(f"{path}: no such directory {path.parent}")
        with atomic_file(path) as tmp:
            fig.savefig(tmp, format="png", dpi=120)
    finally:
        pyplot().close(fig)
    return path


def plot_run(run_dir: str | Path, out: str | Path | None = None, smooth: float = SMOOTH) -> Path:
    """Draw a run's training curves into ``out`` (default ``RUN/curves.png``) and return its path."""
    run = find_run(run_dir)
    return save_figure(draw_curves(read_metrics(run), str(run), smooth), out or run / "curves.png")


def best_checkpoint(run: Path) -> Path:
    """The run's checkpoint with the best ``val_acc`` in its name (how a classifier's best are named),
    else ``last.ckpt``."""
    scores = {}
    for path in sorted((run / "checkpoints").glob("*.ckpt")):
        if match := re.search(rf"{BEST}=(\d+(?:\.\d+)?)", path.name):
            scores[path] = float(match[1])
    if scores:
        return max(scores, key=scores.get)
    if (last := run / "checkpoints" / "last.ckpt").is_file():
        return last
    raise UserError(f"{run / 'checkpoints'}: no checkpoint; name one with --checkpoint")


def classifier_data(run: Path) -> dict:
    """The ``init_args`` of the run's data module (``config.yaml``); a UserError unless a classifier's."""
    config = run / "config.yaml"
    if not config.is_file():
        raise UserError(f"{run}: no config.yaml, so no data to score")
    data = yaml.safe_load(config.read_text(encoding="utf-8")).get("data") or {}
    kind = str(data.get("class_path", "")).rsplit(".", 1)[-1]
    if kind != "TextClassificationData":
        raise UserError(f"--confusion: {run} is not a classifier's run (its data module: {kind or 'none'})")
    return dict(data.get("init_args") or {})


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (C, C): row = true class, column = predicted class."""
    flat = np.asarray(true) * num_classes + np.asarray(predicted)
    return np.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


@torch.inference_mode()
def split_confusion(
    run: Path, split: str, checkpoint: str | Path | None = None
) -> tuple[np.ndarray, list[str]]:
    """Confusion counts of a checkpoint (default: the run's best) on a split of the run's data, and the
    class names; the split is read and encoded by the run's data module, with the checkpoint's vocabulary."""
    from textrnn.training.text_data import (
        TextClassificationData,  # imports Lightning: only this part of the tool needs it
    )

    args = classifier_data(run)
    checkpoint = checkpoint or best_checkpoint(run)
    # the checkpoint holds the vocabulary and the embedding weights: no vectors to read
    data = TextClassificationData(**{**args, "embeddings": None, "vocab_from": str(checkpoint)})
    data.setup(STAGES[split])
    if split not in data.splits:
        raise UserError(f"--confusion {split}: the run's config.yaml names no {split} file (data.{split})")
    classifier = load_classifier(checkpoint)
    loader = {"train": data.train_dataloader, "validation": data.val_dataloader, "test": data.test_dataloader}
    true, predicted = [], []
    for batch in loader[split]():
        true.append(batch["labels"])
        predicted.append(classifier.net(batch["ids"].to(classifier.device), batch["lengths"]).argmax(-1).cpu())
    names = classifier.label_names
    return confusion_matrix(torch.cat(true).numpy(), torch.cat(predicted).numpy(), len(names)), names


def format_confusion(matrix: np.ndarray, names: list[str]) -> str:
    """The matrix as a text table (rows: true, columns: predicted) and the accuracy."""
    corner = "true \\ predicted"
    first = max(len(corner), *map(len, names)) + 2
    width = max(*map(len, names), len(str(matrix.max()))) + 2
    lines = [corner.ljust(first) + "".join(n.rjust(width) for n in names)]
    lines += [n.ljust(first) + "".join(str(c).rjust(width) for c in row) for n, row in zip(names, matrix)]
    correct, total = int(np.trace(matrix)), int(matrix.sum())
    return "\n".join([*lines, f"accuracy {correct / max(total, 1):.4f} ({correct}/{total})"])


def draw_confusion(matrix: np.ndarray, names: list[str], title: str):
    """The confusion matrix as a figure: counts in the cells, coloured by their share of the true class."""
    plt = pyplot()
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    side = 2.6 + 0.7 * len(names)
    fig, ax = plt.subplots(figsize=(side + 1.2, side), layout="constrained")
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        colour = "white" if share[i, j] > 0.6 else "black"
        ax.text(j, i, f"{count}\n{share[i, j]:.1%}", ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=0 if len(names) * max(map(len, names)) <= 30 else 30)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(image, ax=ax, label="share of the true class", shrink=0.8)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"{title}\naccuracy {accuracy:.4f}, {matrix.sum()} texts", fontsize=10)
    return fig


def main(argv: list[str] | None = None) -> None:
    """``textrnn plot``: a run's training curves (PNG), and optionally a classifier's confusion matrix."""
    parser = argparse.ArgumentParser(prog="textrnn plot", description=main.__doc__)
    parser.add_argument(
        "run_dir", help="a run folder (runs/NAME/version_N), or runs/NAME: its newest training run"
    )
    parser.add_argument("--out", help="the curves' PNG (default: RUN_DIR/curves.png)")
    parser.add_argument(
        "--smooth",
        type=float,
        default=SMOOTH,
        help="train curves' moving average, as a share of their points (default %(default)s; 0: none)",
    )
    parser.add_argument("--confusion", choices=list(STAGES), help="also score a classifier on this split")
    parser.add_argument("--checkpoint", help="the checkpoint --confusion scores (default: the run's best)")
    parser.add_argument("--confusion-out", help="its PNG (default: RUN_DIR/confusion_SPLIT.png)")
    args = parser.parse_args(argv)
    try:
        if not 0 <= args.smooth < 1:
            raise UserError(f"--smooth {args.smooth}: give a share of the points, from 0 to below 1")
        run = find_run(args.run_dir)
        # scored first, so that a mistake in --confusion is reported before anything is written
        matrix, names = split_confusion(run, args.confusion, args.checkpoint) if args.confusion else (None, [])
        print(f"training curves: {plot_run(run, args.out, args.smooth)}")
        if matrix is not None:
            out = args.confusion_out or run / f"confusion_{args.confusion}.png"
            save_figure(draw_confusion(matrix, names, f"{run}: {args.confusion}"), out)
            print(format_confusion(matrix, names))
            print(f"confusion matrix: {out}")
    except UserError as err:
        sys.exit(f"textrnn plot: error: {err}")
