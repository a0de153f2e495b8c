"""Reliability: atomic checkpoints, exact resume after SIGKILL, bit-identical reruns, stop on NaN."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, TINY_ROWS, write_tsv
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.loggers import CSVLogger

import textrnn.training.saving as checkpoint_io
from textrnn import CharLanguageModel, TextClassifier
from textrnn.commands import main
from textrnn.text.streams import CharStreams, StreamLoader
from textrnn.training.cli import _continue_last_version, make_cli
from textrnn.training.saving import AtomicCheckpointIO, rng_state, set_rng_state, use_atomic_io

ASSETS = REPO / "tests" / "assets"
LINE = "ROMEO:\nBut soft, what light through yonder window breaks?\n"


def _env() -> dict[str, str]:
    # read when called: conftest's fixture has pointed the caches at a temporary folder by then
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}"}


def _data(root: Path, task: str, scale: int = 1) -> list[str]:
    """Arguments pointing the tiny config of ``task`` at tiny files; ``scale`` makes epochs longer."""
    if task == "char":
        text = root / "text.txt"
        text.write_text(LINE * 30 * scale, encoding="utf-8")
        return ["--config", str(ASSETS / "tiny_char.yaml"), f"--data.files=[{text}]"]
    train = write_tsv(root / "train.tsv", TINY_ROWS * 4 * scale)
    dev = write_tsv(root / "dev.tsv", TINY_ROWS)
    return [
        "--config",
        str(ASSETS / "tiny_classifier.yaml"),
        f"--data.train={train}",
        f"--data.validation={dev}",
    ]


# ---------------------------------------------------------------- atomic checkpoints


def test_a_failed_save_leaves_the_previous_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"step": 1, "w": torch.arange(1000.0)}, path)
    good = path.read_bytes()

    def crash(obj, f, *args, **kwargs):  # a crash half-way through writing
        f.write(good[: len(good) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_io.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint({"step": 2, "w": torch.zeros(1000)}, path)
    assert path.read_bytes() == good
    assert torch.load(path, weights_only=True)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_the_cli_saves_atomically_but_keeps_a_users_checkpoint_plugin(tmp_path):
    cli = make_cli([*_data(tmp_path, "char"), f"--trainer.default_root_dir={tmp_path}"], run=False)
    assert type(cli.trainer.strategy.checkpoint_io) is AtomicCheckpointIO

    class Mine(TorchCheckpointIO):
        pass

    strategy = type("Strategy", (), {"checkpoint_io": Mine()})()
    use_atomic_io(strategy)
    assert type(strategy.checkpoint_io) is Mine


def test_random_states_survive_a_weights_only_round_trip(tmp_path):
    torch.manual_seed(3), random.seed(3), np.random.seed(3)
    torch.save({"rng": rng_state()}, tmp_path / "rng.pt")
    expected = (torch.rand(4), random.random(), np.random.rand())
    torch.manual_seed(99), random.seed(99), np.random.seed(99)
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True)["rng"])
    got = (torch.rand(4), random.random(), np.random.rand())
    assert torch.equal(got[0], expected[0]) and got[1:] == expected[1:]


# ---------------------------------------------------------------- determinism


def _fit(root: Path, task: str, *extra: str):
    root.mkdir()
    cli = make_cli(["fit", *_data(root, task), f"--trainer.default_root_dir={root}", *extra])
    metrics = {k: v.item() for k, v in cli.trainer.callback_metrics.items() if k.startswith("val_")}
    return metrics, {k: v.clone() for k, v in cli.model.state_dict().items()}


@pytest.mark.parametrize("task", ["classifier", "char"])
def test_same_seed_and_config_give_bit_identical_runs(task, tmp_path):
    # dropout on, so the random streams matter
    extra = ["--trainer.deterministic=true", "--trainer.max_epochs=2", "--model.init_args.dropout=0.2"]
    first, second = (_fit(tmp_path / name, task, *extra) for name in ("a", "b"))
    assert first[0] == second[0] and "val_loss" in first[0]
    assert first[1].keys() == second[1].keys()
    assert all(torch.equal(first[1][k], second[1][k]) for k in first[1])


# ---------------------------------------------------------------- non-finite loss


# a step in the second epoch: 8 classifier batches, 22 character batches per epoch
@pytest.mark.parametrize(("cls", "step", "per_epoch"), [(TextClassifier, 10, 8), (CharLanguageModel, 25, 22)])
def test_a_nan_loss_stops_training_naming_the_step_and_keeps_the_good_checkpoint(
    cls, step, per_epoch, tmp_path, monkeypatch
):
    original = cls.training_step

    def poisoned(self, batch, batch_idx):
        loss = original(self, batch, batch_idx)
        return loss * float("nan") if self.global_step == step else loss

    monkeypatch.setattr(cls, "training_step", poisoned)
    task = "char" if cls is CharLanguageModel else "classifier"
    with pytest.raises(SystemExit) as exit_:
        main(["fit", *_data(tmp_path, task), f"--trainer.default_root_dir={tmp_path}"])
    message = str(exit_.value.code)
    assert message.startswith(
        f"textrnn: error: training stopped: non-finite loss at global step {step} (loss=nan"
    )
    assert "global gradient norm=nan" in message and "\n" not in message
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 0 and last["global_step"] == per_epoch  # the first epoch's, before the bad step
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values())


# ---------------------------------------------------------------- resume after SIGKILL

FIT = [sys.executable, "-m", "textrnn", "fit", "--seed_everything=0", "--trainer.deterministic=true"]


# AWD-LSTM's regularisers draw their masks from the same random streams
AWD = [f"--model.init_args.{k}" for k in ("weight_drop=0.3", "embedding_dropout=0.1", "locked_dropout=true")]


# the averaged weights and the update count are state too; fixed buffers are copied, not averaged
EMA = [
    "--trainer.callbacks+=lightning.pytorch.callbacks.EMAWeightAveraging",
    "--trainer.callbacks.decay=0.9",
    "--trainer.callbacks.use_buffers=false",
]


def _resume_args(root: Path, task: str, epochs: int) -> list[str]:
    """The command's arguments; about 0.7 s of training per epoch on one core."""
    logger = root / "logger.yaml"  # a fixed version: the resumed run finds last.ckpt and appends its metrics
    logger.write_text(
        "trainer:\n  logger:\n    class_path: lightning.pytorch.loggers.CSVLogger\n"
        f"    init_args: {{save_dir: '{root}', name: run, version: 0}}\n"
    )
    scale = 3 if task == "char" else 12
    return [*_data(root, task, scale), "--config", str(logger), f"--trainer.max_epochs={epochs}"]


def _final(root: Path) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    with open(root / "run" / "version_0" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val_loss")]
    last = torch.load(root / "run" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    return {k: float(v) for k, v in rows[-1].items() if k.startswith("val_") and v}, last


def test_resuming_from_last_continues_the_auto_versioned_run_that_has_it(tmp_path):
    for version in (0, 1, 2):
        (tmp_path / "run" / f"version_{version}" / "checkpoints").mkdir(parents=True)
    (tmp_path / "run" / "version_1" / "checkpoints" / "last.ckpt").write_bytes(b"")
    (tmp_path / "run" / "version_1" / "metrics.csv").write_text("epoch,val_loss\n0,1.5\n")
    logger = CSVLogger(tmp_path, name="run")
    _continue_last_version(logger)
    assert logger.version == 1 and Path(logger.log_dir) == tmp_path / "run" / "version_1"
    # CSVLogger deletes metrics.csv when it starts: the earlier rows are kept aside
    assert (tmp_path / "run" / "version_1" / "metrics.1.csv").read_text() == "epoch,val_loss\n0,1.5\n"
    fixed = CSVLogger(tmp_path, name="run", version=0)
    _continue_last_version(fixed)
    assert fixed.version == 0
    _continue_last_version(None)  # no logger: nothing to do


@pytest.mark.slow
@pytest.mark.parametrize("task", ["classifier", "char"])
def test_a_killed_fit_resumed_from_last_ends_like_an_uninterrupted_one(task, tmp_path):
    epochs = 4
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for root in (whole, killed):
        root.mkdir()
    extra = ["--model.init_args.dropout=0.2"]  # random masks: the RNG state must be restored too
    extra += ["--model.init_args.adversarial=0.5", *EMA] if task == "classifier" else AWD
    # the uninterrupted run alongside the killed one: the test takes less time
    uninterrupted = subprocess.Popen(
        [*FIT, *_resume_args(whole, task, epochs), *extra],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    cmd = [*FIT, *_resume_args(killed, task, epochs), *extra]
    try:
        last = killed / "run" / "version_0" / "checkpoints" / "last.ckpt"
        saved = _killed(cmd, last, epoch=2, fraction=0.5)  # in the middle of epoch 2, of 0..3
    finally:
        log = uninterrupted.communicate(timeout=120)[0].decode()
    assert uninterrupted.returncode == 0, log[-2000:]
    assert saved["epoch"] == 1  # the last save was at the end of epoch 1
    run = subprocess.run([*cmd, "--ckpt_path=last"], env=_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Restoring states from the checkpoint" in run.stdout + run.stderr

    (expected, expected_ckpt), (got, got_ckpt) = _final(whole), _final(killed)
    assert got_ckpt["epoch"] == expected_ckpt["epoch"] == epochs - 1
    assert got_ckpt["global_step"] == expected_ckpt["global_step"]
    assert got.keys() == expected.keys() and "val_loss" in got
    for name, value in expected.items():
        assert abs(got[name] - value) <= 1e-6, (name, got[name], value)
    state, expected_state = got_ckpt["state_dict"], expected_ckpt["state_dict"]
    print(task, "resumed - uninterrupted:", {k: got[k] - v for k, v in expected.items()})
    assert state.keys() == expected_state.keys()
    assert all(torch.equal(state[k], v) for k, v in expected_state.items())  # in fact bit-identical
    if task == "classifier":  # state_dict holds the averaged weights, current_model_state the trained ones
        current, expected_current = got_ckpt["current_model_state"], expected_ckpt["current_model_state"]
        assert all(torch.equal(current[k], v) for k, v in expected_current.items())
        assert not torch.equal(state["net.head.weight"], current["net.head.weight"])
        assert got_ckpt["averaging_state"]["n_averaged"] == got_ckpt["global_step"]


def test_the_character_train_loader_resumes_at_the_saved_batch_without_touching_the_global_rng():
    def loader() -> StreamLoader:
        return StreamLoader(CharStreams(torch.arange(101), 2, 7), batch_size=None)  # 50 per stream: 8 batches

    whole, first = list(loader()), loader()
    it = iter(first)
    for _ in range(3):
        next(it)
    state = first.state_dict()
    assert state == {"served": 3, "batches": 8}
    resumed = loader()
    resumed.load_state_dict(state)
    rng = torch.get_rng_state()
    rest = list(resumed)
    assert torch.equal(torch.get_rng_state(), rng)  # iterating draws no seed from dropout's generator
    assert len(rest) == 5 and all(torch.equal(a, b) for x, y in zip(rest, whole[3:]) for a, b in zip(x, y))
    assert len(list(resumed)) == 8  # the next epoch starts at the beginning
    other = StreamLoader(CharStreams(torch.arange(201), 2, 7), batch_size=None)
    with pytest.warns(UserWarning, match="restarts its streams"):
        other.load_state_dict(state)  # another text: the position means nothing there
    assert len(list(other)) == 15


def _killed(cmd: list[str], ckpt: Path, epoch: int, fraction: float) -> dict:
    """Run ``cmd`` until it SIGKILLs itself in ``epoch`` at ``fraction`` of its batches; return ``ckpt``."""
    killer = f'{{"class_path": "killer.KillAt", "init_args": {{"epoch": {epoch}, "fraction": {fraction}}}}}'
    run = subprocess.run([*cmd, f"--trainer.callbacks+={killer}"], env=_env(), capture_output=True, text=True)
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    return torch.load(ckpt, weights_only=True)


@pytest.mark.slow
def test_a_char_fit_killed_after_a_mid_epoch_checkpoint_resumes_exactly(tmp_path):
    """Validation twice an epoch writes last.ckpt inside the epoch: the resumed run continues the data
    streams at the next batch and from the saved carried state."""
    epochs = 3
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for root in (whole, killed):
        root.mkdir()
    extra = ["--model.init_args.dropout=0.2", "--trainer.val_check_interval=0.5", *AWD]
    uninterrupted = subprocess.Popen(
        [*FIT, *_resume_args(whole, "char", epochs), *extra],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    cmd = [*FIT, *_resume_args(killed, "char", epochs), *extra]
    try:
        # saves: epoch 0 middle, epoch 0 end, epoch 1 middle
        last = killed / "run" / "version_0" / "checkpoints" / "last.ckpt"
        saved = _killed(cmd, last, epoch=1, fraction=0.75)  # a few batches on, before the next validation
    finally:
        log = uninterrupted.communicate(timeout=120)[0].decode()
    assert uninterrupted.returncode == 0, log[-2000:]
    assert saved["epoch"] == 1
    position = saved["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert 0 < position["served"] < position["batches"]  # in the middle of the epoch
    assert saved["textrnn_carried_state"][0].shape[-1] == 32  # the LSTM's (h, c), hidden size 32
    run = subprocess.run([*cmd, "--ckpt_path=last"], env=_env(), capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Restoring states from the checkpoint" in run.stdout + run.stderr
    assert "dataloader is not resumable" not in run.stdout + run.stderr

    (expected, expected_ckpt), (got, got_ckpt) = _final(whole), _final(killed)
    assert got_ckpt["epoch"] == expected_ckpt["epoch"] == epochs - 1
    assert got_ckpt["global_step"] == expected_ckpt["global_step"]
    assert got.keys() == expected.keys() and "val_loss" in got
    print("char mid-epoch resumed - uninterrupted:", {k: got[k] - v for k, v in expected.items()})
    for name, value in expected.items():
        assert abs(got[name] - value) <= 1e-6, (name, got[name], value)
    state, expected_state = got_ckpt["state_dict"], expected_ckpt["state_dict"]
    assert state.keys() == expected_state.keys()
    assert all(torch.equal(state[k], v) for k, v in expected_state.items())
