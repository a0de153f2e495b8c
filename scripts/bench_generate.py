"""Generation speed of a character checkpoint: characters per second by batch size, and whether the
time per character stays flat as the text grows.

    python scripts/bench_generate.py --checkpoint CKPT [--device cpu] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from textrnn import load_generator


def seconds(gen, length: int, num_samples: int, repeats: int) -> float:
    """Median wall time of generating ``length`` characters for ``num_samples`` samples."""
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        gen.generate("ROMEO:\n", length, seed=seed, num_samples=num_samples)
        if gen.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    gen = load_generator(args.checkpoint, args.device)
    seconds(gen, 50, 1, 1)  # warm-up
    print("| batch | characters | seconds | characters/s |\n| --- | --- | --- | --- |")
    for batch in (1, 64):
        t = seconds(gen, 2000, batch, args.repeats)
        print(f"| {batch} | 2,000 | {t:.2f} | {2000 * batch / t:,.0f} |")
    short, long = seconds(gen, 200, 1, args.repeats), seconds(gen, 5000, 1, args.repeats)
    ratio = (long / 5000) / (short / 200)
    print(f"\ntime per character, 5,000 vs 200 characters (batch 1): {ratio:.2f}")


if __name__ == "__main__":
    main()
