"""scripts/bench_long_texts.py: accuracy read whole or cut, on SST-2 dev and its longest quarter."""

from __future__ import annotations

import sys

import pandas as pd
import torch
from conftest import REPO

from textrnn import load_classifier

sys.path.insert(0, str(REPO / "scripts"))
from bench_long_texts import accuracy_rows  # noqa: E402

MODEL = str(REPO / "tests" / "assets" / "legacy_v1" / "classifier_folder")


def test_a_cut_longer_than_every_text_reads_them_whole_and_whole_is_the_plain_accuracy(monkeypatch):
    monkeypatch.chdir(REPO)
    rows = accuracy_rows(MODEL, [1000, 3])
    assert [r["read"] for r in rows] == ["whole", "first 1000", "first 3"]
    assert rows[0] == {**rows[1], "read": "whole"}
    dev = pd.read_csv(REPO / "data/sst2/dev.tsv", sep="\t", quoting=3)
    predicted = load_classifier(MODEL).predict_proba(dev["sentence"].tolist()).argmax(-1)
    expected = (predicted == torch.tensor(dev["label"].tolist())).float().mean().item()
    assert rows[0]["dev"] == expected and rows[2]["dev"] != expected
