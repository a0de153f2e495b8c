"""scripts/bench_serve.py at tiny sizes: every answer under load is right, and the server survives bad input."""

from __future__ import annotations

import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import bench_serve  # noqa: E402


def test_answers_under_load_are_checked_and_right(tmp_path, capsys):
    argv = [
        "--seconds",
        "0.3",
        "--chars",
        "40",
        "--rounds",
        "1",
        "--workers",
        "1",
        "--json",
        str(tmp_path / "s.json"),
    ]
    result = bench_serve.main(argv)
    rows = result["classify"]
    assert [(r["clients"], r["texts_per_request"]) for r in rows] == [
        (c, n) for c in (1, 8, 64) for n in (1, 32)
    ]
    assert all(r["requests"] > 0 and r["wrong"] == 0 and r["per_s"] > 0 and r["ratio"] > 0 for r in rows)
    assert [g["streams"] for g in result["generate"]] == [1, 8]
    assert all(g["chars_per_s_total"] > 0 and g["first_char_ms_p50"] > 0 for g in result["generate"])
    assert result["mixed"] == {"requests": 24, "failures": 0, "healthy_after": True}
    assert "| workers | clients |" in capsys.readouterr().out and (tmp_path / "s.json").is_file()
