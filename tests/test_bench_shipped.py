"""scripts/bench_shipped.py: keeping the first added words leaves every other row and prediction as it was."""

from __future__ import annotations

import sys
from dataclasses import replace

import torch
from conftest import REPO
from test_export import save_checkpoint

from textrnn.inference.classify import load_classifier
from textrnn.inference.folder import write_folder
from textrnn.inference.loading import read_model
from textrnn.nn.classifier import TextClassifierConfig, TextClassifierNet

sys.path.insert(0, str(REPO / "scripts"))
from bench_shipped import keep_added_words  # noqa: E402


def test_keeping_the_first_added_words_truncates_the_vocabulary_and_the_fixed_rows(tmp_path):
    torch.manual_seed(0)
    config = TextClassifierConfig(
        vocab_size=30, num_classes=2, embedding_dim=6, hidden_size=4, trainable_rows=20
    )
    net = TextClassifierNet(config).eval()
    record, weights = read_model(save_checkpoint(net, "classification", tmp_path / "c.ckpt"), "classification")
    record = replace(record, tokenizer={"kind": "word", "lowercase": True, "max_length": None})
    small, kept = keep_added_words(record, weights, 4)
    assert small.vocab == record.vocab[:24] and small.net_args["vocab_size"] == 24
    assert torch.equal(kept["embedding.fixed"], weights["embedding.fixed"][:4])
    assert all(torch.equal(kept[k], v) for k, v in weights.items() if k != "embedding.fixed")
    full = load_classifier(write_folder(tmp_path / "full", record, weights), device="cpu")
    pruned = load_classifier(write_folder(tmp_path / "pruned", small, kept), device="cpu")
    texts = ["w3 w21 w10", "w0 w18 w19 w21", "w25 w22", "w27"]  # w18..w27 are added words; w21 is the last kept
    probs, pruned_probs = full.predict_proba(texts), pruned.predict_proba(texts)
    torch.testing.assert_close(pruned_probs[:2], probs[:2], atol=1e-6, rtol=0)
    unknown = full.predict_proba(["zzz zzz", "zzz"])  # dropped words read as unknown words do
    torch.testing.assert_close(pruned_probs[2:], unknown, atol=1e-6, rtol=0)
