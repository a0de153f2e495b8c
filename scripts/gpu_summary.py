"""Summarise a run of scripts/gpu_check.sh into one JSON file, ``<out>/summary.json``, and print it short.

    python scripts/gpu_summary.py --out runs/gpu_check --fit-dir /tmp/gpu_check.X/fit [--dry-run]

Reads what the steps left in ``--out``: ``steps.tsv`` (name, status, exit code, seconds, timeout, log file;
one line per step, written by gpu_check.sh), ``tests.xml`` (pytest's JUnit report), ``test_gpu_report.json``
(what tests/test_gpu.py measured), ``benchmark/benchmark.json``, ``bare_lstm/bare_lstm.json``, ``fit.log``,
and the fit's ``metrics.csv`` under ``--fit-dir`` (copied into ``<out>/fit/``). Every key is always present
(null where a step did not run or left nothing), in a dry run too, so that CI can check the format. The
readers of each step's output are in scripts/gpu_readers.py.

Exit status: 0 when every selected step ran and (except in a dry run) every target is met; 1 when a step
failed, timed out or had no time left; 3 when the steps ran but a target was missed (or has no value although
its step ran). A step left out with ``--steps`` is ``not selected`` and its targets are not judged.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its readers sit beside it, also when imported
from gpu_readers import finite, read_bare, read_benchmark, read_fit, read_steps, read_tests  # noqa: E402

SCHEMA = 1
STEPS = ("prerequisites", "tests", "benchmark", "bare_lstm", "fit")
VAL_LOSS_TARGET = 1.45  # nats per character, Tiny Shakespeare, within the fit's time
THROUGHPUT_TARGET = 0.9  # textrnn training tokens/s over the bare recurrent module's, same shapes


def gpu_info(out: Path) -> dict:
    """The GPU's name and size from torch (None on a CPU-only machine), and nvidia-smi's line if kept."""
    info = {"name": None, "count": 0, "capability": None, "memory_gib": None, "nvidia_smi": None}
    smi = out / "nvidia-smi.txt"
    if smi.is_file():
        info["nvidia_smi"] = smi.read_text(errors="replace").strip() or None
    try:
        import torch
    except ImportError:
        return info
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info |= {"name": torch.cuda.get_device_name(0), "count": torch.cuda.device_count()}
        info |= {
            "capability": f"{props.major}.{props.minor}",
            "memory_gib": round(props.total_memory / 2**30, 1),
        }
    return info


def versions() -> dict:
    """Python's, torch's, CUDA's and cuDNN's versions and those of the packages the steps use."""

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    result = {"python": platform.python_version(), "torch": None, "cuda": None, "cudnn": None}
    try:
        import torch

        result |= {"torch": torch.__version__, "cuda": torch.version.cuda}
        result["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    except ImportError:
        pass
    for name in ("lightning", "onnxruntime", "textrnn"):
        result[name] = version(name)
    return result


def target(name: str, step: str, value: float | None, op: str, threshold: float, note: str = "") -> dict:
    """One target: ``value op threshold`` and whether it is met (None when there is no value)."""
    met = None if value is None else (value >= threshold if op == ">=" else value <= threshold)
    return {
        "name": name,
        "step": step,
        "value": value,
        "op": op,
        "threshold": threshold,
        "met": met,
        "note": note,
    }


def targets(bare: dict, fit: dict) -> list[dict]:
    """The issue's targets: throughput against the bare module (each precision measured), and the loss."""
    result = []
    for row in bare["rows"] or [{"precision": None, "ratio": None}]:
        name = f"training tokens/s vs bare recurrent module ({row['precision']})"
        result.append(
            target(name, "bare_lstm", row["ratio"], ">=", THROUGHPUT_TARGET, "scripts/bench_bare_lstm.py")
        )
    loss, limit = fit["best_val_loss"], fit["max_time_s"]
    within = fit["train_seconds"] is None or limit is None or fit["train_seconds"] <= limit + 1
    note = f"best validation loss of configs/shakespeare_char_lstm.yaml within {limit or '?'} s of training"
    name = "Tiny Shakespeare val loss (nats/char)"
    result.append(target(name, "fit", loss if within else None, "<=", VAL_LOSS_TARGET, note))
    return result


def summarise(args: argparse.Namespace) -> dict:
    """summary.json's content, with the exit code the module docstring describes."""
    out = args.out
    steps = read_steps(out, STEPS)
    fit = read_fit(out, args.fit_dir, args.fit_max_time)
    bare = read_bare(out)
    summary = {
        "schema": SCHEMA,
        "dry_run": args.dry_run,
        "ok": None,
        "exit_code": None,
        "started": args.started,
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": finite(args.wall),
        "budget_seconds": args.budget,
        "gpu": gpu_info(out),
        "versions": versions(),
        "steps": steps,
        "tests": read_tests(out),
        "benchmark": read_benchmark(out),
        "bare_lstm": bare,
        "fit": fit,
        "targets": targets(bare, fit),
    }
    steps_ok = all(s["status"] in ("ok", "not selected") for s in steps.values())
    judged = [t for t in summary["targets"] if steps[t["step"]]["status"] == "ok"]
    targets_met = all(t["met"] is True for t in judged)
    code = 1 if not steps_ok else 0 if (targets_met or args.dry_run) else 3
    summary["ok"], summary["exit_code"] = code == 0, code
    return summary


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for the short report: thousands without decimals, a dash for None."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}f}"


def report(summary: dict) -> str:
    """The summary in a few lines for the terminal: steps, tests, speeds, the fit and the targets."""
    gpu = summary["gpu"]["name"] or "no GPU"
    head = "DRY RUN (CPU stand-ins; targets not judged)" if summary["dry_run"] else gpu
    lines = [f"gpu_check: {head}; torch {summary['versions']['torch']}, CUDA {summary['versions']['cuda']}"]
    for name, step in summary["steps"].items():
        lines.append(f"  {name:<14} {step['status']:<8} {fmt(step['seconds'], 1):>7} s")
    t = summary["tests"]
    lines.append(
        f"  tests: {t['passed']} passed, {t['failed']} failed, {t['errors']} errors, {t['skipped']} skipped"
    )
    lines += [f"    FAILED {f}" for f in t["failures"][:10]]
    for g in summary["benchmark"]["generation"]:
        lines.append(
            f"  generation batch {g['batch']}: {fmt(g['chars_per_s'])} chars/s (ratio {fmt(g['ratio'])})"
        )
    for row in summary["benchmark"]["training"]:
        lines.append(
            f"  Lightning vs plain loop: ratio {fmt(row['ratio'])} ({row['measurement'].split(':')[0]})"
        )
    fit = summary["fit"]
    lines.append(
        f"  fit: best val_loss {fmt(fit['best_val_loss'])} after {fit['epochs']} epochs, "
        f"{fit['steps']} steps, {fmt(fit['train_seconds'], 1)} s training, stopped by {fit['stopped_by']}"
    )
    for tgt in summary["targets"]:
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[tgt["met"]]
        lines.append(f"  target {tgt['name']}: {fmt(tgt['value'])} {tgt['op']} {tgt['threshold']} -> {verdict}")
    lines.append(f"  exit {summary['exit_code']}; wall {fmt(summary['wall_seconds'], 1)} s")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line, as scripts/gpu_check.sh writes it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the folder gpu_check.sh wrote into")
    parser.add_argument("--fit-dir", type=Path, help="the fit's logger folder (its metrics.csv)")
    parser.add_argument("--fit-max-time", type=float, help="the fit's time limit, seconds")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--started", help="when the check started (ISO 8601)")
    parser.add_argument("--wall", type=float, help="seconds the check has run so far")
    parser.add_argument("--budget", type=float, help="the check's time budget, seconds")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Write ``<out>/summary.json``, print the short report; return the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    summary = summarise(args)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(report(summary))
    return summary["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
