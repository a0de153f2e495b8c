"""``textrnn plot``: training curves and confusion matrices drawn from a real (tiny) run folder."""

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, TINY_ROWS, write_tsv

from textrnn.inference.classify import load_classifier
from textrnn.tools.plot import (
    BEST,
    best_checkpoint,
    draw_curves,
    find_run,
    main,
    plot_run,
    read_metrics,
    series,
    split_confusion,
)
from textrnn.training.classifier import TextClassifier
from textrnn.training.cli import make_cli

pytest.importorskip("matplotlib")
TINY = str(REPO / "tests" / "assets" / "tiny_classifier.yaml")
# the test split holds every tiny text twice, once with its label flipped: the matrix has errors in it
TEST_ROWS = TINY_ROWS + [(text, 1 - label) for text, label in TINY_ROWS]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """The CSVLogger folder of a tiny classifier trained for 3 epochs, logging every step."""
    root = tmp_path_factory.mktemp("plot")
    files = {
        s: write_tsv(root / f"{s}.tsv", rows) for s, rows in [("train", TINY_ROWS * 4), ("test", TEST_ROWS)]
    }
    cli = make_cli(
        [
            "fit",
            "--config",
            TINY,
            f"--data.train={files['train']}",
            f"--data.validation={write_tsv(root / 'validation.tsv', TINY_ROWS)}",
            f"--data.test={files['test']}",
            "--trainer.logger=CSVLogger",
            f"--trainer.logger.save_dir={root}",
            "--trainer.log_every_n_steps=1",
        ]
    )
    return Path(cli.trainer.logger.log_dir)


def test_the_curves_are_a_png_in_the_run_folder(run):
    png = plot_run(run.parent)  # runs/NAME: its newest training version
    assert png == run / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, channels = pytest.importorskip("matplotlib.image").imread(png).shape
    assert height > 400 and width > 800 and channels in (3, 4)
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_panels_and_plotted_validation_points_are_the_csvs(run):
    metrics = pd.read_csv(run / "metrics.csv")
    figure = draw_curves(read_metrics(run), "tiny")
    axes = [ax for ax in figure.axes if ax.get_ylabel()]
    validation = ["val_acc", "val_ece", "val_ece_calibrated", "val_f1"]
    assert [ax.get_ylabel() for ax in axes] == ["loss", *validation, "grad_norm"]
    for ax, column in zip(axes, ["val_loss", *validation]):
        (line,) = [line for line in ax.get_lines() if line.get_label().startswith("validation")]
        rows = metrics.dropna(subset=[column])
        assert len(rows) == 3  # one per epoch
        assert np.array_equal(line.get_xdata(), rows["step"]) and np.array_equal(line.get_ydata(), rows[column])
    train = [line for line in axes[0].get_lines() if line.get_label() == "train"][0]
    assert np.array_equal(
        train.get_ydata(), metrics["train_loss"].dropna()
    )  # the raw curve, under the smoothed


def test_a_resumed_run_joins_its_parts_and_the_newest_training_run_is_found(run, tmp_path):
    resumed = tmp_path / "name" / "version_0"
    resumed.mkdir(parents=True)
    (resumed / "config.yaml").write_text("{}")
    pd.DataFrame({"epoch": [0, 0, 1], "step": [1, 2, 3], "val_loss": [0.9, 0.8, 0.7]}).to_csv(
        resumed / "metrics.1.csv"
    )
    pd.DataFrame({"epoch": [1, 1], "step": [3, 4], "val_loss": [0.6, 0.5]}).to_csv(resumed / "metrics.csv")
    rows = series(read_metrics(resumed), "val_loss")
    assert rows["step"].tolist() == [1, 2, 3, 4] and rows["val_loss"].tolist() == [0.9, 0.8, 0.6, 0.5]
    evaluation = tmp_path / "name" / "version_1"  # textrnn test writes metrics but no config.yaml
    shutil.copytree(resumed, evaluation)
    (evaluation / "config.yaml").unlink()
    assert find_run(tmp_path / "name") == resumed


def test_confusion_counts_are_the_classifiers_predictions(run, tmp_path, capsys):
    checkpoint = best_checkpoint(run)
    assert "val_acc=" in checkpoint.name
    assert (TextClassifier.monitor, TextClassifier.monitor_mode) == (BEST, "max")
    matrix, names = split_confusion(run, "test")
    predicted = [p.label_id for p in load_classifier(checkpoint, "cpu").predict([t for t, _ in TEST_ROWS])]
    counts = Counter(zip([label for _, label in TEST_ROWS], predicted))
    assert names == ["negative", "positive"] and matrix.sum() == len(TEST_ROWS)
    assert matrix.tolist() == [[counts[(t, p)] for p in range(2)] for t in range(2)]
    out = tmp_path / "confusion.png"
    main([str(run), "--confusion", "test", "--confusion-out", str(out), "--out", str(tmp_path / "c.png")])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    accuracy = np.trace(matrix) / matrix.sum()
    assert f"accuracy {accuracy:.4f} ({np.trace(matrix)}/{len(TEST_ROWS)})" in capsys.readouterr().out


def _error(*argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    message = str(exit_.value)
    assert message.startswith("textrnn plot: error: ") and "\n" not in message
    return message


def test_user_mistakes_are_one_line(run, tmp_path):
    assert _error(str(tmp_path / "nowhere")).endswith("nowhere: no such directory")
    assert "no metrics.csv" in _error(str(tmp_path))
    char = tmp_path / "char"
    char.mkdir()
    shutil.copy(run / "metrics.csv", char)
    (char / "config.yaml").write_text("data:\n  class_path: textrnn.CharLMData\n  init_args: {}\n")
    assert "not a classifier's run (its data module: CharLMData)" in _error(
        str(char), "--confusion", "validation"
    )
    assert not (char / "curves.png").exists()  # checked before anything is drawn
