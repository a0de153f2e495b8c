"""Gradient clipping: the same numbers as torch's reference functions, and the YAML/CLI path to it."""

import copy

import lightning.pytorch as pl
import pytest
import torch
from conftest import REPO
from torch import nn
from torch.nn.utils import clip_grad_norm_, clip_grad_value_
from torch.utils.data import DataLoader

import textrnn.training.module
from textrnn import TextClassifier
from textrnn.training.cli import make_cli
from textrnn.training.clipping import clip_gradients, global_grad_norm


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn, self.head = nn.LSTM(3, 5, batch_first=True), nn.Linear(5, 2)
        self.unused = nn.Linear(2, 2)  # never in the graph: its grads stay None and must be skipped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0][:, -1])


def backward_pair() -> tuple[nn.Module, nn.Module]:
    """Two identical tiny models after the same backward; the loss is scaled up so some grads are large."""
    torch.manual_seed(0)
    model, x = Tiny(), torch.randn(4, 7, 3)
    twin = copy.deepcopy(model)
    for m in (model, twin):
        (50 * m(x).pow(2).sum()).backward()
    return model, twin


def grads(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


def flat(gs: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.flatten() for g in gs])


def per_tensor_clip(model: nn.Module, max_norm: float) -> None:
    for p in model.parameters():
        if p.grad is not None:
            clip_grad_norm_([p], max_norm)


def limit(mode: str, gs: list[torch.Tensor]) -> float:
    """A max that some gradients exceed and (for the per-tensor modes) others do not."""
    if mode == "value":
        return flat(gs).abs().quantile(0.8).item()
    if mode == "norm":
        norms = sorted(g.norm().item() for g in gs)
        return (norms[len(norms) // 2 - 1] + norms[len(norms) // 2]) / 2
    return flat(gs).norm().item() / 3


@pytest.mark.parametrize("mode", ["value", "norm", "global_norm"])
def test_each_mode_equals_the_torch_reference_exactly(mode):
    model, twin = backward_pair()
    before = grads(model)
    assert all(torch.equal(a, b) for a, b in zip(before, grads(twin)))
    max_value = limit(mode, before)

    returned = clip_gradients(model.parameters(), mode, max_value)
    reference = {
        "value": lambda: clip_grad_value_(twin.parameters(), max_value),
        "norm": lambda: per_tensor_clip(twin, max_value),
        "global_norm": lambda: clip_grad_norm_(twin.parameters(), max_value),
    }
    reference[mode]()

    after = grads(model)
    assert all(torch.equal(a, b) for a, b in zip(after, grads(twin)))
    assert not torch.equal(flat(after), flat(before))  # the max was hit
    assert returned.dim() == 0 and torch.equal(returned, torch.nn.utils.get_total_norm(before))  # pre-clip
    assert model.unused.weight.grad is None


def test_global_norm_keeps_the_direction_and_lands_on_the_max():
    model, _ = backward_pair()
    tensors = grads(model)
    before = flat(tensors)
    max_value = before.norm().item() / 3
    returned = clip_gradients(model.parameters(), "global_norm", max_value)
    after = flat(grads(model))
    assert torch.equal(returned, torch.nn.utils.get_total_norm(tensors))  # the pre-clip norm
    assert torch.cosine_similarity(before, after, dim=0).item() == pytest.approx(1.0, abs=1e-6)
    assert after.norm().item() == pytest.approx(max_value, abs=1e-5)
    assert torch.allclose(after, before * max_value / before.norm(), rtol=1e-5, atol=0)


@pytest.mark.parametrize("mode", ["value", "norm", "global_norm"])
def test_nothing_changes_below_the_max(mode):
    model, _ = backward_pair()
    before = grads(model)
    returned = clip_gradients(model.parameters(), mode, flat(before).norm().item() * 2)
    assert all(torch.equal(a, b) for a, b in zip(before, grads(model)))
    assert torch.equal(returned, global_grad_norm(model.parameters()))


def test_per_tensor_norm_caps_each_tensor_and_leaves_small_ones_alone():
    model, _ = backward_pair()
    before = grads(model)
    max_value = limit("norm", before)
    clip_gradients(model.parameters(), "norm", max_value)
    small = 0
    for b, a in zip(before, grads(model)):
        assert a.norm().item() <= max_value + 1e-6
        if b.norm().item() <= max_value:
            small += 1
            assert torch.equal(a, b)
        else:
            assert a.norm().item() == pytest.approx(max_value, rel=1e-5)
    assert 0 < small < len(before)


def test_no_gradients_give_a_zero_norm_and_bad_modes_are_refused():
    assert global_grad_norm(nn.Linear(2, 2).parameters()).item() == 0.0
    with pytest.raises(ValueError, match="value, norm, global_norm"):
        clip_gradients(nn.Linear(2, 2).parameters(), "l2", 1.0)
    with pytest.raises(ValueError, match="grad_clip must be one of value, norm, global_norm"):
        TextClassifier(vocab_size=10, num_classes=2, grad_clip="global")
    with pytest.raises(ValueError, match="grad_clip_max must be positive"):
        TextClassifier(vocab_size=10, num_classes=2, grad_clip="norm", grad_clip_max=0.0)


def tiny_classifier(**kwargs) -> TextClassifier:
    return TextClassifier(vocab_size=20, num_classes=2, embedding_dim=6, hidden_size=4, **kwargs)


def classifier_after_backward(**kwargs) -> TextClassifier:
    torch.manual_seed(0)
    model = tiny_classifier(**kwargs)
    ids, lengths = torch.randint(2, 20, (3, 5)), torch.tensor([5, 4, 2])
    (100 * model(ids, lengths).pow(2).sum()).backward()
    return model


def test_the_module_clips_with_its_own_settings():
    model = classifier_after_backward(grad_clip="global_norm", grad_clip_max=0.05)
    twin = copy.deepcopy(model)
    assert model.hparams.grad_clip == "global_norm" and model.hparams.grad_clip_max == 0.05
    model.configure_gradient_clipping(optimizer=None)
    clip_grad_norm_(twin.parameters(), 0.05)
    assert all(torch.equal(a, b) for a, b in zip(grads(model), grads(twin)))
    assert global_grad_norm(model.parameters()).item() == pytest.approx(0.05, rel=1e-5)
    with pytest.raises(ValueError, match="gradient_clip_val=0.5 are set: keep one"):
        model.configure_gradient_clipping(optimizer=None, gradient_clip_val=0.5)


class RecordNorms(pl.Callback):
    """The global gradient norm of each step before clipping, and after it (the step leaves grads alone)."""

    def __init__(self):
        self.before, self.after = [], []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.before.append(global_grad_norm(pl_module.parameters()))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.after.append(global_grad_norm(pl_module.parameters()))


def fit_tiny(model: TextClassifier, **trainer_kwargs) -> tuple[pl.Trainer, RecordNorms]:
    torch.manual_seed(0)
    batches = [
        {
            "ids": torch.randint(2, 20, (4, 6)),
            "lengths": torch.tensor([6, 5, 3, 2]),
            "labels": torch.tensor([0, 1, 0, 1]),
        }
        for _ in range(2)
    ]
    model.configure_callbacks = list  # no checkpoint or throughput callbacks: nothing but the loop
    record = RecordNorms()
    trainer = pl.Trainer(
        max_epochs=1,
        limit_val_batches=0,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[record],
        log_every_n_steps=1,  # grad_norm is computed on the steps the logger writes
        **trainer_kwargs,
    )
    trainer.fit(model, train_dataloaders=DataLoader(batches, batch_size=None))
    return trainer, record


def test_training_clips_and_logs_the_pre_clip_norm():
    trainer, record = fit_tiny(tiny_classifier(grad_clip="global_norm", grad_clip_max=1e-3))
    assert len(record.before) == 2 and torch.equal(trainer.callback_metrics["grad_norm"], record.before[-1])
    assert record.before[-1] > 0.01 and record.after[-1].item() == pytest.approx(1e-3, rel=1e-4)


def test_the_trainers_clipping_still_works_alone_but_not_with_grad_clip():
    _, record = fit_tiny(tiny_classifier(), gradient_clip_val=1e-3)
    assert record.before[-1] > 0.01 and record.after[-1].item() == pytest.approx(1e-3, rel=1e-4)
    with pytest.raises(ValueError, match="keep one"):
        fit_tiny(tiny_classifier(grad_clip="norm"), gradient_clip_val=0.5)


def test_the_cli_sets_clipping_from_yaml_keys(tmp_path, monkeypatch):
    calls = []

    def spy(parameters, mode, max_value):
        calls.append((mode, max_value))
        return clip_gradients(parameters, mode, max_value)

    monkeypatch.setattr(textrnn.training.module, "clip_gradients", spy)
    text = tmp_path / "text.txt"
    text.write_text("to be or not to be, that is the question.\n" * 20)
    cli = make_cli(
        [
            "fit",
            "--config",
            str(REPO / "tests" / "assets" / "tiny_char.yaml"),
            f"--data.files=[{text}]",
            "--model.init_args.grad_clip",
            "value",
            "--model.init_args.grad_clip_max=0.25",
            "--trainer.fast_dev_run=true",
            f"--trainer.default_root_dir={tmp_path}",
        ]
    )
    assert cli.model.grad_clip == "value" and cli.model.hparams.grad_clip_max == 0.25
    assert calls == [("value", 0.25)]
    assert torch.isfinite(cli.trainer.callback_metrics["grad_norm"])


def test_the_cli_refuses_an_unknown_mode_when_parsing(capsys):
    with pytest.raises(SystemExit):
        make_cli(
            [
                "fit",
                "--config",
                str(REPO / "tests" / "assets" / "tiny_char.yaml"),
                "--model.init_args.grad_clip=l2",
            ]
        )
    assert "Literal['value', 'norm', 'global_norm']" in capsys.readouterr().err
