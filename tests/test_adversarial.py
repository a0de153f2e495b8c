"""Adversarial training on word vectors: the step's size and direction, and the loss a training step returns."""

import pytest
import torch
import torch.nn.functional as F

from textrnn import TextClassifier
from textrnn.nn.classifier import TextClassifierConfig, TextClassifierNet
from textrnn.training.adversarial import adversarial_loss

NET = dict(vocab_size=30, num_classes=3, embedding_dim=6, hidden_size=5, pooling="max+mean", trainable_rows=20)


def batch() -> dict:
    ids = torch.tensor([[3, 4, 25, 9], [7, 2, 0, 0], [12, 0, 0, 0]])
    return {"ids": ids, "lengths": torch.tensor([4, 2, 1]), "labels": torch.tensor([0, 2, 1])}


def test_the_perturbation_has_norm_eps_per_text_along_the_gradient():
    torch.manual_seed(0)
    net, b = TextClassifierNet(TextClassifierConfig(**NET)).eval(), batch()
    vectors = net.embed(b["ids"])
    loss = F.cross_entropy(net.read(vectors, b["ids"], b["lengths"]), b["labels"])
    got = adversarial_loss(net, vectors, loss, b, eps=0.5)
    (grad,) = torch.autograd.grad(loss, vectors, retain_graph=True)
    r = grad / grad.flatten(1).norm(dim=1).view(-1, 1, 1) * 0.5
    torch.testing.assert_close(r.flatten(1).norm(dim=1), torch.full((3,), 0.5))
    expected = F.cross_entropy(net.read(vectors + r, b["ids"], b["lengths"]), b["labels"])
    torch.testing.assert_close(got, expected)
    assert got > loss  # the step raises the loss
    random = torch.randn_like(r)
    random *= 0.5 / random.flatten(1).norm(dim=1).view(-1, 1, 1)
    assert got > F.cross_entropy(net.read(vectors + random, b["ids"], b["lengths"]), b["labels"])


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_a_training_step_returns_the_clean_loss_plus_the_adversarial_one(eps):
    torch.manual_seed(0)
    module = TextClassifier(adversarial=eps, dropout=0.0, embedding_dropout=0.0, **NET)
    module.log = lambda *args, **kwargs: None  # no Trainer here
    b = batch()
    got = module.training_step(b, 0)
    vectors = module.net.embed(b["ids"])
    clean = F.cross_entropy(module.net.read(vectors, b["ids"], b["lengths"]), b["labels"])
    extra = adversarial_loss(module.net, vectors, clean, b, eps) if eps else 0.0
    torch.testing.assert_close(got, clean + extra)
    got.backward()
    assert module.net.embedding.trained.weight.grad.abs().sum() > 0


def test_a_negative_eps_is_refused():
    with pytest.raises(ValueError, match="adversarial"):
        TextClassifier(adversarial=-1.0, **NET)


def test_label_smoothing_moves_both_losses_towards_the_uniform_target():
    torch.manual_seed(0)
    module = TextClassifier(adversarial=0.3, label_smoothing=0.2, dropout=0.0, embedding_dropout=0.0, **NET)
    module.log = lambda *args, **kwargs: None
    b = batch()
    got = module.training_step(b, 0)
    vectors = module.net.embed(b["ids"])
    logits = module.net.read(vectors, b["ids"], b["lengths"])
    target = torch.full((3, 3), 0.2 / 3).scatter_add(1, b["labels"].view(-1, 1), torch.full((3, 1), 0.8))
    clean = -(target * logits.log_softmax(-1)).sum(-1).mean()  # the smoothed target, written out
    extra = adversarial_loss(module.net, vectors, clean, b, 0.3, module.train_loss)
    torch.testing.assert_close(got, clean + extra)
    plain = adversarial_loss(module.net, vectors, clean, b, 0.3)
    assert not torch.isclose(extra, plain)


def test_label_smoothing_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="label_smoothing"):
        TextClassifier(label_smoothing=1.0, **NET)
