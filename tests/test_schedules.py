"""WarmupCosine: its learning rates, its length from the Trainer, and its state across a resume."""

import json
import math

import pytest
import torch
from conftest import REPO

from textrnn import WarmupCosine
from textrnn.errors import UserError
from textrnn.training.cli import make_cli


def rates(scheduler: WarmupCosine, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(scheduler.get_last_lr()[0])
        scheduler.optimizer.step()
        scheduler.step()
    return out


def test_linear_warmup_then_half_cosine_to_the_floor():
    optimiser = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    lrs = rates(WarmupCosine(optimiser, warmup_steps=4, total_steps=14, min_lr_ratio=0.1), 16)
    assert lrs[:4] == pytest.approx([0.0025, 0.005, 0.0075, 0.01])
    assert lrs[9] == pytest.approx(0.001 + 0.009 * 0.5 * (1 + math.cos(math.pi * 0.5)))  # half way down
    assert lrs[14:] == pytest.approx([0.001, 0.001])  # the floor after total_steps
    assert all(a >= b for a, b in zip(lrs[3:], lrs[4:]))


def test_a_resumed_schedule_continues_where_it_stopped():
    params = [torch.nn.Parameter(torch.zeros(1))]
    first = WarmupCosine(torch.optim.SGD(params, lr=1.0), warmup_steps=3, total_steps=10)
    whole = rates(first, 10)
    again = WarmupCosine(torch.optim.SGD(params, lr=1.0), warmup_steps=3, total_steps=10)
    head = rates(again, 6)
    resumed = WarmupCosine(torch.optim.SGD(params, lr=1.0), warmup_steps=3)
    resumed.load_state_dict(again.state_dict())
    resumed.optimizer.param_groups[0]["lr"] = again.optimizer.param_groups[0]["lr"]
    assert head + rates(resumed, 4) == pytest.approx(whole)


def test_bad_settings_are_refused():
    optimiser = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="min_lr_ratio"):
        WarmupCosine(optimiser, warmup_steps=-1)


def test_a_fit_sets_the_length_from_the_trainer_and_steps_per_batch(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("To be, or not to be, that is the question.\n" * 30, encoding="utf-8")
    scheduler = '{"class_path": "textrnn.WarmupCosine", "init_args": {"warmup_steps": 3, "min_lr_ratio": 0.1}}'
    cli = make_cli(
        ["fit", "--config", str(REPO / "tests/assets/tiny_char.yaml"), f"--data.files=[{text}]"]
        + [f"--model.scheduler={scheduler}", "--trainer.max_epochs=2", f"--trainer.default_root_dir={tmp_path}"]
    )
    schedule = cli.trainer.lr_scheduler_configs[0]
    assert schedule.interval == "step"
    assert schedule.scheduler.total_steps == cli.trainer.global_step > 3  # set from the Trainer's estimate
    assert schedule.scheduler.get_last_lr()[0] == pytest.approx(0.01 * 0.1)  # the recipe's lr, at the floor


def test_fitting_to_time_ends_the_cosine_where_the_speed_so_far_says_the_time_runs_out():
    optimiser = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = WarmupCosine(optimiser, total_steps="max_time")
    assert scheduler.until_max_time and scheduler.total_steps is None
    scheduler.fit_to_time(steps_done=100, elapsed=10.0, remaining=20.0, most_steps=10_000)
    assert scheduler.total_steps == 300  # 10 steps a second for 20 more seconds
    scheduler.fit_to_time(steps_done=100, elapsed=10.0, remaining=20.0, most_steps=250)
    assert scheduler.total_steps == 250  # max_epochs ends the fit first
    scheduler.fit_to_time(steps_done=120, elapsed=30.5, remaining=-0.5, most_steps=10_000)
    assert scheduler.total_steps == 120  # out of time: at the floor now


def test_a_fit_with_max_time_anneals_to_the_floor_when_the_clock_stops_it(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("To be, or not to be, that is the question.\n" * 30, encoding="utf-8")
    init = {"total_steps": "max_time", "min_lr_ratio": 0.1}
    scheduler = json.dumps({"class_path": "textrnn.WarmupCosine", "init_args": init})
    cli = make_cli(
        ["fit", "--config", str(REPO / "tests/assets/tiny_char.yaml"), f"--data.files=[{text}]"]
        + [f"--model.scheduler={scheduler}", "--trainer.max_epochs=-1", "--trainer.max_time=00:00:00:03"]
        + [f"--trainer.default_root_dir={tmp_path}"]
    )
    schedule = cli.trainer.lr_scheduler_configs[0].scheduler
    assert cli.trainer.current_epoch > 2  # the clock, not the epochs, ended it
    assert schedule.total_steps == cli.trainer.global_step  # the cosine's end moved to the last step
    # Lightning steps the schedule before the batch-end hook that sees the clock run out, so the last rate comes
    # from the estimate one batch earlier: at the floor, or a hair above it
    assert schedule.get_last_lr()[0] == pytest.approx(0.01 * 0.1, rel=0.01)


def test_max_time_schedule_without_max_time_is_refused(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("To be, or not to be.\n" * 30, encoding="utf-8")
    scheduler = '{"class_path": "textrnn.WarmupCosine", "init_args": {"total_steps": "max_time"}}'
    with pytest.raises(UserError, match="needs trainer.max_time"):
        make_cli(
            ["fit", "--config", str(REPO / "tests/assets/tiny_char.yaml"), f"--data.files=[{text}]"]
            + [f"--model.scheduler={scheduler}", f"--trainer.default_root_dir={tmp_path}"]
        )
