"""scripts/compare_recipes.py end to end on the tiny classifier: runs, their table, chart and cache."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))  # the script imports its sibling compare_cells
import compare_recipes  # noqa: E402


def test_variants_train_in_parallel_are_tabulated_and_not_trained_twice(tiny_tsv, tmp_path):
    out = tmp_path / "out"
    argv = ["--config", str(REPO / "tests/assets/tiny_classifier.yaml"), "--seeds", "0", "1", "--parallel", "2"]
    argv += ["--set", f"data.init_args.train={tiny_tsv['train']}", "--set", "trainer.max_epochs=2"]
    argv += ["--set", f"data.init_args.validation={tiny_tsv['validation']}", "--out", str(out)]
    argv += ["--variant", "recipe", "--variant", "wide model.init_args.hidden_size=16"]
    printed = compare_recipes.main(argv)
    report = json.loads((out / "compare_recipes.json").read_text())
    runs = {(r["variant"], r["seed"]): r for r in report["runs"]}
    assert sorted(runs) == [("recipe", 0), ("recipe", 1), ("wide", 0), ("wide", 1)]
    for run in runs.values():
        values = [v for _, v in run["curve"]]
        assert run["monitor"] == "val_acc" and len(values) == 2  # one validation per epoch
        assert run["best"] == max(values) and run["last"] == values[-1] and 0 <= run["best"] <= 1
        assert 0 < run["curve"][0][0] < run["curve"][1][0] == pytest.approx(run["minutes"])
    wide = next(v for v in report["variants"] if v["variant"] == "wide")
    assert wide["overrides"] == ["model.init_args.hidden_size=16"]
    assert wide["mean_best"] == pytest.approx(sum(wide["best"]) / 2)
    row = f"| wide | `model.init_args.hidden_size=16` | 0: {wide['best'][0]:.4f}, 1: {wide['best'][1]:.4f} |"
    assert row in printed and printed == (out / "compare_recipes.md").read_text()
    assert (out / "compare_recipes.png").read_bytes()[:4] == b"\x89PNG"
    assert "hidden_size: 16" in (out / "runs" / "wide" / "seed_1" / "hparams.yaml").read_text()
    # a second call reads every finished run instead of training it again
    stamps = {p: p.stat().st_mtime for p in out.rglob("metrics.csv")}
    assert compare_recipes.main(argv) == printed
    assert {p: p.stat().st_mtime for p in out.rglob("metrics.csv")} == stamps
    values = [v for run in report["runs"] for _, v in run["curve"]]
    low, high = compare_recipes.plot(report["runs"], tmp_path / "all.png")
    assert low <= min(values) and max(values) <= high  # by default the chart shows every value
    assert compare_recipes.plot(report["runs"], tmp_path / "zoom.png", (0.25, 0.75)) == (0.25, 0.75)
