"""The ``textrnn fit`` processes tests/test_gpu.py checks: both tiny tasks in each precision and a 1-GPU DDP run
each, started at once as separate processes, each with tests/gpu_probe.py reporting what it saw."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest import REPO, TINY_ROWS, write_tsv

ASSETS = REPO / "tests" / "assets"
CONFIGS = {"classifier": ASSETS / "tiny_classifier.yaml", "char": ASSETS / "tiny_char.yaml"}
PRECISIONS = ["32-true", "bf16-mixed", "16-mixed"]
STEPS = 300
FIT_TIMEOUT = 240  # seconds, each fit (they run at the same time)
CHAR_TEXT = "".join(f"line {i}: to be or not to be, that is the question\n" for i in range(200))


@dataclass
class Fit:
    """One ``textrnn fit`` process and what it left behind."""

    key: str
    task: str
    precision: str
    strategy: str
    folder: Path
    process: subprocess.Popen | None = None
    started: float = 0.0
    seconds: float = math.nan
    returncode: int | None = None
    report: dict = field(default_factory=dict)

    @property
    def log(self) -> str:
        return (self.folder / "fit.log").read_text(errors="replace")

    def check(self) -> dict:
        """The probe's report; fails with the end of the log if the fit failed."""
        assert self.returncode == 0, f"{self.key}: exit {self.returncode}\n{self.log[-4000:]}"
        assert self.report, f"{self.key}: no report written\n{self.log[-4000:]}"
        return self.report

    @property
    def checkpoint(self) -> Path:
        """The best checkpoint (monitored metric in its name)."""
        found = sorted((self.folder / "checkpoints").glob("epoch=*.ckpt"))
        assert found, f"{self.key}: no best checkpoint in {self.folder}\n{self.log[-2000:]}"
        return found[-1]


def process_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: the repository importable, offline, its caches under ``root``."""
    path = os.pathsep.join([str(REPO / "tests"), str(REPO), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "2", "PYTHONUNBUFFERED": "1"}
    # the session's autouse fixture is function-scoped: these processes start before it, so isolate them here
    env |= {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TEXTRNN_CACHE": str(root / "cache")}
    env |= {"GENSIM_DATA_DIR": str(root / "gensim-data")}
    return env | extra


def start(fit: Fit, data: dict[str, list[str]], root: Path) -> None:
    """Start ``fit``'s process on the GPU, its output in ``fit.log`` and its probe's in ``report.json``."""
    fit.folder.mkdir(parents=True)
    probe = fit.folder / "probe.yaml"
    report = fit.folder / "report.json"
    probe.write_text(
        "trainer:\n  callbacks:\n    - class_path: gpu_probe.GpuReport\n"
        f"      init_args: {{path: '{report}'}}\n"
    )
    args = ["fit", "--config", str(CONFIGS[fit.task]), "--config", str(probe), *data[fit.task]]
    args += ["--trainer.accelerator=gpu", "--trainer.devices=1", f"--trainer.precision={fit.precision}"]
    args += [f"--trainer.max_steps={STEPS}", "--trainer.max_epochs=-1", f"--trainer.strategy={fit.strategy}"]
    args += [f"--trainer.default_root_dir={fit.folder}", "--trainer.logger=false"]
    if fit.task == "classifier":  # 8 batches an epoch: validate (and checkpoint) every 5th epoch
        args.append("--trainer.check_val_every_n_epoch=5")
    else:  # about 160 batches an epoch: validate (and checkpoint) 3 times
        args.append(f"--trainer.val_check_interval={STEPS // 3}")
    log = open(fit.folder / "fit.log", "w")
    fit.started = time.perf_counter()
    fit.process = subprocess.Popen(
        [sys.executable, "-m", "textrnn", *args], cwd=fit.folder, env=process_env(root), stdout=log, stderr=log
    )
    log.close()


def finish(fit: Fit, record: dict) -> None:
    """Wait for ``fit`` (killed at FIT_TIMEOUT), read its probe's report and add its facts to ``record``."""
    try:
        fit.returncode = fit.process.wait(timeout=max(1.0, FIT_TIMEOUT - (time.perf_counter() - fit.started)))
    except subprocess.TimeoutExpired:
        fit.process.kill()
        fit.returncode = fit.process.wait()
    fit.seconds = time.perf_counter() - fit.started
    report = fit.folder / "report.json"
    if report.is_file():
        fit.report = json.loads(report.read_text())
    record.setdefault("fits", {})[fit.key] = {
        "returncode": fit.returncode,
        "seconds": round(fit.seconds, 1),
        **{k: v for k, v in fit.report.items() if k != "losses"},
        "first_losses": fit.report.get("losses", [])[:3],
        "last_losses": fit.report.get("losses", [])[-3:],
    }


def run_fits(root: Path, record: dict) -> dict[str, Fit]:
    """Write the data under ``root``, run every fit at the same time and wait for them all; keyed
    ``task-precision-strategy``, their facts also in ``record``."""
    tsv = {
        s: str(write_tsv(root / f"{s}.tsv", TINY_ROWS * (4 if s == "train" else 1))) for s in ("train", "dev")
    }
    text = root / "text.txt"
    text.write_text(CHAR_TEXT)
    data = {
        "classifier": [f"--data.train={tsv['train']}", f"--data.validation={tsv['dev']}"],
        "char": [f"--data.files=[{text}]"],
    }
    plan = [(task, p, "auto") for task in CONFIGS for p in PRECISIONS]
    plan += [(task, "32-true", "ddp") for task in CONFIGS]
    runs = {}
    for task, precision, strategy in plan:
        key = f"{task}-{precision}-{strategy}"
        runs[key] = Fit(key, task, precision, strategy, root / key)
        start(runs[key], data, root)
    for fit in runs.values():
        finish(fit, record)
    return runs
