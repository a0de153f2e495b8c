"""The readers of what each step of scripts/gpu_check.sh left in its output folder, for scripts/gpu_summary.py.

Each returns its section of ``summary.json`` with every key present: null (or empty) where the step did not
run or left nothing, so that a dry run's summary has the format of a GPU run's.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import statistics
import xml.etree.ElementTree as ET
from pathlib import Path


def read_json(path: Path) -> dict | None:
    """The JSON file at ``path``, or None if it is missing or not JSON."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def finite(value: object) -> float | None:
    """A JSON-safe number: None for missing, NaN or infinite values."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def log_tail(path: Path, lines: int = 15) -> list[str]:
    """The last ``lines`` lines of a log, or none if it cannot be read."""
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def read_steps(out: Path, names: tuple[str, ...]) -> dict[str, dict]:
    """steps.tsv: each step in ``names`` (``not run`` if no line names it); a failed one keeps its log's end."""
    steps = {
        name: {"status": "not run", "seconds": None, "exit_code": None, "timeout_s": None} for name in names
    }
    path = out / "steps.tsv"
    rows = path.read_text().splitlines() if path.is_file() else []
    for line in rows:
        fields = line.split("\t")
        if len(fields) < 6:
            continue
        name, status, code, seconds, timeout, log = fields[:6]
        step = {"status": status, "seconds": finite(seconds), "exit_code": None, "timeout_s": finite(timeout)}
        step["exit_code"] = int(code) if code.lstrip("-").isdigit() else None
        step["log"] = log or None
        log_path = out / log if log else None
        if log_path and log_path.is_file():
            first = log_path.read_text(errors="replace").split("\n", 1)[0]
            step["command"] = first[2:] if first.startswith("$ ") else None
            if status != "ok":
                step["log_tail"] = log_tail(log_path)
        steps[name] = step
    return steps


def read_tests(out: Path) -> dict:
    """Counts and failures from pytest's JUnit XML; what the tests measured, if they wrote it."""
    result = {"passed": None, "failed": None, "errors": None, "skipped": None, "failures": [], "measured": None}
    path = out / "tests.xml"
    if path.is_file():
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError:
            root = None
        suites = [] if root is None else ([root] if root.tag == "testsuite" else root.findall("testsuite"))
        counts = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
        if suites:
            result["failed"], result["errors"], result["skipped"] = (
                counts["failures"],
                counts["errors"],
                counts["skipped"],
            )
            result["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
        for case in (c for s in suites for c in s.iter("testcase")):
            for bad in (*case.findall("failure"), *case.findall("error")):
                message = (bad.get("message") or "").strip().splitlines()
                result["failures"].append(f"{case.get('name')}: {message[0][:300] if message else bad.tag}")
    result["measured"] = read_json(out / "test_gpu_report.json")
    return result


def batch_of(measurement: str) -> int | None:
    """The batch size a benchmark row names (``... at batch 64 ...``), if it names one."""
    found = re.search(r"at batch (\d+)", measurement)
    return int(found.group(1)) if found else None


def read_benchmark(out: Path) -> dict:
    """scripts/benchmark.py's report: training tokens/s (Lightning vs plain loop) and generation chars/s."""
    data = read_json(out / "benchmark" / "benchmark.json")
    result = {"device": None, "training": [], "generation": [], "rows": 0}
    if not data:
        return result
    result["device"], result["rows"] = data.get("meta", {}).get("device"), len(data.get("rows", []))
    for row in data.get("rows", []):
        common = {
            "ratio": finite(row.get("ratio")),
            "met": row.get("met"),
            "measurement": row.get("measurement"),
        }
        if row.get("case") == "training":
            ours, base = finite(row.get("textrnn")), finite(row.get("baseline"))
            result["training"].append({"textrnn_tokens_per_s": ours, "plain_loop_tokens_per_s": base, **common})
        elif row.get("case") == "generation" and row.get("unit") == "chars/s":
            ours, base = finite(row.get("textrnn")), finite(row.get("baseline"))
            item = {
                "batch": batch_of(row.get("measurement", "")),
                "chars_per_s": ours,
                "bare_step_chars_per_s": base,
            }
            result["generation"].append({**item, **common})
    return result


def read_bare(out: Path) -> dict:
    """scripts/bench_bare_lstm.py's report: trainer.fit vs the bare recurrent module, per precision."""
    data = read_json(out / "bare_lstm" / "bare_lstm.json")
    result = {"device": None, "shapes": None, "rows": []}
    if not data:
        return result
    meta = data.get("meta", {})
    result["device"], result["shapes"] = meta.get("device"), meta.get("shapes")
    for row in data.get("rows", []):
        result["rows"].append(
            {
                "precision": row.get("precision"),
                "textrnn_tokens_per_s": finite(row.get("textrnn")),
                "bare_tokens_per_s": finite(row.get("baseline")),
                "ratio": finite(row.get("ratio")),
            }
        )
    return result


def read_metrics(path: Path) -> list[dict]:
    """The rows of a Lightning CSVLogger's metrics.csv."""
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def stopped_by(log: str) -> str | None:
    """Why the fit ended, from Lightning's messages in its log."""
    if "Time limit reached" in log:
        return "max_time"
    found = re.search(r"`(max_epochs|max_steps)=\d+` reached", log)
    return found.group(1) if found else None


def keep_fit_files(metrics: Path, out: Path) -> str:
    """Copy the fit's metrics.csv and its YAML files into ``<out>/fit/``; return the CSV's path in ``out``."""
    kept = out / "fit"
    kept.mkdir(exist_ok=True)
    for name in ("metrics.csv", "hparams.yaml", "config.yaml"):
        if (metrics.parent / name).is_file():
            shutil.copyfile(metrics.parent / name, kept / name)
    return str((kept / "metrics.csv").relative_to(out))


def fit_metrics(rows: list[dict]) -> dict:
    """Validation losses, epochs, steps, training seconds and median tokens/s from metrics.csv's rows."""
    vals = [(int(r["step"]), finite(r["val_loss"])) for r in rows if finite(r.get("val_loss")) is not None]
    steps = [int(r["step"]) for r in rows if r.get("step", "").isdigit()]
    epochs = [int(r["epoch"]) for r in rows if r.get("epoch", "").isdigit()]
    seconds = [s for s in (finite(r.get("train_epoch_sec")) for r in rows) if s is not None]
    rates = [x for x in (finite(r.get("train_tokens_per_sec")) for r in rows) if x is not None]
    return {
        "best_val_loss": min(v for _, v in vals) if vals else None,
        "last_val_loss": vals[-1][1] if vals else None,
        "val_losses": [{"step": s, "val_loss": v} for s, v in vals],
        "epochs": max(epochs) + 1 if epochs else None,
        "steps": max(steps) + 1 if steps else None,
        "train_seconds": round(sum(seconds), 1) if seconds else None,
        # the first epoch includes kernel selection and warm-up
        "tokens_per_s_median": statistics.median(rates[1:] or rates) if rates else None,
    }


def read_fit(out: Path, fit_dir: Path | None, max_time: float | None) -> dict:
    """The recipe's run: validation losses, epochs, steps, training seconds and tokens/s, why it stopped."""
    result = {
        "best_val_loss": None,
        "last_val_loss": None,
        "val_losses": [],
        "epochs": None,
        "steps": None,
        "train_seconds": None,
        "tokens_per_s_median": None,
        "max_time_s": max_time,
        "stopped_by": None,
        "best_checkpoint": None,
        "metrics_csv": None,
    }
    log_path = out / "fit.log"
    log = log_path.read_text(errors="replace") if log_path.is_file() else ""
    result["stopped_by"] = stopped_by(log)
    found = re.search(r"^best checkpoint: (.+) \(", log, re.MULTILINE)
    result["best_checkpoint"] = found.group(1) if found else None
    candidates = sorted(fit_dir.rglob("metrics.csv"), key=lambda p: p.stat().st_mtime) if fit_dir else []
    if not candidates:
        return result
    result["metrics_csv"] = keep_fit_files(candidates[-1], out)
    return result | fit_metrics(read_metrics(candidates[-1]))
