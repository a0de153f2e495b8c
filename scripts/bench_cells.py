"""Forward+backward time of each from-equation cell against PyTorch's fused ``nn.LSTM``, same shapes.

    python scripts/bench_cells.py                 # CPU, the two shapes of the demo recipes
    python scripts/bench_cells.py --device cuda   # on a GPU

Prints a markdown table: milliseconds per forward+backward (median of ``--repeats``) and the ratio
to ``nn.LSTM`` on the same shape.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from textrnn.nn.encoder import make_rnn

# (name, batch, steps, input, hidden, layers, bidirectional): the SST-2 and character recipes
SHAPES = [("sst2 BiLSTM", 64, 40, 50, 128, 1, True), ("char LM", 64, 128, 64, 384, 1, False)]
CELLS = [
    ("nn.LSTM", "lstm", "auto"),
    ("nn.GRU", "gru", "auto"),
    ("lstm", "lstm", "equations"),
    ("gru", "gru", "equations"),
    ("rnn_tanh", "rnn_tanh", "equations"),
    ("peephole_lstm", "peephole_lstm", "equations"),
    ("cifg_lstm", "cifg_lstm", "equations"),
]


def time_step(rnn: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median seconds of one forward+backward of ``rnn`` over x."""

    def once() -> float:
        start = time.perf_counter()
        out, _ = rnn(x)
        out.sum().backward()
        if x.is_cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    once()  # warm-up: allocator, kernels
    return statistics.median(once() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads\n")
    print("| shape | cell | ms per forward+backward | ratio to nn.LSTM |")
    print("|---|---|---:|---:|")
    for name, batch, steps, inputs, hidden, layers, bidirectional in SHAPES:
        x = torch.randn(batch, steps, inputs, device=args.device)
        baseline = None
        for label, cell, impl in CELLS:
            rnn = make_rnn(cell, inputs, hidden, layers, bidirectional, 0.0, impl).to(args.device)
            seconds = time_step(rnn, x, args.repeats)
            baseline = baseline or seconds
            print(f"| {name} | {label} | {seconds * 1000:.1f} | {seconds / baseline:.2f} |", flush=True)


if __name__ == "__main__":
    main()
