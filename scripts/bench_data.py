"""Data larger than memory: set-up time, peak memory and training speed of the data modules on big inputs.

    python scripts/bench_data.py [--mb 1024] [--texts 1000000] [--folder /tmp/textrnn-bench] [--json data.json]

Character text: the bundled Tiny Shakespeare repeated to ``--mb`` megabytes. Measured, each in a fresh process
(peak resident memory is the process's own): the first set-up of ``CharLMData`` (tokenising into the token
store), the set-up from the cache, and training steps of the CPU recipe's network on the store against the same
steps on the bundled corpus held in memory as int64 (the path hub datasets take). Labelled text: SST-2 train
repeated to ``--texts`` rows, set up by ``TextClassificationData`` twice (the second run maps the token store
the first wrote). Goals from the issue: 1 GB text first set-up ≤ 120 s, cached ≤ 5 s, peak ≤ 1.5 GB,
training speed unchanged; a million texts peak ≤ 3 GB, cached set-up ≤ 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHAKESPEARE = REPO / "data" / "shakespeare" / "input.txt"
SST2 = REPO / "data" / "sst2" / "train.tsv"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_setup(kind: str, path: str) -> dict:
    """Set up a data module on ``path``; seconds and peak memory."""
    from textrnn import CharLMData, TextClassificationData

    start = time.perf_counter()
    if kind == "char":
        data = CharLMData(files=[path], val_fraction=0.001)
    else:
        data = TextClassificationData(train=path, val_fraction=0.01, text_column="sentence")
    data.prepare_data()
    data.setup("fit")
    return {"seconds": time.perf_counter() - start, "peak_mb": peak_mb(), "vocab": len(data.vocab)}


def child_train(path: str, steps: int) -> dict:
    """Training steps of the CPU recipe's network (1 x 384 LSTM, batch 64 x 128) on ``path``'s streams: the
    token store for a file, or with ``in-memory`` the bundled corpus as an int64 tensor."""
    import torch

    from textrnn import CharLMData
    from textrnn.nn.char_lm import CharLMConfig, CharLMNet
    from textrnn.text.streams import CharStreams

    torch.manual_seed(0)
    data = CharLMData(files=[str(SHAKESPEARE) if path == "in-memory" else path], val_fraction=0.001)
    data.setup("fit")
    ids = data.parts["train"].long().clone() if path == "in-memory" else data.parts["train"]
    net = CharLMNet(CharLMConfig(len(data.vocab), embedding_dim=64, hidden_size=384))
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    batches, state, timed = iter(CharStreams(ids, 64, 128)), None, 0.0
    for step in range(steps + 3):  # the first 3 warm up
        start = time.perf_counter()
        inputs, targets = next(batches)
        logits, state = net(inputs, state)
        state = tuple(s.detach() for s in state)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        timed += (time.perf_counter() - start) if step >= 3 else 0.0
    return {"chars_per_s": steps * 64 * 128 / timed, "peak_mb": peak_mb(), "dtype": str(ids.dtype)}


def run_child(*args: str) -> dict:
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, __file__, "child", *args], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_inputs(folder: Path, mb: int, texts: int) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    big_text, big_table = folder / f"shakespeare_{mb}mb.txt", folder / f"sst2_{texts}.tsv"
    if not big_text.is_file():
        corpus = SHAKESPEARE.read_bytes()
        with big_text.open("wb") as f:
            for _ in range(-(-mb * 2**20 // len(corpus))):
                f.write(corpus)
    if not big_table.is_file():
        header, *rows = SST2.read_text(encoding="utf-8").splitlines(keepends=True)
        with big_table.open("w", encoding="utf-8") as f:
            f.write(header)
            for i in range(texts):
                f.write(rows[i % len(rows)])
    return big_text, big_table


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="megabytes of character text")
    parser.add_argument("--texts", type=int, default=1_000_000, help="labelled texts")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps")
    parser.add_argument("--folder", default="/tmp/textrnn-bench", help="where the inputs and the cache go")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    folder = Path(args.folder)
    os.environ["TEXTRNN_CACHE"] = str(folder / "cache")
    os.environ["HF_DATASETS_CACHE"] = str(folder / "hf")
    big_text, big_table = make_inputs(folder, args.mb, args.texts)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "text_bytes": big_text.stat().st_size}
    result["char_first"], result["char_cached"] = run_child("setup", "char", str(big_text)), None
    result["char_cached"] = run_child("setup", "char", str(big_text))
    result["train_store"] = run_child("train", str(big_text), str(args.steps))
    result["train_in_memory"] = run_child("train", "in-memory", str(args.steps))
    result["texts_first"] = run_child("setup", "texts", str(big_table))
    result["texts_cached"] = run_child("setup", "texts", str(big_table))
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        kind, *rest = sys.argv[2:]
        report = child_setup(*rest) if kind == "setup" else child_train(rest[0], int(rest[1]))
        print(json.dumps(report))
    else:
        main()
