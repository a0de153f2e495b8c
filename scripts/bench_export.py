"""Inference speed of a trained model in PyTorch against its ONNX (onnxruntime) and TorchScript exports.

    python scripts/bench_export.py --classifier CKPT [--texts data/sst2/dev.tsv] [--batch-size 64]
    python scripts/bench_export.py --char CKPT [--steps 2000]
    python scripts/bench_export.py --classifier CKPT --char CKPT --threads 1 --json export.json

Classifier: texts/s over the texts, encoded once, sorted by length and padded into the same batches for
the three runtimes. Character model: microseconds per generated character at batch 1, one step
``(ids (1, 1), state) -> (logits, state)`` at a time, feeding back a fixed id (no sampling). Each
runtime is timed best of ``--repeats`` (order alternating), torch and onnxruntime on the same number of
threads; the table gives the speed-up over PyTorch and the largest logit difference from PyTorch's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from textrnn.inference.classify import load_classifier
from textrnn.inference.generate import load_generator
from textrnn.text.batching import pad_batch
from textrnn.tools.export import export
from textrnn.tools.export_graphs import quiet_exporter

RUNTIMES = ("PyTorch", "TorchScript", "ONNX")
CHECK_STEPS = 200  # steps whose logits are compared across runtimes
FIXED_ID = 2  # the first id after <pad> and <unk>, fed back at every step


def read_sentences(path: str | Path) -> list[str]:
    """The sentence column of a GLUE TSV file (one header line, ``sentence\\tlabel``)."""
    with open(path, encoding="utf-8") as f:
        next(f)
        return [line.rsplit("\t", 1)[0] for line in f if line.strip()]


def exports(checkpoint: str | Path, threads: int) -> tuple[torch.jit.ScriptModule, ort.InferenceSession]:
    """The checkpoint exported to a temporary folder and loaded back: TorchScript module, ONNX session."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    with tempfile.TemporaryDirectory() as tmp:
        script = export(checkpoint, "torchscript", Path(tmp) / "model.pt")
        onnx_path = export(checkpoint, "onnx", Path(tmp) / "model.onnx")
        with quiet_exporter():
            module = torch.jit.load(str(script)).eval()
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    return module, session


def best_seconds(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best of ``repeats`` seconds of each run, after one warm-up each; the order alternates."""
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(repeats):
        for name in list(runs)[:: 1 if r % 2 == 0 else -1]:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    return {name: min(seconds) for name, seconds in times.items()}


def rows_for(case: str, unit: str, seconds: dict[str, float], per: int, diffs: dict[str, float]) -> list[dict]:
    """One row per runtime: texts/s (``per`` texts) or µs/char (``per`` steps), speed-up, logit difference."""
    rate = {name: per / s if unit == "texts/s" else s / per * 1e6 for name, s in seconds.items()}
    return [
        {"case": case, "runtime": name, "value": rate[name], "unit": unit}
        | {"speedup": seconds["PyTorch"] / seconds[name], "max_abs_diff": diffs[name]}
        for name in RUNTIMES
    ]


def classifier_rows(
    checkpoint: str | Path, texts: str | Path, batch_size: int = 64, threads: int = 1, repeats: int = 5
) -> list[dict]:
    """Texts/s of the classifier in each runtime over the texts in length-sorted padded batches."""
    clf = load_classifier(checkpoint, device="cpu")
    ids = [torch.tensor(clf.encode(text)) for text in read_sentences(texts)]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    chunks = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    batches = [pad_batch([(i, ids[i], -1) for i in chunk]) for chunk in chunks]
    feeds = [{"ids": b["ids"].numpy(), "lengths": b["lengths"].numpy()} for b in batches]
    module, session = exports(checkpoint, threads)

    @torch.inference_mode()
    def pytorch() -> torch.Tensor:
        return torch.cat([clf.net(b["ids"], b["lengths"]) for b in batches])

    @torch.inference_mode()
    def torchscript() -> torch.Tensor:
        return torch.cat([module(b["ids"], b["lengths"]) for b in batches])

    def onnx() -> torch.Tensor:
        return torch.from_numpy(np.concatenate([session.run(None, feed)[0] for feed in feeds]))

    runs = dict(zip(RUNTIMES, (pytorch, torchscript, onnx)))
    reference = pytorch()
    diffs = {name: float((run() - reference).abs().max()) for name, run in runs.items()}
    case = f"classifier, {len(ids)} texts, batch {batch_size}"
    return rows_for(case, "texts/s", best_seconds(runs, repeats), len(ids), diffs)


def char_steppers(checkpoint: str | Path, threads: int) -> dict[str, Callable[[int], list[np.ndarray]]]:
    """Per runtime, a function that runs that many steps at batch 1 from a zero state; it returns each
    step's logits (V,)."""
    net = load_generator(checkpoint, device="cpu").net
    module, session = exports(checkpoint, threads)
    states = session.get_inputs()[1:]  # h, or h and c: (layers, batch, hidden) each
    names, zeros = [i.name for i in states], [torch.zeros(i.shape[0], 1, i.shape[2]) for i in states]
    ids = torch.full((1, 1), FIXED_ID)

    @torch.inference_mode()
    def pytorch(steps: int) -> list[np.ndarray]:
        state, out = (zeros[0] if len(zeros) == 1 else tuple(zeros)), []
        for _ in range(steps):
            logits, state = net.step(ids[0], state)  # what generation calls per character
            out.append(logits[0].numpy())
        return out

    @torch.inference_mode()
    def torchscript(steps: int) -> list[np.ndarray]:
        state, out = zeros, []
        for _ in range(steps):
            logits, *state = module(ids, *state)
            out.append(logits[0, -1].numpy())
        return out

    def onnx(steps: int) -> list[np.ndarray]:
        feed = {"ids": ids.numpy()} | {name: z.numpy() for name, z in zip(names, zeros)}
        out = []
        for _ in range(steps):
            logits, *state = session.run(None, feed)
            feed |= dict(zip(names, state))
            out.append(logits[0, -1])
        return out

    return dict(zip(RUNTIMES, (pytorch, torchscript, onnx)))


def char_rows(
    checkpoint: str | Path, steps: int = 2000, threads: int = 1, repeats: int = 5, check: int = CHECK_STEPS
) -> list[dict]:
    """Microseconds per generated character at batch 1 in each runtime."""
    steppers = char_steppers(checkpoint, threads)
    reference = np.stack(steppers["PyTorch"](check))
    diffs = {name: float(np.abs(np.stack(run(check)) - reference).max()) for name, run in steppers.items()}
    runs = {name: (lambda run=run: run(steps)) for name, run in steppers.items()}
    case = f"char model, batch 1, {steps} steps"
    return rows_for(case, "µs/char", best_seconds(runs, repeats), steps, diffs)


def table(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    lines = [
        "| case | runtime | speed | speed-up vs PyTorch | max abs logit diff |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        speed = f"{r['value']:,.{0 if r['unit'] == 'texts/s' else 1}f} {r['unit']}"
        lines.append(
            f"| {r['case']} | {r['runtime']} | {speed} | {r['speedup']:.2f} | {r['max_abs_diff']:.1e} |"
        )
    return "\n".join(lines)


def machine() -> str:
    """The CPU model (/proc/cpuinfo, else platform.processor) and the number of CPUs."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    return f"{model.group(1) if model else platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> dict:
    """Run the cases asked for, print the machine and the table; return (and optionally write) the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", help="a classification checkpoint (default: skip that case)")
    parser.add_argument("--texts", default="data/sst2/dev.tsv", help="GLUE TSV whose sentences to classify")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--char", help="a character-model checkpoint (default: skip that case)")
    parser.add_argument("--steps", type=int, default=2000, help="characters generated per timing")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    meta = {
        "machine": machine(),
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "threads": args.threads,
        "repeats": args.repeats,
    }
    rows = []
    if args.classifier:
        rows += classifier_rows(args.classifier, args.texts, args.batch_size, args.threads, args.repeats)
    if args.char:
        rows += char_rows(args.char, args.steps, args.threads, args.repeats)
    print(", ".join(f"{k} {v}" for k, v in meta.items()) + "\n")
    print(table(rows))
    result = {"meta": meta, "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
