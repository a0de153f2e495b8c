"""The models that ship with textrnn: loaded by name, offline, and exactly as their cards say."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch
from conftest import REPO

from textrnn import Classifier, Generator, from_pretrained, load_classifier, load_generator
from textrnn.errors import UserError
from textrnn.inference.folder import read_folder
from textrnn.inference.shipped import SHIPPED, card, card_text, resolve, shipped_names
from textrnn.tools.models import table

NAMES = ["shakespeare-char", "sst2-bilstm"]


def run(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd)


def test_the_models_ship_with_their_cards():
    assert shipped_names() == NAMES
    for name in NAMES:
        assert {p.name for p in (SHIPPED / name).iterdir()} == {
            "card.json",
            "card.md",
            "config.json",
            "model.safetensors",
            "vocab.json",
        }
        facts = card(name)
        assert facts["name"] == name and facts["command"].startswith("textrnn fit --config configs/")
        assert (REPO / facts["recipe"]).is_file() and facts["machine"] and facts["training_minutes"] > 0
        assert (
            card_text(name).startswith(f"## {name}\n")
            and card_text(name) in (REPO / "docs/guide/models.md").read_text()
        )


def test_the_shipped_classifier_scores_as_its_card_says():
    dev = pd.read_csv(REPO / "data/sst2/dev.tsv", sep="\t", quoting=3)
    classifier = load_classifier("sst2-bilstm", device="cpu")
    predicted = classifier.predict_proba(dev["sentence"].tolist()).argmax(-1)
    accuracy = float((predicted == torch.tensor(dev["label"].tolist())).float().mean())
    metrics = card("sst2-bilstm")["metrics"]
    assert round(accuracy, 4) == metrics["dev_accuracy"]
    assert metrics["dev_ece_after"] < metrics["dev_ece_before"]
    assert classifier.temperature == pytest.approx(metrics["calibration_temperature"], abs=5e-4)


def test_the_shipped_generator_writes_its_golden_text_twice():
    facts = card("shakespeare-char")
    args = [
        "textrnn.inference.generate",
        "--model",
        "shakespeare-char",
        "--prompt",
        "ROMEO:",
        "--length",
        "300",
    ]
    first, second = run(*args, "--seed", "1"), run(*args, "--seed", "1")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout == "ROMEO:" + facts["sample"] + "\n"


def test_the_generator_stored_in_float16_runs_in_float32_with_the_stored_values():
    stored = read_folder(SHIPPED / "shakespeare-char")[1]
    net = load_generator("shakespeare-char", device="cpu").net
    assert {w.dtype for w in stored.values()} == {torch.float16}
    for name, param in net.state_dict().items():
        assert param.dtype == torch.float32 and torch.equal(param, stored[name].float()), name


def test_names_work_wherever_a_model_path_does(tmp_path):
    assert isinstance(from_pretrained("sst2-bilstm", device="cpu"), Classifier)
    assert isinstance(load_generator("shakespeare-char", device="cpu"), Generator)
    result = run("textrnn.inference.classify", "--model", "sst2-bilstm", "a gripping, beautifully acted film")
    assert result.returncode == 0 and result.stdout.startswith("positive\t"), result.stderr
    assert "sst2-bilstm" in run("textrnn", "models").stdout
    assert run("textrnn", "models", "sst2-bilstm").stdout == card_text("sst2-bilstm") + "\n"


def test_a_path_that_exists_wins_over_a_name(tmp_path, monkeypatch):
    local = tmp_path / "sst2-bilstm"
    local.write_text("not a model")
    monkeypatch.chdir(tmp_path)
    assert resolve("sst2-bilstm") == local.relative_to(tmp_path)
    with pytest.raises(UserError, match="^sst2-bilstm: refused"):  # the local file was read, not the model
        load_classifier("sst2-bilstm")


def test_an_unknown_name_is_one_line_listing_the_names():
    with pytest.raises(
        UserError, match=r"'sst3' is neither a file nor a shipped model \(shakespeare-char, sst2-bilstm"
    ):
        load_classifier("sst3")
    result = run("textrnn.inference.generate", "--model", "shakespear", "--length", "5")
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert "shakespeare-char, sst2-bilstm" in result.stderr
    assert (
        run("textrnn", "models", "nope")
        .stderr.strip()
        .startswith("textrnn models: error: no shipped model 'nope'")
    )


def test_the_listing_shows_task_size_and_metrics():
    lines = table().splitlines()
    assert lines[0].split() == ["name", "task", "size", "metrics"]
    for name, line in zip(NAMES, lines[1:]):
        assert line.startswith(name) and card(name)["task"] in line and " MB " in line
    assert json.loads((SHIPPED / "sst2-bilstm" / "config.json").read_text())["calibration_temperature"] > 0
