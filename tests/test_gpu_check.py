"""scripts/gpu_check.sh where there is no GPU, so that the prepared GPU check cannot rot: its dry run end to end
and the summary's format, its prerequisite failures, its GPU commands (they parse here), and the summariser on
a made-up GPU run."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import bench_bare_lstm  # noqa: E402
import benchmark  # noqa: E402
import gpu_summary  # noqa: E402

SCRIPT = REPO / "scripts" / "gpu_check.sh"
TOP_KEYS = {
    "schema", "dry_run", "ok", "exit_code", "started", "finished", "wall_seconds", "budget_seconds", "gpu",
    "versions", "steps", "tests", "benchmark", "bare_lstm", "fit", "targets",
}  # fmt: skip
SECTIONS = ("gpu", "versions", "tests", "benchmark", "bare_lstm", "fit")
STEP_KEYS = {"status", "seconds", "exit_code", "timeout_s"}
TARGET_KEYS = {"name", "step", "value", "op", "threshold", "met", "note"}


def gpu_check(*args: str, timeout: float = 150, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run the script (with this interpreter unless PYTHON is given); return the result and its seconds."""
    environ = {k: v for k, v in os.environ.items() if k not in ("OUT", "GPU_CHECK_BUDGET")}
    environ |= {"PYTHON": sys.executable, **env}
    start = time.perf_counter()
    run = subprocess.run(
        ["bash", str(SCRIPT), *args], cwd=REPO, env=environ, capture_output=True, text=True, timeout=timeout
    )
    return run, time.perf_counter() - start


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, float, Path, dict]:
    out = tmp_path_factory.mktemp("gpu_check")
    run, seconds = gpu_check("--dry-run", "--out", str(out))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run, seconds, out, json.loads((out / "summary.json").read_text())


def test_dry_run_writes_the_summary_of_a_gpu_run(dry_run):
    run, seconds, out, summary = dry_run
    assert set(summary) == TOP_KEYS and summary["schema"] == gpu_summary.SCHEMA
    assert summary["dry_run"] is True and summary["ok"] is True and summary["exit_code"] == 0
    assert summary["budget_seconds"] == 480 and 0 < summary["wall_seconds"] <= seconds + 1
    assert set(summary["steps"]) == set(gpu_summary.STEPS)
    for name, step in summary["steps"].items():
        assert STEP_KEYS <= set(step) and step["status"] == "ok", (name, step)
        assert step["exit_code"] == 0 and step["seconds"] >= 0 and step["timeout_s"] > 0
    assert "--device cpu" in summary["steps"]["benchmark"]["command"]
    cuda = torch.cuda.is_available()
    assert (summary["gpu"]["name"] is not None) == cuda
    assert summary["versions"]["torch"] == torch.__version__
    tests = summary["tests"]
    assert tests["failed"] == tests["errors"] == 0 and not tests["failures"]
    assert tests["skipped" if not cuda else "passed"] > 0  # tests/test_gpu.py is collected and skips here
    generation = {g["batch"]: g for g in summary["benchmark"]["generation"]}
    assert 1 in generation and all(g["chars_per_s"] > 0 and g["ratio"] > 0 for g in generation.values())
    assert summary["benchmark"]["device"] == "cpu"
    bare = {row["precision"]: row for row in summary["bare_lstm"]["rows"]}
    assert set(bare) == {"bf16-mixed", "32-true"}
    assert all(
        r["textrnn_tokens_per_s"] > 0 and r["bare_tokens_per_s"] > 0 and r["ratio"] > 0 for r in bare.values()
    )
    assert summary["bare_lstm"]["shapes"]["hidden_size"] == 64  # the stand-in size
    fit = summary["fit"]
    assert 0 < fit["best_val_loss"] == fit["last_val_loss"] and fit["steps"] == 3 and fit["epochs"] == 1
    assert fit["stopped_by"] == "max_epochs" and fit["max_time_s"] == 240
    assert (out / fit["metrics_csv"]).is_file() and fit["best_checkpoint"]
    names = [t["name"] for t in summary["targets"]]
    assert len(names) == 3 and any("bf16-mixed" in n for n in names) and any("val loss" in n for n in names)
    for tgt in summary["targets"]:
        assert set(tgt) == TARGET_KEYS and isinstance(tgt["met"], bool) and tgt["value"] is not None
    assert "DRY RUN" in run.stdout and "exit 0" in run.stdout


def test_dry_run_keeps_checkpoints_out_of_the_output_folder(dry_run):
    run, seconds, out, summary = dry_run
    sizes = {p.relative_to(out): p.stat().st_size for p in out.rglob("*") if p.is_file()}
    assert not [p for p in sizes if p.suffix == ".ckpt"] and max(sizes.values()) < 1_000_000, sizes
    scratch = re.search(r"scratch (\S+)", run.stdout).group(1)
    assert not Path(scratch).exists()  # the scratch folder (the fit's checkpoints) is deleted at the end
    assert seconds < 120  # about 20 s on 2 free cores


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is here: the check would run")
def test_without_cuda_it_stops_in_seconds_with_one_line(tmp_path):
    run, seconds = gpu_check("--out", str(tmp_path / "out"), timeout=60)
    assert run.returncode == 2 and seconds < 20, (run.returncode, seconds)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu_check: missing prerequisite: CUDA"), run.stderr
    assert "--dry-run" in lines[0]
    assert not (tmp_path / "out").exists()  # nothing ran


def test_a_missing_python_is_named(tmp_path):
    run, seconds = gpu_check("--dry-run", "--out", str(tmp_path / "out"), PYTHON="/nowhere/python", timeout=30)
    assert run.returncode == 2 and seconds < 10
    assert run.stderr.strip() == "gpu_check: missing prerequisite: python: '/nowhere/python' not found " + (
        "(set PYTHON=/path/to/python)"
    )


def test_a_python_without_torch_is_named(tmp_path):
    bare = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=60)
    run, seconds = gpu_check("--dry-run", "--out", str(tmp_path / "out"), PYTHON=str(bare / "bin" / "python"))
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and seconds < 20 and len(lines) == 1
    assert lines[0].startswith("gpu_check: missing prerequisite: torch: cannot import it with "), lines


def test_bad_usage():
    run, _ = gpu_check("--frobnicate", timeout=10)
    assert run.returncode == 64 and "unknown argument: --frobnicate" in run.stderr
    run, _ = gpu_check("--steps", "tests,lunch", timeout=10)
    assert run.returncode == 64 and "unknown step in --steps: lunch" in run.stderr


def test_one_step_again(tmp_path):
    """--steps reruns a step alone; the others are 'not selected' and their targets are not judged."""
    run, _ = gpu_check("--dry-run", "--steps", "fit", "--out", str(tmp_path))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    status = {name: step["status"] for name, step in summary["steps"].items()}
    assert status == {"prerequisites": "ok", "tests": "not selected", "benchmark": "not selected"} | {
        "bare_lstm": "not selected",
        "fit": "ok",
    }
    assert summary["fit"]["best_val_loss"] > 0 and summary["bare_lstm"]["rows"] == []
    assert [t["met"] for t in summary["targets"] if t["step"] == "bare_lstm"] == [None]


def plan(*args: str) -> dict[str, tuple[int, list[str]]]:
    run, _ = gpu_check("--plan", *args, timeout=10)
    assert run.returncode == 0, run.stderr
    head, *lines = run.stdout.strip().splitlines()
    assert "budget 480 s" in head
    steps = {}
    for line in lines:
        name, cap, command = line.split("\t")
        steps[name] = (int(cap), shlex.split(command))
    assert list(steps) == ["tests", "benchmark", "bare_lstm", "fit", "summary"]
    return steps


def test_the_gpu_commands_parse_here(tmp_path):
    """The GPU run's arguments are valid for the scripts and the textrnn command as they are today."""
    steps = plan("--out", str(tmp_path))
    fit_cap, fit = steps["fit"]
    # the fit's 4 minutes and its start-up fit in the budget, with a minute for the rest
    assert fit_cap >= 240 + 20 and fit_cap + steps["summary"][0] + 60 <= 480
    _, tests = steps["tests"]
    assert "tests/test_gpu.py" in tests
    _, bench = steps["benchmark"]
    args = benchmark.parse_args(bench[2:])
    assert args.device == "cuda" and set(args.cases) == {"training", "generation"} and args.mode == "quick"
    _, bare = steps["bare_lstm"]
    args = bench_bare_lstm.parse_args(bare[2:])
    assert args.device == "cuda" and args.config == "configs/shakespeare_char_lstm.yaml"
    assert "--trainer.accelerator=gpu" in fit and "--trainer.precision=bf16-mixed" in fit
    assert "--trainer.max_time=00:00:04:00" in fit
    # the fit's overrides, parsed by the textrnn command itself (nothing is built: no GPU needed)
    fit = [a.replace("$SCRATCH", str(tmp_path)) for a in fit]
    shown = subprocess.run(
        [sys.executable, *fit[1:], "--print_config"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 0, shown.stderr[-3000:]
    config = shown.stdout
    assert "precision: bf16-mixed" in config and "max_time: 00:00:04:00" in config
    assert "accelerator: gpu" in config and f"save_dir: {tmp_path}/fit" in config


def fake_gpu_run(out: Path, fit_dir: Path, fp32_ratio: float = 0.85) -> None:
    """What the steps of a GPU run leave behind, made up."""
    steps = [("prerequisites", 3.0, ""), ("tests", 71.2, "tests.log"), ("benchmark", 58.0, "benchmark.log")]
    steps += [("bare_lstm", 33.0, "bare_lstm.log"), ("fit", 262.5, "fit.log")]
    (out / "steps.tsv").write_text("".join(f"{n}\tok\t0\t{s}\t100\t{log}\n" for n, s, log in steps))
    for _, _, log in steps:
        if log:
            (out / log).write_text(f"$ python {log}\nall fine\n")
    (out / "tests.xml").write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="17" failures="0" errors="0" '
        'skipped="0" time="70.1"><testcase classname="tests.test_gpu" name="test_trains_on_cuda[char-16-mixed]"'
        ' time="1.0"/></testsuite></testsuites>'
    )
    (out / "test_gpu_report.json").write_text(json.dumps({"diff": 2e-6}))
    (out / "benchmark").mkdir()
    rows = [
        {"case": "training", "measurement": "SST-2 BiLSTM: training tokens/s", "unit": "tokens/s",
         "textrnn": 9e5, "baseline": 1e6, "ratio": 0.9, "met": False},
        {"case": "generation", "measurement": "characters/s at batch 1 (1,000 each), generate vs bare step",
         "unit": "chars/s", "textrnn": 4000.0, "baseline": 4400.0, "ratio": 0.909, "met": True},
        {"case": "generation", "measurement": "characters/s at batch 64 (1,000 each), generate vs bare step",
         "unit": "chars/s", "textrnn": 2.2e5, "baseline": 2.5e5, "ratio": 0.88, "met": None},
        {"case": "generation", "measurement": "time per character, 5,000 vs 200 characters (batch 1)",
         "unit": "µs/char", "textrnn": 250.0, "baseline": 240.0, "ratio": 1.04, "met": True},
    ]  # fmt: skip
    meta = {"device": "cuda (NVIDIA H200)"}
    (out / "benchmark" / "benchmark.json").write_text(json.dumps({"meta": meta, "rows": rows}))
    (out / "bare_lstm").mkdir()
    bare = [
        {"precision": "bf16-mixed", "textrnn": 9.5e5, "baseline": 1e6, "ratio": 0.95},
        {"precision": "32-true", "textrnn": fp32_ratio * 1e6, "baseline": 1e6, "ratio": fp32_ratio},
    ]
    shapes = {"cell": "lstm", "hidden_size": 512, "num_layers": 3, "batch_size": 128, "seq_len": 256}
    (out / "bare_lstm" / "bare_lstm.json").write_text(json.dumps({"meta": {"shapes": shapes}, "rows": bare}))
    version = fit_dir / "shakespeare_char_lstm" / "version_0"
    version.mkdir(parents=True)
    lines = ["epoch,step,train_epoch_sec,train_tokens_per_sec,val_bpc,val_loss,val_ppl"]
    for epoch, loss in enumerate([2.1, 1.62, 1.41, 1.43]):
        step = 30 * (epoch + 1) - 1
        lines += [f"{epoch},{step},,,{loss / 0.693},{loss},5.0", f"{epoch},{step},55.0,{500000 + epoch},,,"]
    (version / "metrics.csv").write_text("\n".join(lines) + "\n")
    (out / "fit.log").write_text(
        "$ python -m textrnn fit ...\nTime limit reached. Elapsed time is 0:04:00. Signaling Trainer to stop.\n"
        "best checkpoint: /tmp/x/epoch=2-val_loss=1.4100.ckpt (val_loss=1.4100)\n"
    )


def test_the_summary_of_a_gpu_run(tmp_path, dry_run, capsys):
    out, fit_dir = tmp_path / "out", tmp_path / "scratch" / "fit"
    out.mkdir()
    fake_gpu_run(out, fit_dir)
    argv = ["--out", str(out), "--fit-dir", str(fit_dir), "--fit-max-time", "240", "--wall", "431"]
    assert gpu_summary.main([*argv, "--budget", "480", "--started", "2026-01-01T00:00:00+00:00"]) == 3
    summary = json.loads((out / "summary.json").read_text())
    dry = dry_run[3]
    assert set(summary) == set(dry) == TOP_KEYS  # a dry run's summary has the GPU run's format
    for section in SECTIONS:
        assert set(summary[section]) == set(dry[section]), section
    assert summary["dry_run"] is False and summary["ok"] is False and summary["exit_code"] == 3
    assert summary["tests"]["passed"] == 17 and summary["tests"]["measured"] == {"diff": 2e-6}
    assert [g["batch"] for g in summary["benchmark"]["generation"]] == [1, 64]
    assert summary["benchmark"]["generation"][1]["chars_per_s"] == 2.2e5
    fit = summary["fit"]
    assert fit["best_val_loss"] == 1.41 and fit["last_val_loss"] == 1.43 and fit["epochs"] == 4
    assert fit["steps"] == 120 and fit["train_seconds"] == 220.0 and fit["stopped_by"] == "max_time"
    assert fit["tokens_per_s_median"] == 500002 and fit["best_checkpoint"].endswith("val_loss=1.4100.ckpt")
    assert (out / "fit" / "metrics.csv").is_file()
    met = {t["name"]: t["met"] for t in summary["targets"]}
    assert met == {
        "training tokens/s vs bare recurrent module (bf16-mixed)": True,
        "training tokens/s vs bare recurrent module (32-true)": False,
        "Tiny Shakespeare val loss (nats/char)": True,
    }
    assert "-> FAIL" in capsys.readouterr().out
    # every target met: exit 0; a step that failed: exit 1, with the end of its log in the summary
    fake = tmp_path / "second"
    fake.mkdir()
    fake_gpu_run(fake, tmp_path / "scratch2" / "fit", fp32_ratio=0.93)
    argv = ["--out", str(fake), "--fit-dir", str(tmp_path / "scratch2" / "fit"), "--fit-max-time", "240"]
    assert gpu_summary.main(argv) == 0
    steps = (fake / "steps.tsv").read_text().replace("bare_lstm\tok\t0", "bare_lstm\tnot selected\t")
    (fake / "steps.tsv").write_text(steps)
    bare_json = fake / "bare_lstm" / "bare_lstm.json"
    bare_json.write_text(bare_json.read_text().replace("0.93", "0.5"))
    assert gpu_summary.main(argv) == 0  # a step left out: its target (now missed) is not judged
    steps = steps.replace("tests\tok\t0", "tests\tfailed\t1")
    (fake / "steps.tsv").write_text(steps)
    assert gpu_summary.main(argv) == 1
    summary = json.loads((fake / "summary.json").read_text())
    assert summary["steps"]["tests"]["log_tail"] == ["$ python tests.log", "all fine"]
    assert summary["steps"]["tests"]["command"] == "python tests.log"
