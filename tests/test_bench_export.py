"""scripts/bench_export.py at tiny sizes: the runtimes agree, every rate is positive, the JSON is written."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from conftest import REPO, TINY_ROWS, write_tsv

pytest_plugins = ["test_cli", "test_generate"]
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")


def load_script():
    spec = importlib.util.spec_from_file_location("bench_export", REPO / "scripts" / "bench_export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_classifier_and_char_model_agree_across_runtimes(trained, char_ckpt, tmp_path, capsys):
    texts = write_tsv(tmp_path / "texts.tsv", TINY_ROWS * 3)
    argv = ["--classifier", str(trained[1]), "--texts", str(texts), "--batch-size", "5"]
    argv += [
        "--char",
        str(char_ckpt[1]),
        "--steps",
        "20",
        "--repeats",
        "2",
        "--json",
        str(tmp_path / "out.json"),
    ]
    argv += ["--threads", str(torch.get_num_threads())]  # leave the process's thread count as it was
    result = load_script().main(argv)
    rows = result["rows"]
    assert [(r["case"].split(",")[0], r["runtime"]) for r in rows] == [
        (case, runtime)
        for case in ("classifier", "char model")
        for runtime in ("PyTorch", "TorchScript", "ONNX")
    ]
    assert rows[0]["case"] == "classifier, 24 texts, batch 5"
    for r in rows:
        assert r["value"] > 0 and r["speedup"] > 0
        assert r["max_abs_diff"] < 1e-4, (r["case"], r["runtime"])
    assert json.loads((tmp_path / "out.json").read_text()) == result
    assert "| char model, batch 1, 20 steps | ONNX |" in capsys.readouterr().out
