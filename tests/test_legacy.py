"""Models written by textrnn 0.1 (format 1: before the re-layout) load and give exactly their old outputs.

``tests/assets/legacy_v1`` was written by commit 45744ec (see its README): two checkpoints, their model
folders, and the outputs they gave then.
"""

import json
import subprocess
import sys

import pytest
import torch
from conftest import REPO, write_tsv

from textrnn import from_pretrained, load_classifier, load_generator, save_pretrained
from textrnn.inference.loading import read_model

LEGACY = REPO / "tests" / "assets" / "legacy_v1"
EXPECTED = json.loads((LEGACY / "expected.json").read_text())


@pytest.mark.parametrize("name", ["classifier.ckpt", "classifier_folder"])
def test_a_legacy_classifier_predicts_exactly_as_before(name):
    classifier = load_classifier(LEGACY / name, device="cpu")
    assert classifier.predict_proba(EXPECTED["texts"]).tolist() == EXPECTED[name]["probs"]
    assert [p.label for p in classifier.predict(EXPECTED["texts"])] == EXPECTED[name]["labels"]


@pytest.mark.parametrize("name", ["char_lm.ckpt", "char_lm_folder"])
def test_a_legacy_generator_generates_exactly_as_before(name):
    generator = load_generator(LEGACY / name, device="cpu")
    assert generator.generate("ROMEO:", 80, greedy=True)[0] == EXPECTED[name]["greedy"]
    seeded = generator.generate("ROMEO:", 80, seed=1, temperature=0.8, num_samples=2)
    assert seeded == EXPECTED[name]["seeded"]


@pytest.mark.parametrize("name", ["classifier.ckpt", "char_lm.ckpt"])
def test_a_legacy_checkpoint_becomes_a_current_folder(name, tmp_path):
    record, weights = read_model(LEGACY / name)
    folder = save_pretrained(LEGACY / name, tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    assert config["format_version"] == 2 and config["net_args"] == record.net_args
    assert "hparams" not in config and "class_path" not in config
    again, weights_again = read_model(folder)
    assert again == record and all(torch.equal(weights[k], weights_again[k]) for k in weights)
    loaded = from_pretrained(folder, device="cpu")
    if name.startswith("classifier"):
        probs = loaded.predict_proba(EXPECTED["texts"]).tolist()
        assert probs == EXPECTED["classifier.ckpt"]["probs"]
    else:
        assert loaded.generate("ROMEO:", 80, greedy=True)[0] == EXPECTED["char_lm.ckpt"]["greedy"]


def test_the_cli_evaluates_a_legacy_checkpoint(tmp_path):
    """Its class path (``textrnn.tasks.SentimentClassifier``) is gone: the task name finds the class."""
    rows = [
        (text, int(probs[1] > 0.5))
        for text, probs in zip(EXPECTED["texts"], EXPECTED["classifier.ckpt"]["probs"])
    ]
    dev = write_tsv(tmp_path / "dev.tsv", rows)
    args = ["validate", "--config", str(REPO / "tests/assets/tiny_classifier.yaml"), f"--data.validation={dev}"]
    args.append(f"--ckpt_path={LEGACY / 'classifier.ckpt'}")
    result = subprocess.run(
        [sys.executable, "-m", "textrnn", *args], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "val_acc" in result.stdout and "1.0" in result.stdout.split("val_acc")[1].split("\n")[0]
