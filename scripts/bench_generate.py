"""Generation speed: characters per second by batch size against the bare recurrent step, and whether the
time per character stays flat as the text grows.

    python scripts/bench_generate.py [--checkpoint CKPT] [--device cpu] [--repeats 3]

Without ``--checkpoint`` the model is the CPU recipe's CharLMNet (configs/shakespeare_char_cpu.yaml)
with random weights and the Tiny Shakespeare vocabulary: the same speed, meaningless text.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from textrnn import load_generator
from textrnn.inference.generate import Generator
from textrnn.training.cli import make_cli

PROMPT = "ROMEO:\n"
CHAR_RECIPE = "configs/shakespeare_char_cpu.yaml"


def untrained_generator(config: str = CHAR_RECIPE, device: str = "cpu") -> Generator:
    """The recipe's model with random weights and the vocabulary of the recipe's training text."""
    cli = make_cli(["--config", config, "--seed_everything", "0"], run=False)
    return Generator(cli.model.net.to(device), cli.datamodule.vocab)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def generate_seconds(gen: Generator, length: int, num_samples: int, seed: int = 0) -> float:
    """Wall time of generating ``length`` characters for ``num_samples`` samples (sampling included)."""
    start = time.perf_counter()
    gen.generate(PROMPT, length, seed=seed, num_samples=num_samples)
    _sync(gen.device)
    return time.perf_counter() - start


@torch.inference_mode()
def bare_seconds(gen: Generator, length: int, num_samples: int) -> float:
    """Wall time of ``length`` bare steps of one character each (the model's ``step``, which generation
    calls): no sampling, a fixed input."""
    ids = torch.full((num_samples,), len(gen.vocab) - 1, device=gen.device)
    state = None
    start = time.perf_counter()
    for _ in range(length):
        _, state = gen.net.step(ids, state)
    _sync(gen.device)
    return time.perf_counter() - start


def paired_runs(gen: Generator, length: int, num_samples: int, repeats: int) -> tuple[list, list]:
    """Characters/s of generation and of the bare step, alternating, one value per repeat each."""
    chars = length * num_samples
    ours, bare = [], []
    for seed in range(repeats):
        for side in ("generate", "bare")[:: 1 if seed % 2 == 0 else -1]:  # alternate which goes first
            if side == "generate":
                ours.append(chars / generate_seconds(gen, length, num_samples, seed))
            else:
                bare.append(chars / bare_seconds(gen, length, num_samples))
    return ours, bare


def generation_rows(
    gen: Generator,
    lengths: tuple[int, ...] = (200, 2000, 20000),
    rate_length: int = 2000,
    batch_sizes: tuple[int, ...] = (1, 64),
    repeats: int = 3,
    model: str = "trained checkpoint",
) -> list[dict]:
    """Case 3 of scripts/benchmark.py: rows of characters/s and of the time per character by length."""
    generate_seconds(gen, 50, 1)  # warm-up: allocator, first kernels
    bare_seconds(gen, 50, 1)
    rows = []
    for batch in batch_sizes:
        ours, bare = paired_runs(gen, rate_length, batch, repeats)
        # sampling overhead <= 25% means the bare step's time is at least 1/1.25 = 0.8 of generation's
        target = ("ratio", ">=", 0.8) if batch == 1 else None
        what = f"characters/s at batch {batch} ({rate_length:,} each), generate vs bare step; {model}"
        rows.append(_row(what, ours, bare, "chars/s", target))
    per_char: dict[int, list[float]] = {n: [] for n in lengths}
    for seed in range(repeats):
        for n in lengths[:: 1 if seed % 2 == 0 else -1]:  # interleaved: a slow spell hits every length
            per_char[n].append(generate_seconds(gen, n, 1, seed) / n * 1e6)
    short = lengths[0]
    for n in lengths[1:]:
        what = f"time per character, {n:,} vs {short:,} characters (batch 1)"
        rows.append(_row(what, per_char[n], per_char[short], "µs/char", ("ratio", "<=", 1.2)))
    return rows


def _row(measurement: str, ours: list[float], baseline: list[float], unit: str, target) -> dict:
    return {
        "case": "generation",
        "measurement": measurement,
        "unit": unit,
        "textrnn_runs": ours,
        "baseline_runs": baseline,
        "target": target,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a char_lm checkpoint (default: the untrained recipe model)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lengths", type=int, nargs="+", default=[200, 2000, 5000])
    args = parser.parse_args(argv)
    if args.checkpoint:
        gen, model = load_generator(args.checkpoint, args.device), "trained checkpoint"
    else:
        gen, model = untrained_generator(device=args.device), "untrained recipe model"
    print(f"{model}, {args.device}\n\n| measurement | generate | baseline | ratio |\n| --- | --- | --- | --- |")
    for r in generation_rows(gen, tuple(args.lengths), 2000, (1, 64), args.repeats, model):
        ours, base = statistics.median(r["textrnn_runs"]), statistics.median(r["baseline_runs"])
        print(f"| {r['measurement']} | {ours:,.1f} {r['unit']} | {base:,.1f} | {ours / base:.2f} |")


if __name__ == "__main__":
    main()
