"""``tensorboard: true``: TensorBoard event files beside the CSV logger's, with the same scalars."""

from pathlib import Path

import lightning.fabric.loggers.tensorboard as fabric_tensorboard
import pandas as pd
import pytest
from conftest import REPO

from textrnn.commands import main
from textrnn.training.cli import TensorBoardBeside, make_cli

TINY = str(REPO / "tests" / "assets" / "tiny_classifier.yaml")
pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def _args(tiny_tsv: dict[str, str], root: Path, *extra: str) -> list[str]:
    """A one-epoch tiny fit, logging to CSV under ``root/tiny`` (the tiny recipe has no logger)."""
    return [
        "fit",
        "--config",
        TINY,
        f"--data.train={tiny_tsv['train']}",
        f"--data.validation={tiny_tsv['validation']}",
        "--trainer.max_epochs=1",
        "--trainer.logger=CSVLogger",
        f"--trainer.logger.save_dir={root}",
        "--trainer.logger.name=tiny",
        *extra,
    ]


def _scalars(folder: Path) -> dict[str, dict[int, float]]:
    """Tag -> {step: value} of the TensorBoard event files in ``folder``."""
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: {e.step: e.value for e in events.Scalars(tag)} for tag in events.Tags()["scalars"]}


def test_the_switch_logs_the_csv_scalars_into_the_same_run_folder(tiny_tsv, tmp_path):
    switch = tmp_path / "tensorboard.yaml"
    switch.write_text("tensorboard: true\n")
    cli = make_cli([*_args(tiny_tsv, tmp_path), "--config", str(switch)])
    csv_logger, tensorboard = cli.trainer.loggers
    assert cli.trainer.logger is csv_logger and isinstance(tensorboard, TensorBoardBeside)
    run = tmp_path / "tiny" / "version_0"
    assert Path(csv_logger.log_dir) == Path(tensorboard.log_dir) == run
    assert len(list(run.glob("events.out.tfevents.*"))) == 1 and (run / "metrics.csv").is_file()
    metrics, scalars = pd.read_csv(run / "metrics.csv"), _scalars(run)
    assert {"val_loss", "val_acc", "val_f1"} <= scalars.keys()
    for tag in scalars.keys() - {"epoch"}:  # Lightning adds the epoch to every TensorBoard step
        rows = metrics.dropna(subset=[tag])
        assert list(scalars[tag]) == rows["step"].tolist(), tag
        assert list(scalars[tag].values()) == pytest.approx(rows[tag].tolist(), abs=1e-6), tag


def test_resuming_the_last_checkpoint_continues_both_loggers_in_its_version(tiny_tsv, tmp_path):
    make_cli([*_args(tiny_tsv, tmp_path), "--tensorboard=true"])
    cli = make_cli(
        [*_args(tiny_tsv, tmp_path), "--tensorboard=true", "--trainer.max_epochs=2", "--ckpt_path=last"]
    )
    run = tmp_path / "tiny" / "version_0"
    assert [p.name for p in (tmp_path / "tiny").iterdir()] == ["version_0"]
    assert all(Path(logger.log_dir) == run for logger in cli.trainer.loggers)
    assert len(list(run.glob("events.out.tfevents.*"))) == 2  # one per fit; TensorBoard reads both as one run
    parts = [pd.read_csv(run / name).dropna(subset=["val_loss"]) for name in ("metrics.1.csv", "metrics.csv")]
    assert sorted(_scalars(run)["val_loss"]) == [int(step) for part in parts for step in part["step"]]


def test_missing_tensorboard_or_logger_is_one_line(tiny_tsv, tmp_path, monkeypatch):
    with pytest.raises(SystemExit) as no_logger:
        main([*_args(tiny_tsv, tmp_path), "--trainer.logger=false", "--tensorboard=true"])
    assert str(no_logger.value) == (
        "textrnn: error: tensorboard: true writes into trainer.logger's run folder, and there is none"
    )
    monkeypatch.setattr(fabric_tensorboard, "_TENSORBOARD_AVAILABLE", False)
    monkeypatch.setattr(fabric_tensorboard, "_TENSORBOARDX_AVAILABLE", False)
    with pytest.raises(SystemExit) as missing:
        main([*_args(tiny_tsv, tmp_path), "--tensorboard=true"])
    assert "pip install 'textrnn[tensorboard]'" in str(missing.value) and "\n" not in str(missing.value)
