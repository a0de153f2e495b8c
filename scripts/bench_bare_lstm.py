"""Training tokens/s of a character recipe's ``trainer.fit`` against a bare ``nn.LSTM`` forward and backward
on the same shapes (on a GPU: cuDNN's kernels), in each precision.

    python scripts/bench_bare_lstm.py --device cuda                  # configs/shakespeare_char_lstm.yaml
    python scripts/bench_bare_lstm.py --device cpu --batch-size 8 --seq-len 32 --hidden-size 64 --num-layers 2 \
        --warmup 2 --batches 3 --repeats 1                           # seconds, for the dry run of gpu_check.sh

Run from the repository root (the recipe's data path is relative to it).

- textrnn: the recipe through the ``textrnn fit`` command, in this process: its data module (contiguous
  character streams), the LightningModule (embedding, recurrent stack, tied head, cross-entropy, the state
  carried between batches), the recipe's optimiser and gradient clipping; no validation, checkpoints, logger
  or progress bar. Timed from the end of the warm-up batches to the end of the last, waiting for the GPU at
  both ends (a :class:`BatchTimer` callback).
- baseline: ``nn.LSTM`` (``nn.GRU`` / ``nn.RNN`` for those cells) with the recipe's input size, hidden size,
  layers and dropout, on random (B, T, E) inputs that need their gradient (as the embedding's output does),
  forward and backward under the same autocast; no embedding, head, loss, optimiser nor data loading.

ratio = textrnn / baseline: what the whole training step keeps of the bare recurrent kernels' speed (target
>= 0.9). The sides alternate, each repeat of each precision; the best repeat counts. Both run with
``torch.set_float32_matmul_precision("high")``, as the ``textrnn`` command sets it. Writes
``<out>/bare_lstm.json`` in the layout of scripts/benchmark.py (``meta`` and ``rows``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import lightning.pytorch as pl
import torch
import yaml
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchmark  # noqa: E402  (scripts/benchmark.py: the same row layout, ratio and target)

RNNS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn_tanh": nn.RNN, "rnn": nn.RNN}
AUTOCAST = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}  # 32-true: none
TARGET = ("ratio", ">=", 0.9)
DEFAULT_CONFIG = "configs/shakespeare_char_lstm.yaml"


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class BatchTimer(pl.Callback):
    """Time the training batches after ``warmup`` up to ``warmup + batches``; write tokens, seconds and
    tokens/s to ``path`` as JSON, then stop the fit. Only the first and last readings wait for the GPU.

    Args:
        path: The JSON file to write.
        warmup: Batches left out first (kernel selection, allocator, the first optimiser step).
        batches: Batches timed.
    """

    def __init__(self, path: str, warmup: int, batches: int):
        self.path, self.warmup, self.batches = path, max(1, warmup), batches
        self.seen, self.tokens, self.start = 0, 0, 0.0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        index, self.seen = self.seen, self.seen + 1
        if index >= self.warmup:
            self.tokens += int(batch["lengths"].sum()) if isinstance(batch, dict) else batch[0].numel()
        if index == self.warmup - 1:
            sync(pl_module.device)
            self.start = time.perf_counter()
        elif index == self.warmup + self.batches - 1:
            sync(pl_module.device)
            seconds = time.perf_counter() - self.start
            result = {"tokens": self.tokens, "seconds": seconds, "tokens_per_s": self.tokens / seconds}
            Path(self.path).write_text(json.dumps(result) + "\n")
            trainer.should_stop = True


def recipe_shapes(config: str, args: argparse.Namespace) -> dict:
    """The recipe's sizes, with the command line's overrides."""
    recipe = yaml.safe_load(Path(config).read_text())
    model, data = recipe["model"]["init_args"], recipe["data"]["init_args"]
    shapes = {
        "cell": model.get("cell", "lstm"),
        "embedding_dim": model.get("embedding_dim", 64),
        "hidden_size": model.get("hidden_size", 256),
        "num_layers": model.get("num_layers", 1),
        "dropout": model.get("dropout", 0.0),
        "tie_weights": model.get("tie_weights", False),
        "batch_size": data["batch_size"],
        "seq_len": data["seq_len"],
    }
    if args.hidden_size:  # a tied recipe needs embedding_dim == hidden_size: both change together
        shapes["hidden_size"] = args.hidden_size
        if shapes["tie_weights"] or shapes["embedding_dim"] == model.get("hidden_size"):
            shapes["embedding_dim"] = args.hidden_size
    for key in ("num_layers", "batch_size", "seq_len"):
        if getattr(args, key):
            shapes[key] = getattr(args, key)
    if shapes["cell"] not in RNNS:
        raise SystemExit(f"bench_bare_lstm: the recipe's cell {shapes['cell']!r} has no fused PyTorch module")
    return shapes


def fit_args(config: str, shapes: dict, precision: str, device: torch.device, timer: dict, root: str) -> list:
    """``textrnn fit`` arguments: the recipe at ``shapes`` for ``warmup + batches`` steps, nothing else."""
    callback = {"class_path": "bench_bare_lstm.BatchTimer", "init_args": timer}
    steps = timer["warmup"] + timer["batches"]
    return [
        "fit",
        "--config",
        config,
        f"--trainer.accelerator={'gpu' if device.type == 'cuda' else 'cpu'}",
        "--trainer.devices=1",
        f"--trainer.precision={precision}",
        f"--trainer.max_steps={steps}",
        "--trainer.max_epochs=-1",
        "--trainer.limit_val_batches=0",
        "--trainer.num_sanity_val_steps=0",
        "--trainer.logger=false",
        "--trainer.enable_checkpointing=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--trainer.default_root_dir={root}",
        f"--trainer.callbacks={json.dumps([callback])}",
        f"--data.batch_size={shapes['batch_size']}",
        f"--data.seq_len={shapes['seq_len']}",
        f"--model.init_args.hidden_size={shapes['hidden_size']}",
        f"--model.init_args.embedding_dim={shapes['embedding_dim']}",
        f"--model.init_args.num_layers={shapes['num_layers']}",
    ]


def textrnn_rate(
    config: str, shapes: dict, precision: str, device: torch.device, warmup: int, batches: int
) -> float:
    """Tokens/s of ``textrnn fit`` on the recipe (in this process, through the command's own entry point)."""
    from textrnn.commands import main as textrnn_main

    with tempfile.TemporaryDirectory(prefix="textrnn-bare-") as root:
        out = Path(root) / "timer.json"
        timer = {"path": str(out), "warmup": warmup, "batches": batches}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
            warnings.filterwarnings("ignore", message=r".*limit_val_batches=0.*|.*`ModelCheckpoint\(monitor=")
            textrnn_main(fit_args(config, shapes, precision, device, timer, root))
        if not out.is_file():
            raise RuntimeError(f"the fit ended before {warmup + batches} batches: the text is too short")
        return json.loads(out.read_text())["tokens_per_s"]


def bare_rate(shapes: dict, precision: str, device: torch.device, warmup: int, batches: int) -> float:
    """Tokens/s of the bare recurrent module's forward and backward on the recipe's shapes."""
    torch.manual_seed(0)
    layers = shapes["num_layers"]
    rnn = RNNS[shapes["cell"]](
        shapes["embedding_dim"],
        shapes["hidden_size"],
        layers,
        dropout=shapes["dropout"] if layers > 1 else 0.0,
        batch_first=True,
    )
    rnn = rnn.to(device).train()
    b, t = shapes["batch_size"], shapes["seq_len"]
    x = torch.randn(b, t, shapes["embedding_dim"], device=device, requires_grad=True)
    dtype = AUTOCAST.get(precision)
    warmup, start = max(1, warmup), 0.0
    for i in range(warmup + batches):
        if i == warmup:
            sync(device)
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            out, _ = rnn(x)
        out.float().square().mean().backward()
    sync(device)
    return b * t * batches / (time.perf_counter() - start)


def describe(shapes: dict, config: str, precision: str, batches: int) -> str:
    s = shapes
    return (
        f"{config}: {s['num_layers']} x {s['cell']} {s['hidden_size']} (input {s['embedding_dim']}), "
        f"batch {s['batch_size']} x {s['seq_len']} characters, {precision}: training tokens/s, trainer.fit "
        f"vs bare nn.{RNNS[s['cell']].__name__} forward+backward, {batches} batches"
    )


def meta(args: argparse.Namespace, argv: list[str], shapes: dict) -> dict:
    device = str(args.device)
    cuda = torch.device(args.device).type == "cuda" and torch.cuda.is_available()
    if cuda:
        device = f"{device} ({torch.cuda.get_device_name(torch.device(args.device))})"
    return {
        "machine": f"{platform.system()} {platform.machine()}, {benchmark.cpu_model()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "device": device,
        "threads": torch.get_num_threads(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "config": args.config,
        "shapes": shapes,
        "warmup": args.warmup,
        "batches": args.batches,
        "repeats": args.repeats,
        "statistic": "best",
        "command": shlex.join(["python", "scripts/bench_bare_lstm.py", *argv]),
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="a character recipe (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--precisions", nargs="+", default=["bf16-mixed", "32-true"], metavar="PRECISION")
    parser.add_argument("--warmup", type=int, default=5, help="batches before the clock starts")
    parser.add_argument(
        "--batches", type=int, default=20, help="batches timed (one epoch of the GPU recipe: ~30)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, help="instead of the recipe's data.batch_size")
    parser.add_argument("--seq-len", type=int, help="instead of the recipe's data.seq_len")
    parser.add_argument(
        "--hidden-size", type=int, help="instead of the recipe's (and its embedding_dim if tied)"
    )
    parser.add_argument("--num-layers", type=int, help="instead of the recipe's")
    parser.add_argument("--out", type=Path, default=Path("runs/bare_lstm"))
    return parser.parse_args(argv)


def bare_lstm_row(
    config: str, shapes: dict, precision: str, device: torch.device, warmup: int, batches: int, repeats: int
) -> dict:
    """One result row (scripts/benchmark.py's layout, before ``benchmark.finish``): textrnn's and the bare
    module's tokens/s in ``precision``, alternating which side goes first."""
    ours, bare = [], []
    for r in range(repeats):
        for side in ("textrnn", "bare")[:: 1 if r % 2 == 0 else -1]:
            if side == "textrnn":
                ours.append(textrnn_rate(config, shapes, precision, device, warmup, batches))
            else:
                bare.append(bare_rate(shapes, precision, device, warmup, batches))
    return {
        "case": "bare_lstm",
        "measurement": describe(shapes, config, precision, batches),
        "precision": precision,
        "unit": "tokens/s",
        "textrnn_runs": ours,
        "baseline_runs": bare,
        "target": TARGET,
    }


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_bare_lstm: --device cuda but torch.cuda.is_available() is False")
    torch.set_float32_matmul_precision("high")  # as the textrnn command sets it, for both sides
    shapes = recipe_shapes(args.config, args)
    info, rows = meta(args, argv, shapes), []
    for precision in args.precisions:
        start = time.perf_counter()
        row = bare_lstm_row(args.config, shapes, precision, device, args.warmup, args.batches, args.repeats)
        rows.append(benchmark.finish(row))
        info.setdefault("precision_seconds", {})[precision] = round(time.perf_counter() - start, 1)
        args.out.mkdir(parents=True, exist_ok=True)  # written after each precision: a timeout keeps the rest
        (args.out / "bare_lstm.json").write_text(json.dumps({"meta": info, "rows": rows}, indent=2) + "\n")
    print(f"\n{info['device']}, torch {info['torch']}\n")
    print("| precision | textrnn tokens/s | bare tokens/s | ratio | target | met |")
    print("| --- | ---: | ---: | ---: | --- | --- |")
    for r in rows:
        print(
            f"| {r['precision']} | {benchmark.fmt(r['textrnn'])} | {benchmark.fmt(r['baseline'])} | "
            f"{r['ratio']:.3f} | ratio >= {TARGET[2]} | {'yes' if r['met'] else 'no'} |"
        )
    return {"meta": info, "rows": rows}


if __name__ == "__main__":
    main()
