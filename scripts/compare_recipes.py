"""Train recipe variants with the same budget and seeds; tabulate them and plot the metric against minutes.

Run from the repository root (the recipes' data paths are relative to it):

    python scripts/compare_recipes.py --config configs/sst2_bilstm_glove.yaml --seeds 0 1 2 \\
        --variant recipe --variant "static model.init_args.static_vectors=true" --out runs/compare/sst2

Each ``--variant`` is a name and the ``KEY=VALUE`` overrides that make it (none: the recipe as it is); every
run is ``textrnn fit --config CONFIG --seed_everything=SEED`` with the ``--set`` overrides, then the variant's.
Runs go ``--parallel`` at a time, as separate processes, each with ``OMP_NUM_THREADS`` = ``--threads`` (default:
cores / parallel). A run that finished before (its ``result.json`` exists) is read, not retrained, so a
comparison can grow run by run.

Writes ``<out>/compare_recipes.md`` (per variant: each seed's best and last value, their means, minutes and
speed), ``<out>/compare_recipes.json`` and ``<out>/compare_recipes.png`` (the validation metric against minutes
of the run, one thin line per seed, the mean thick). Minutes at a validation point are the run's wall time
scaled by the share of its steps done there.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from compare_cells import key_value, machine

MONITORS = {"val_acc": max, "val_loss": min}  # the validation metric each task reads, and its better end


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--config", required=True, help="the recipe every variant starts from")
    add("--variant", action="append", default=[], help='"NAME KEY=VALUE ..." (repeat); default: the recipe')
    add("--seeds", nargs="+", type=int, default=[0, 1, 2])
    add("--set", action="append", type=key_value, default=[], metavar="KEY=VALUE", help="for every run")
    add("--parallel", type=int, default=1, help="runs at a time")
    add("--threads", type=int, help="OMP_NUM_THREADS of each run (default: cores / parallel)")
    add("--out", type=Path, default=Path("runs/compare_recipes"))
    add("--report", action="store_true", help="train nothing: report the runs that finished")
    add("--ylim", nargs=2, type=float, metavar=("LOW", "HIGH"), help="the chart's vertical range")
    return parser.parse_args(argv)


def variants(args: argparse.Namespace) -> dict[str, list[str]]:
    """Variant name -> its overrides, from ``--variant``."""
    parsed = [shlex.split(text) for text in args.variant or ["recipe"]]
    return {words[0]: [key_value(word) for word in words[1:]] for words in parsed}


def fit_command(args: argparse.Namespace, overrides: list[str], seed: int, run_dir: Path) -> list[str]:
    """The ``textrnn fit`` command of one run, logging CSV to ``run_dir``."""
    logger = {
        "class_path": "lightning.pytorch.loggers.CSVLogger",
        "init_args": {"save_dir": str(run_dir), "name": "", "version": ""},
    }
    keys = [
        *args.set,
        *overrides,
        f"trainer.logger={json.dumps(logger)}",
        f"trainer.default_root_dir={run_dir}",
    ]
    keys.append("trainer.enable_progress_bar=false")
    return [sys.executable, "-m", "textrnn", "fit", "--config", args.config, f"--seed_everything={seed}"] + [
        f"--{k}" for k in keys
    ]


def read_curve(rows: list[dict], monitor: str, minutes: float) -> list[tuple[float, float]]:
    """(minutes, value) at each validation in the rows of a run's ``metrics.csv``."""
    last_step = max(int(r["step"]) for r in rows) + 1
    points = [(int(r["step"]) + 1, float(r[monitor])) for r in rows if r.get(monitor)]
    return [(minutes * step / last_step, value) for step, value in points]


def train(args: argparse.Namespace, name: str, overrides: list[str], seed: int, threads: int) -> dict:
    """One run (or its saved result): its curve, best and last value, minutes and training speed."""
    run_dir = args.out / "runs" / name / f"seed_{seed}"
    done = run_dir / "result.json"
    if done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))
    run_dir.mkdir(parents=True, exist_ok=True)
    command = fit_command(args, overrides, seed, run_dir)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    with (run_dir / "fit.log").open("w", encoding="utf-8") as log:
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
    minutes = (time.perf_counter() - start) / 60
    with (run_dir / "metrics.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    monitor = next(m for m in MONITORS if m in rows[0])
    curve = read_curve(rows, monitor, minutes)
    speeds = [float(r["train_tokens_per_sec"]) for r in rows if r.get("train_tokens_per_sec")]
    values = [v for _, v in curve]
    result = {
        "variant": name, "seed": seed, "monitor": monitor, "overrides": overrides, "minutes": minutes,
        "best": MONITORS[monitor](values), "last": values[-1], "curve": curve,
        "tokens_per_sec": statistics.median(speeds) if speeds else None, "command": shlex.join(command[1:]),
    }  # fmt: skip
    done.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"{name} seed {seed}: best {result['best']:.4f}, last {result['last']:.4f}, {minutes:.1f} min")
    return result


def summary(runs: list[dict]) -> list[dict]:
    """Per variant, in the order given: each seed's best and last, their means, minutes and speed."""
    rows = []
    for name in dict.fromkeys(r["variant"] for r in runs):
        mine = sorted((r for r in runs if r["variant"] == name), key=lambda r: r["seed"])
        speeds = [r["tokens_per_sec"] for r in mine if r["tokens_per_sec"]]
        rows.append({
            "variant": name, "overrides": mine[0]["overrides"], "seeds": [r["seed"] for r in mine],
            "best": [r["best"] for r in mine], "last": [r["last"] for r in mine],
            "mean_best": statistics.mean(r["best"] for r in mine),
            "mean_last": statistics.mean(r["last"] for r in mine),
            "minutes": statistics.mean(r["minutes"] for r in mine),
            "tokens_per_sec": statistics.median(speeds) if speeds else None,
        })  # fmt: skip
    return rows


def markdown(meta: dict, rows: list[dict], monitor: str) -> str:
    """The report: machine, command, then one row per variant."""
    lines = ["# Recipes compared", "", f"Machine: {meta['machine']}.", "", f"Command: `{meta['command']}`", ""]
    lines += [f"Metric: `{monitor}`, best and last validation of each run.", ""]
    lines += ["| variant | overrides | best per seed | mean best | mean last | minutes | tokens/s |"]
    lines += ["|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        seeds = ", ".join(f"{s}: {v:.4f}" for s, v in zip(r["seeds"], r["best"], strict=True))
        speed = f"{r['tokens_per_sec']:,.0f}" if r["tokens_per_sec"] else ""
        changes = " ".join(f"`{o}`" for o in r["overrides"]) or "(the recipe)"
        lines.append(
            f"| {r['variant']} | {changes} | {seeds} | {r['mean_best']:.4f} | {r['mean_last']:.4f} "
            f"| {r['minutes']:.1f} | {speed} |"
        )
    return "\n".join(lines) + "\n"


def plot(runs: list[dict], path: Path, ylim: tuple[float, float] | None = None) -> tuple[float, float]:
    """The metric against minutes: per variant, a faint line per seed and a thick one for their mean.

    Returns the vertical range drawn: ``ylim``, where given (to show where close curves part), else all values.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for index, name in enumerate(dict.fromkeys(r["variant"] for r in runs)):
        curves = [r["curve"] for r in runs if r["variant"] == name]
        for curve in curves:
            ax.plot(*zip(*curve, strict=True), color=f"C{index}", lw=0.7, alpha=0.35)
        points = min(len(c) for c in curves)  # the mean over seeds, point by point
        mean = [[statistics.mean(c[i][k] for c in curves) for k in (0, 1)] for i in range(points)]
        label = name if len(curves) == 1 else f"{name} (mean of {len(curves)} seeds)"
        ax.plot(*zip(*mean, strict=True), color=f"C{index}", lw=2, label=label)
    monitor = runs[0]["monitor"]
    ax.set_xlabel("minutes of training (with validation)")
    ax.set_ylabel("dev accuracy ↑" if monitor == "val_acc" else "validation loss, nats/char ↓")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if ylim:
        ax.set_ylim(*ylim)
    drawn = ax.get_ylim()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return drawn


def main(argv: list[str] | None = None) -> str:
    """Train what is missing, then write the report and chart; return the markdown."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))  # a broken recipe fails before any run
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.parallel)
    jobs = [(name, o, seed) for name, o in variants(args).items() for seed in args.seeds]
    if args.report:
        found = [args.out / "runs" / name / f"seed_{seed}" / "result.json" for name, _, seed in jobs]
        runs = [json.loads(path.read_text(encoding="utf-8")) for path in found if path.is_file()]
    else:
        with ThreadPoolExecutor(args.parallel) as pool:
            runs = list(pool.map(lambda job: train(args, *job, threads), jobs))
    meta = {"machine": machine(), "command": shlex.join(["python", "scripts/compare_recipes.py", *argv])}
    rows = summary(runs)
    text = markdown(meta, rows, runs[0]["monitor"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compare_recipes.md").write_text(text, encoding="utf-8")
    report = {"meta": meta, "variants": rows, "runs": runs}
    (args.out / "compare_recipes.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    plot(runs, args.out / "compare_recipes.png", args.ylim)
    print("\n" + text)
    return text


if __name__ == "__main__":
    main()
