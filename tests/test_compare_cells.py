"""scripts/compare_cells.py end to end on tiny recipes: the numbers, the tables and the chart."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest
from conftest import REPO

ASSETS = REPO / "tests" / "assets"


def load_script():
    spec = importlib.util.spec_from_file_location("compare_cells", REPO / "scripts" / "compare_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def report(tiny_tsv, tmp_path):
    """Two variants per task, one epoch each, on the tiny recipes and data."""
    text = tmp_path / "text.txt"
    text.write_text("To be, or not to be, that is the question.\n" * 20)
    out, png = tmp_path / "out", tmp_path / "chart" / "cells.png"
    argv = ["--cells", "nn.LSTM", "peephole_lstm", "--epochs", "1", "--out", str(out), "--png", str(png)]
    argv += ["--config_sst2", str(ASSETS / "tiny_classifier.yaml")]
    argv += ["--config_char", str(ASSETS / "tiny_char.yaml")]
    argv += ["--sst2", f"data.init_args.train={tiny_tsv['train']}"]
    argv += ["--sst2", f"data.init_args.validation={tiny_tsv['validation']}"]
    argv += ["--char", f"data.init_args.files=[{text}]", "--char", "model.init_args.hidden_size=16"]
    argv += ["--char", "data.init_args.seq_len=16", "--char", "data.init_args.batch_size=4"]
    argv += ["--set", "trainer.accelerator=cpu"]
    printed = load_script().main(argv)
    return out, png, printed


def check_numbers(rows: dict) -> None:
    """One row per task and variant, each metric in its range."""
    expected = [("char", v) for v in ("nn.LSTM", "peephole_lstm")] + [
        ("sst2", v) for v in ("nn.LSTM", "peephole_lstm")
    ]
    assert sorted(rows) == expected
    for r in rows.values():
        assert r["params"] > r["encoder_params"] > 0 and r["epochs"] == 1
        assert len(r["epoch_sec"]) == 1 and r["sec_per_epoch"] > 0
        assert r["cell_impl"] == ("auto" if r["variant"] == "nn.LSTM" else "equations")
    for variant in ("nn.LSTM", "peephole_lstm"):
        sst2, char = rows["sst2", variant], rows["char", variant]
        assert 0 <= sst2["best_val_acc"] <= 1 and 0 <= sst2["last_val_acc"] <= sst2["best_val_acc"]
        assert char["best_val_loss"] > 0 and char["last_val_loss"] >= char["best_val_loss"]
        assert char["best_val_bpc"] == pytest.approx(char["best_val_loss"] / math.log(2))


def check_params(rows: dict) -> None:
    """Peepholes add p_i, p_f, p_o (3 * H) per cell, and nothing else."""
    # classifier: H=8, one bidirectional layer (2 cells); char: H=16 (overridden), two layers (2 cells)
    for task, hidden, cells in (("sst2", 8, 2), ("char", 16, 2)):
        lstm, peephole = rows[task, "nn.LSTM"], rows[task, "peephole_lstm"]
        assert lstm["hidden_size"] == hidden and lstm["num_layers"] * lstm["directions"] == cells
        assert peephole["encoder_params"] - lstm["encoder_params"] == 3 * hidden * cells
        assert peephole["params"] - lstm["params"] == 3 * hidden * cells


def check_markdown(md: str, rows: dict) -> None:
    """The command, then one table per task with every row's numbers."""
    assert "Command: `python scripts/compare_cells.py --cells nn.LSTM peephole_lstm --epochs 1" in md
    assert md.index("## SST-2") < md.index("## Tiny Shakespeare")
    for (task, variant), r in rows.items():
        metric = r["best_val_acc"] if task == "sst2" else r["best_val_loss"]
        assert f"| {variant} | {r['cell']} | {r['cell_impl']} | {metric:.4f} |" in md
        assert f"| {r['params']:,} | {r['encoder_params']:,} | {r['sec_per_epoch']:.1f} |" in md


def test_compare_cells_reports_every_task_and_variant(report):
    out, png, printed = report
    data = json.loads((out / "compare_cells.json").read_text())
    rows = {(r["task"], r["variant"]): r for r in data["rows"]}
    check_numbers(rows)
    check_params(rows)
    # every variant of a task got the same budget: the script's, then the command line's overrides
    char_budget = data["meta"]["budget"]["char"]
    assert "--trainer.max_epochs=1" in char_budget
    assert char_budget[-2:] == ["--data.init_args.seq_len=16", "--data.init_args.batch_size=4"]
    md = (out / "compare_cells.md").read_text()
    assert md == printed
    check_markdown(md, rows)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1024
    assert not list(out.rglob("*.ckpt"))  # checkpoints are not kept by default
