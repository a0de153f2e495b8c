"""Class weights for the training loss: balanced from the training split's counts, or given per class."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import REPO, TINY_ROWS, write_tsv

from textrnn.text.batching import EncodedTexts
from textrnn.training.classifier import TextClassifier, balanced_weights
from textrnn.training.cli import make_cli

TINY = str(REPO / "tests" / "assets" / "tiny_classifier.yaml")


class Data:
    def __init__(self, labels: list[int]):
        self.splits = {"train": EncodedTexts([[2]] * len(labels), labels)}


def test_balanced_weights_are_n_over_k_times_the_class_count():
    weights = balanced_weights(Data([0, 0, 0, 1, 2, 2]), 4)  # class 3 is absent: counted as one text
    torch.testing.assert_close(weights, torch.tensor([6 / 12, 6 / 4, 6 / 8, 6 / 4]))
    assert (weights * torch.tensor([3, 1, 2, 1])).tolist()[:3] == pytest.approx([1.5, 1.5, 1.5])


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_given_weights_weigh_the_training_loss_only():
    model = TextClassifier(
        vocab_size=10, num_classes=2, embedding_dim=4, hidden_size=4, class_weights=[1.0, 3.0]
    ).eval()  # no dropout: the two forward passes agree
    batch = {
        "ids": torch.tensor([[2, 3], [4, 0]]),
        "lengths": torch.tensor([2, 1]),
        "labels": torch.tensor([0, 1]),
    }
    logits = model(batch["ids"], batch["lengths"])
    expected = F.cross_entropy(logits, batch["labels"], weight=torch.tensor([1.0, 3.0]))
    torch.testing.assert_close(model.training_step(batch, 0), expected)
    with pytest.raises(ValueError, match="3 weights for 2 classes"):
        TextClassifier(vocab_size=10, num_classes=2, class_weights=[1.0, 1.0, 1.0])


def test_balanced_weights_from_the_recipe(tmp_path):
    train = write_tsv(tmp_path / "train.tsv", TINY_ROWS * 3 + TINY_ROWS[:4] * 3)  # 24 positive, 12 negative
    args = ["fit", "--config", TINY, f"--data.train={train}", "--model.init_args.class_weights=balanced"]
    cli = make_cli([*args, "--trainer.fast_dev_run=true", f"--trainer.default_root_dir={tmp_path}"])
    n = len(cli.datamodule.splits["train"])
    positives = int(cli.datamodule.splits["train"].labels.sum())
    expected = torch.tensor([n / (2 * (n - positives)), n / (2 * positives)])
    torch.testing.assert_close(cli.model.class_weights, expected)
    assert cli.trainer.global_step == 1 and cli.model.hparams.class_weights == "balanced"
