"""Temperature scaling: the fitted temperature undoes a known distortion, lowers the calibration error, and
travels with the model from training to every prediction."""

import math

import pytest
import torch

from textrnn import load_classifier, save_pretrained
from textrnn.inference.calibration import expected_calibration_error, fit_temperature
from textrnn.inference.loading import read_model

pytest_plugins = ["test_cli"]


def over_confident(n: int = 4000, scale: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels drawn from softmax(true logits); a model reporting ``scale`` times those logits."""
    gen = torch.Generator().manual_seed(0)
    true_logits = torch.randn(n, 3, generator=gen) * 2
    labels = torch.multinomial(torch.softmax(true_logits, -1), 1, generator=gen).squeeze(1)
    return true_logits * scale, labels


def test_the_fitted_temperature_undoes_the_over_confidence():
    logits, labels = over_confident(scale=3.0)
    t = fit_temperature(logits, labels)
    assert t == pytest.approx(3.0, rel=0.1)
    before = expected_calibration_error(torch.softmax(logits, -1), labels)
    after = expected_calibration_error(torch.softmax(logits / t, -1), labels)
    assert before > 0.1 and after < 0.03


def test_the_calibration_error_of_exact_cases():
    labels = torch.tensor([0, 0, 1, 1])
    assert expected_calibration_error(torch.tensor([[1.0, 0.0]] * 2 + [[0.0, 1.0]] * 2), labels) == 0.0
    # all four at confidence 0.9 for class 0, half of them right: |0.5 - 0.9| = 0.4
    assert expected_calibration_error(torch.tensor([[0.9, 0.1]] * 4), labels) == pytest.approx(0.4)


def test_the_temperature_travels_from_training_to_predictions(trained, tmp_path):
    cli, ckpt, _, _ = trained
    record, _ = read_model(ckpt)
    t = record.calibration_temperature
    assert t > 0 and t != 1.0 and math.isfinite(t)
    texts = ["a wonderful film", "i hated it"]
    classifier = load_classifier(ckpt, device="cpu")
    logits = classifier.net(*_batch(classifier, texts))
    assert torch.allclose(classifier.predict_proba(texts), torch.softmax(logits / t, -1), atol=1e-6)
    folder = save_pretrained(ckpt, tmp_path / "model")
    assert torch.equal(
        load_classifier(folder, device="cpu").predict_proba(texts), classifier.predict_proba(texts)
    )


def _batch(classifier, texts):
    from textrnn.text.batching import pad_batch

    batch = pad_batch([(i, torch.tensor(classifier.encode(t)), -1) for i, t in enumerate(texts)])
    return batch["ids"], batch["lengths"]
