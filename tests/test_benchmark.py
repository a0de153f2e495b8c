"""scripts/benchmark.py end to end at tiny sizes: every case, sane numbers, the JSON and the table."""

from __future__ import annotations

import json
import math
import sys

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import benchmark  # noqa: E402

EXPECTED = {  # case -> rows at tiny sizes
    "training": 2,  # SST-2 and char
    "bucketing": 4,  # tokens/s and padded share, SST-2 and IMDB-length
    "generation": 3,  # characters/s at 2 batch sizes, time per character at 1 longer length
    "embeddings": 2,  # the package and a text file (no extend_vocab row at tiny sizes)
    "tokenize": 2,  # SST-2 and IMDB-length
}


def run_tiny(out, monkeypatch) -> dict:
    """The harness at tiny sizes, with the test GloVe file instead of one written from the package."""
    monkeypatch.chdir(REPO)  # the recipes' data paths are relative to the repository
    vectors = REPO / "tests" / "assets" / "tiny_glove.txt"
    return benchmark.main(["--tiny", "--out", str(out), "--vectors", str(vectors)])


def check_json(out, returned: dict) -> None:
    """Every case, each number finite and positive, ratio = textrnn / baseline."""
    data = json.loads((out / "benchmark.json").read_text())
    assert data["rows"] == returned["rows"]
    counts = {case: sum(r["case"] == case for r in data["rows"]) for case in EXPECTED}
    assert counts == EXPECTED
    for r in data["rows"]:
        for key in ("textrnn", "baseline", "ratio"):
            assert math.isfinite(r[key]) and r[key] > 0, (r["measurement"], key)
        assert r["ratio"] == pytest.approx(r["textrnn"] / r["baseline"])
        assert len(r["textrnn_runs"]) == len(r["baseline_runs"]) >= 1
        assert r["met"] is None or isinstance(r["met"], bool)
    meta = data["meta"]
    assert meta["torch"] and meta["device"] == "cpu" and meta["mode"] == "tiny" and meta["threads"] >= 1


def check_bucketing(returned: dict) -> None:
    """Padded shares in [0, 1], bucketed below random."""
    rows = [r for r in returned["rows"] if r["case"] == "bucketing" and r["unit"] == "share"]
    assert len(rows) == 2
    for r in rows:
        assert 0 <= r["textrnn"] <= r["baseline"] <= 1
        assert r["met"] is True


def check_embeddings(returned: dict) -> None:
    """The target is on the cached time itself."""
    for r in (r for r in returned["rows"] if r["case"] == "embeddings"):
        assert r["target"] == ["textrnn", "<=", 0.5]
        assert r["met"] == (r["textrnn"] <= 0.5)


def check_markdown(out, returned: dict) -> None:
    """The header line, the table head, one line per row."""
    md = (out / "benchmark.md").read_text()
    assert "torch " in md and "device cpu" in md and "threads" in md and "CPUs" in md
    assert "| case | measurement | textrnn | baseline | ratio | target | met |" in md
    for r in returned["rows"]:
        line = next(line for line in md.splitlines() if r["measurement"] in line)
        assert line.startswith(f"| {r['case']} |") and f"| {r['ratio']:.3f} |" in line


def test_benchmark_runs_every_case_and_reports_it(tmp_path, monkeypatch):
    out = tmp_path / "benchmark"
    returned = run_tiny(out, monkeypatch)
    check_json(out, returned)
    check_bucketing(returned)
    check_embeddings(returned)
    check_markdown(out, returned)


def test_best_is_the_highest_rate_or_the_lowest_time_and_median_is_the_median():
    rate = {"unit": "tokens/s", "textrnn_runs": [3.0, 9.0, 6.0], "baseline_runs": [4.0, 2.0, 8.0]}
    time = {"unit": "s", "textrnn_runs": [3.0, 9.0, 6.0], "baseline_runs": [4.0, 2.0, 8.0]}
    own = {**rate, "textrnn_best": 5.0, "baseline_best": 10.0}  # e.g. training: per-batch best times
    for row, best, median in ((rate, (9, 8), (6, 4)), (time, (3, 2), (6, 4)), (own, (5, 10), (6, 4))):
        for statistic, expected in (("best", best), ("median", median)):
            done = benchmark.finish({**row, "case": "c", "measurement": "m", "target": None}, statistic)
            assert (done["textrnn"], done["baseline"]) == expected
            assert done["ratio"] == pytest.approx(expected[0] / expected[1]) and done["met"] is None
    done = benchmark.finish({**time, "case": "c", "measurement": "m", "target": ("textrnn", "<=", 2.5)})
    assert done["target"] == ["textrnn", "<=", 2.5] and done["met"] is False
