"""Benchmark textrnn against baselines measured in the same run; write JSON and a markdown table.

Run from the repository root (the recipes' data paths are relative to it):

    python scripts/benchmark.py --quick                    # every case, CPU, a few minutes
    python scripts/benchmark.py                            # full sizes
    python scripts/benchmark.py --cases training generation --device cuda

Cases (each compares with a baseline timed alongside it, alternating, because absolute times on a shared
machine are noisy; the table shows the best of ``--repeats`` runs, or with ``--statistic median`` the
median):

- training: tokens/s of ``trainer.fit`` (textrnn's LightningModule, the recipe's data module) vs a plain
  PyTorch loop over the same net, initial weights, batches, optimiser and clipping (scripts/bench_training.py);
- bucketing: tokens/s and padded share, length-bucketed vs randomly composed batches (same file);
- generation: characters/s of ``Generator.generate`` vs the bare recurrent step, and the time per character
  as the text grows (scripts/bench_generate.py);
- embeddings: building the SST-2 embedding matrix, cached vs first build (scripts/bench_embeddings.py);
- tokenize: ``word_tokenize`` + ``Vocab.encode`` vs ``re.findall`` + ``dict.get`` (scripts/bench_tokenize.py).

Writes ``<out>/benchmark.json`` (every repeat's value too) and ``<out>/benchmark.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import operator
import os
import platform
import shlex
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

CASES = ("training", "bucketing", "generation", "embeddings", "tokenize")
# sizes per mode; --tiny exists for tests/test_benchmark.py, so that the harness cannot rot
SIZES = {
    "full": {
        "training": {"batches": {"sst2": 100, "char": 25}, "warmup": 5},
        "bucketing": {"batches": {"sst2": 100, "imdb": 15}, "warmup": 3, "imdb_texts": 25_000},
        "generation": {"lengths": (200, 2000, 20000), "rate_length": 2000},
        "embeddings": {"lines": 400_000, "extend_vocab": 100_000},
        "tokenize": {"sst2_texts": None, "imdb_texts": 25_000},
    },
    "quick": {
        "training": {"batches": {"sst2": 40, "char": 8}, "warmup": 3},
        "bucketing": {"batches": {"sst2": 20, "imdb": 4}, "warmup": 2, "imdb_texts": 5_000},
        "generation": {"lengths": (200, 2000, 5000), "rate_length": 1000},
        "embeddings": {"lines": 400_000, "extend_vocab": 100_000},
        "tokenize": {"sst2_texts": None, "imdb_texts": 5_000},
    },
    "tiny": {
        "training": {"batches": {"sst2": 3, "char": 2}, "warmup": 1},
        "bucketing": {"batches": {"sst2": 3, "imdb": 1}, "warmup": 1, "imdb_texts": 200},
        "generation": {"lengths": (20, 50), "rate_length": 50, "batch_sizes": (1, 4)},
        "embeddings": {"lines": 1_000, "extend_vocab": 0},
        "tokenize": {"sst2_texts": 2_000, "imdb_texts": 50},
    },
}
OPS = {"<=": (operator.le, "≤"), ">=": (operator.ge, "≥")}
NOTES = [
    "textrnn and baseline are timed alternately in the same process; ratio = textrnn / baseline.",
    "best: the fastest repeat (a neighbour's burst of CPU use only ever slows a run down); for training "
    "and bucketing tokens/s (real tokens, no padding), where every repeat runs the same batches, the sum "
    "of each batch's fastest time over the repeats (on a GPU: the fastest repeat).",
    "training: `trainer.fit` of the recipe (configs/sst2_bilstm_glove.yaml, configs/shakespeare_char_cpu.yaml)"
    " with its data module, no validation, vs the same net, initial weights, batches, optimiser and clipping "
    "in a plain loop. bucketing: plain loop; IMDB-length texts have random ids and lognormal lengths.",
    "generation: baseline = the bare recurrent step (`net.step(ids, state)` for one character, no sampling); "
    "ratio ≥ 0.8 means a sampling overhead of at most 25%. Time per character: baseline = the shortest text.",
    "embeddings: baseline = the first build (empty cache, vectors file in the OS file cache); "
    "tokenize: both rates count textrnn's tokens, so the ratio is the baseline's time over textrnn's.",
]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="smaller sizes: a few minutes on 2 CPU cores")
    mode.add_argument("--tiny", action="store_true", help="seconds-long sizes, for the test")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES), metavar="CASE")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (training, bucketing, generation)")
    parser.add_argument("--out", type=Path, default=Path("runs/benchmark"))
    parser.add_argument("--repeats", type=int, help="timings of each kind, alternating (default: 5; tiny: 1)")
    parser.add_argument(
        "--statistic",
        choices=["best", "median"],
        default="best",
        help="over the repeats: best (default; a busy neighbour only ever slows a run down) or median",
    )
    parser.add_argument("--vectors", help="embeddings: this GloVe-format file instead of writing one")
    parser.add_argument("--checkpoint", help="generation: a char_lm checkpoint (default: untrained)")
    args = parser.parse_args(argv)
    args.mode = "quick" if args.quick else "tiny" if args.tiny else "full"
    args.repeats = args.repeats or (1 if args.tiny else 5)
    return args


def run_case(case: str, args: argparse.Namespace) -> list[dict]:
    """The rows of one case at the mode's sizes (imported here: each case pulls in what it needs)."""
    size, repeats = SIZES[args.mode][case], args.repeats
    if case in ("training", "bucketing"):
        import bench_training

        if case == "training":
            return bench_training.training_rows(**size, repeats=repeats, device=args.device)
        return bench_training.bucketing_rows(**size, repeats=repeats, device=args.device)
    if case == "generation":
        import bench_generate

        if args.checkpoint:
            gen, model = bench_generate.load_generator(args.checkpoint, args.device), "trained checkpoint"
        else:
            gen, model = bench_generate.untrained_generator(device=args.device), "untrained recipe model"
        return bench_generate.generation_rows(gen, **size, repeats=repeats, model=model)
    if case == "embeddings":
        import bench_embeddings

        return bench_embeddings.embedding_rows(**size, repeats=repeats, vectors_file=args.vectors)
    import bench_tokenize

    return bench_tokenize.tokenize_rows(**size, repeats=repeats)


def summarise(row: dict, side: str, statistic: str) -> float:
    """The median of one side's repeats, or the best: the highest rate (unit per second) or the lowest
    time or share, unless the case worked out its own best (training: from each batch's best time)."""
    runs = row[f"{side}_runs"]
    if statistic == "median":
        return statistics.median(runs)
    return row.get(f"{side}_best", max(runs) if row["unit"].endswith("/s") else min(runs))


def finish(row: dict, statistic: str = "best") -> dict:
    """Add textrnn's and the baseline's value, their ratio (textrnn / baseline) and whether the target
    is met (None: no target)."""
    textrnn, baseline = summarise(row, "textrnn", statistic), summarise(row, "baseline", statistic)
    ratio = textrnn / baseline if baseline else math.nan
    target, met = row["target"], None
    if target is not None:
        field, op, value = target = list(target)  # a list, as it reads back from the JSON
        met = bool(OPS[op][0]({"ratio": ratio, "textrnn": textrnn}[field], value))
    return {**row, "target": target, "textrnn": textrnn, "baseline": baseline, "ratio": ratio, "met": met}


def cpu_model() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def meta(args: argparse.Namespace, argv: list[str]) -> dict:
    """Where and how the numbers were measured."""
    device = args.device
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        device = f"{device} ({torch.cuda.get_device_name(0)})"
    return {
        "machine": f"{platform.system()} {platform.machine()}, {cpu_model()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
        "threads": torch.get_num_threads(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "mode": args.mode,
        "repeats": args.repeats,
        "statistic": args.statistic,
        "command": shlex.join(["python", "scripts/benchmark.py", *argv]),
    }


def fmt(value: float) -> str:
    """A number with the digits that matter at its size."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def target_text(target, unit: str) -> str:
    """``ratio ≥ 0.95`` or ``textrnn ≤ 0.5 s``; a dash for no target."""
    if target is None:
        return "—"
    field, op, value = target
    return f"ratio {OPS[op][1]} {value:g}" if field == "ratio" else f"textrnn {OPS[op][1]} {value:g} {unit}"


def markdown(info: dict, rows: list[dict]) -> str:
    """The header line and one table: case | measurement | textrnn | baseline | ratio | target | met."""
    lines = [
        "# textrnn benchmark",
        "",
        f"Machine: {info['machine']}; python {info['python']}, torch {info['torch']}, device {info['device']}, "
        f"{info['threads']} threads; {info['date']}; mode {info['mode']}, {info['statistic']} of "
        f"{info['repeats']} repeats.",
        "",
        f"Command: `{info['command']}`",
        "",
        "| case | measurement | textrnn | baseline | ratio | target | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        met = "—" if r["met"] is None else "yes" if r["met"] else "**no**"
        cells = [r["case"], f"{r['measurement']} [{r['unit']}]", fmt(r["textrnn"]), fmt(r["baseline"])]
        cells += [f"{r['ratio']:.3f}", target_text(r["target"], r["unit"]), met]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"- {note}" for note in NOTES)]
    return "\n".join(lines) + "\n"


def write(out: Path, info: dict, rows: list[dict]) -> str:
    """Write benchmark.json and benchmark.md (after every case, so an interrupted run keeps its rows)."""
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(info, rows)
    (out / "benchmark.md").write_text(text, encoding="utf-8")
    (out / "benchmark.json").write_text(json.dumps({"meta": info, "rows": rows}, indent=2) + "\n")
    return text


def main(argv: list[str] | None = None) -> dict:
    """Run the chosen cases, write the reports, print the table; return the JSON report."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the case modules, also when imported
    info, rows = meta(args, argv), []
    for case in args.cases:
        start = time.perf_counter()
        print(f"=== {case} ===", flush=True)
        rows += [finish(r, args.statistic) for r in run_case(case, args)]
        info.setdefault("case_seconds", {})[case] = round(time.perf_counter() - start, 1)
        text = write(args.out, info, rows)
    print("\n" + text)
    return {"meta": info, "rows": rows}


if __name__ == "__main__":
    main()
