"""Benchmark cases 1 and 2: training through textrnn (Lightning Trainer, the real data module) against a
plain PyTorch loop over the same net, batches and optimiser; and length-bucketed against randomly
composed batches.

    python scripts/bench_training.py [--batches 30] [--warmup 5] [--repeats 3] [--device cpu]

Run from the repository root (the recipes' data paths are relative to it).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
import warnings

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from textrnn.nn.char_lm import CharLMNet
from textrnn.text.batching import BucketBatchSampler, EncodedTexts, pad_batch
from textrnn.training.char_lm import detach
from textrnn.training.cli import make_cli
from textrnn.training.clipping import clip_gradients

RECIPES = {
    "sst2": ("SST-2 BiLSTM", "configs/sst2_bilstm_glove.yaml"),
    "char": ("char LSTM", "configs/shakespeare_char_cpu.yaml"),
}
# one short epoch as a user runs it, minus what would write into the repository or validate
FIT_ARGS = (
    "--trainer.max_epochs=1",
    "--trainer.limit_val_batches=0",
    "--trainer.num_sanity_val_steps=0",
    "--trainer.logger=false",
    "--trainer.enable_model_summary=false",
)
IMDB_BATCH, IMDB_MAX = 32, 400  # configs/imdb_bilstm_glove.yaml: batch_size and max_length
_CLIS: dict[tuple, object] = {}


def sync(device: torch.device | str) -> None:
    """Wait for queued GPU work, so a clock reading covers it."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def count_tokens(batch) -> int:
    """Real tokens of a batch: a classification batch's lengths (no padding), or a char batch's B x T."""
    return int(batch["lengths"].sum()) if isinstance(batch, dict) else batch[0].numel()


def recipe_cli(recipe: str, device: str = "cpu", overrides: tuple[str, ...] = ()):
    """The recipe's model, data module and settings, built once per process (data preparation is slow)."""
    key = (recipe, device, overrides)
    if key not in _CLIS:
        accelerator = "gpu" if torch.device(device).type == "cuda" else "cpu"
        args = ["--config", RECIPES[recipe][1], *FIT_ARGS, f"--trainer.accelerator={accelerator}"]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
            cli = make_cli([*args, "--trainer.devices=1", *overrides], run=False)
        cli.datamodule.setup("fit")
        _CLIS[key] = (cli, copy.deepcopy(cli.model.net.state_dict()))
    return _CLIS[key]


class BatchClock:
    """Wall time of each batch after ``warmup``, from the previous batch's end to its own.

    On a GPU only the first and the last clock reading wait for the device (a wait per batch would stop
    the host from queueing ahead), so there only the sum of the times is meaningful.
    """

    def __init__(self, warmup: int, batches: int, device: torch.device | str):
        self.warmup, self.last_index, self.device = warmup, warmup + batches - 1, torch.device(device)
        self.tokens: list[int] = []
        self.seconds: list[float] = []
        self.previous = 0.0

    def tick(self, index: int, batch) -> None:
        """Record the end of batch ``index``."""
        if index < self.warmup - 1 or index > self.last_index:
            return
        if index in (self.warmup - 1, self.last_index):
            sync(self.device)
        now = time.perf_counter()
        if index >= self.warmup:
            self.tokens.append(count_tokens(batch))
            self.seconds.append(now - self.previous)
        self.previous = now

    def rate(self) -> float:
        return sum(self.tokens) / sum(self.seconds)


def best_rate(clocks: list[BatchClock]) -> float:
    """The best tokens/s of the repeats: on a CPU from each batch's best time (every repeat runs the
    same batches), so that a neighbour's burst of work stalling a few batches does not count; on a
    GPU, where single batch times mean little, the best repeat."""
    if clocks[0].device.type == "cuda":
        return max(c.rate() for c in clocks)
    n = min(len(c.seconds) for c in clocks)
    if any(c.tokens[:n] != clocks[0].tokens[:n] for c in clocks):
        raise RuntimeError("the repeats ran different batches; per-batch times cannot be paired")
    return sum(clocks[0].tokens[:n]) / sum(min(c.seconds[i] for c in clocks) for i in range(n))


class SteadyTimer(pl.Callback):
    """Feeds the end of every training batch to a :class:`BatchClock`."""

    def __init__(self, clock: BatchClock):
        self.clock = clock

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self.clock.tick(batch_idx, batch)


def lightning_clock(cli, initial: dict, warmup: int, batches: int, root: str, progress_bar: bool, device: str):
    """The batch times of ``trainer.fit`` from the recipe's initial weights."""
    cli.model.net.load_state_dict(initial)
    clock = BatchClock(warmup, batches, device)
    trainer = cli.instantiate_trainer(
        callbacks=[SteadyTimer(clock)],
        limit_train_batches=warmup + batches,
        enable_progress_bar=progress_bar,
        default_root_dir=root,  # the best/last checkpoint is written here, after the timed batches
    )
    with warnings.catch_warnings():
        # no validation runs, so the best-checkpoint callback finds no val metric: expected here
        warnings.filterwarnings("ignore", message=r"`ModelCheckpoint\(monitor=")
        trainer.fit(cli.model, datamodule=cli.datamodule)
    return clock


class PlainLoop:
    """The LightningModule's net, optimiser and gradient clipping in a bare PyTorch loop."""

    def __init__(self, cli, initial: dict, device: str):
        model, self.device = cli.model, torch.device(device)
        self.net = copy.deepcopy(model.net).to(self.device).train()
        self.net.load_state_dict(initial)
        self.params = [p for p in self.net.parameters() if p.requires_grad]
        self.optimizer = model.optimizer(self.params)  # the recipe's class and arguments
        # the recipe's scheduler steps once per epoch, so never inside the timed batches: left out
        self.clip = (model.grad_clip, model.grad_clip_max, cli.trainer.gradient_clip_val)
        self.char, self.state = isinstance(self.net, CharLMNet), None

    def step(self, batch) -> None:
        """One optimiser step on ``batch``, the state carried (detached) as CharLanguageModel does."""
        if self.char:
            inputs, targets = (t.to(self.device, non_blocking=True) for t in batch)
            logits, state = self.net(inputs, self.state)
            self.state = detach(state)
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        else:
            logits = self.net(batch["ids"].to(self.device, non_blocking=True), batch["lengths"])
            loss = F.cross_entropy(logits, batch["labels"].to(self.device, non_blocking=True))
        loss.backward()
        mode, max_value, trainer_clip = self.clip
        if mode is not None:
            clip_gradients(self.params, mode, max_value)
        elif trainer_clip:  # Lightning's default gradient_clip_algorithm is "norm": clip_grad_norm_
            torch.nn.utils.clip_grad_norm_(self.params, trainer_clip)
        self.optimizer.step()
        self.optimizer.zero_grad()

    def clock(self, loader, warmup: int, batches: int) -> BatchClock:
        """The batch times of ``batches`` batches after ``warmup``, clocked as in ``trainer.fit``."""
        clock = BatchClock(warmup, batches, self.device)
        for i, batch in enumerate(loader):
            self.step(batch)
            clock.tick(i, batch)
            if i == clock.last_index:
                break
        return clock


def row(case: str, measurement: str, ours: list[BatchClock], baseline: list[BatchClock], target) -> dict:
    """A result row of tokens/s: every repeat's rate, and the best over the repeats.

    The runner (scripts/benchmark.py) picks the best or the median, adds the ratio and whether
    ``target`` (field, op, value) is met.
    """
    return {
        "case": case,
        "measurement": measurement,
        "unit": "tokens/s",
        "textrnn_best": best_rate(ours),
        "baseline_best": best_rate(baseline),
        "textrnn_runs": [c.rate() for c in ours],
        "baseline_runs": [c.rate() for c in baseline],
        "target": target,
    }


def training_rows(
    batches: dict[str, int], warmup: int, repeats: int, device: str = "cpu", progress_bar: bool = True
) -> list[dict]:
    """Case 1: tokens/s of Lightning vs the plain loop, alternating, for each recipe in ``batches``."""
    warmup, rows = max(warmup, 1), []  # the clock starts at the end of a batch
    for recipe, n in batches.items():
        cli, initial = recipe_cli(recipe, device)
        ours, plain = [], []
        with tempfile.TemporaryDirectory(prefix="textrnn-bench-") as root:
            for r in range(repeats):
                for side in ("lightning", "plain")[:: 1 if r % 2 == 0 else -1]:  # alternate the order
                    if side == "lightning":
                        ours.append(lightning_clock(cli, initial, warmup, n, root, progress_bar, device))
                    else:
                        loop = PlainLoop(cli, initial, device)
                        plain.append(loop.clock(cli.datamodule.train_dataloader(), warmup, n))
        bar = "progress bar on" if progress_bar else "progress bar off"
        what = f"{RECIPES[recipe][0]}: training tokens/s, Lightning ({bar}) vs plain loop, {n} batches"
        rows.append(row("training", what, ours, plain, ("ratio", ">=", 0.95)))
    return rows


def imdb_lengths(texts: int, gen: torch.Generator, max_length: int = IMDB_MAX) -> torch.Tensor:
    """IMDB-like review lengths: lognormal, median 200 tokens, cut at ``max_length`` (the recipe's 400)."""
    lengths = (torch.randn(texts, generator=gen) * 0.7 + torch.tensor(200.0).log()).exp()
    return lengths.round().clamp(10, max_length).long()


def imdb_like(texts: int, vocab_rows: int, seed: int = 0, max_length: int = IMDB_MAX) -> EncodedTexts:
    """Random ids with :func:`imdb_lengths`."""
    gen = torch.Generator().manual_seed(seed)
    lengths = imdb_lengths(texts, gen, max_length)
    data = EncodedTexts([], [])  # filled directly: building per-text lists of 6 million ids is slow
    data.lengths = lengths
    data.offsets = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
    data.ids = torch.randint(2, vocab_rows, (int(lengths.sum()),), generator=gen)
    data.labels = torch.randint(0, 2, (texts,), generator=gen)
    return data


def padded_share(sampler: BucketBatchSampler) -> float:
    """Share of padding among the positions of one epoch's batches (each padded to its longest)."""
    real = padded = 0
    for batch in sampler:
        lengths = sampler.lengths[batch]
        real, padded = real + int(lengths.sum()), padded + int(lengths.max()) * len(batch)
    return 1 - real / padded


def bucketing_rows(
    batches: dict[str, int], warmup: int, repeats: int, imdb_texts: int, device: str = "cpu"
) -> list[dict]:
    """Case 2: tokens/s (plain loop, the SST-2 recipe's net) and padded share, bucketed vs random."""
    cli, initial = recipe_cli("sst2", device)
    warmup = max(warmup, 1)
    datasets = {
        "SST-2": (cli.datamodule.splits["train"], cli.datamodule.batch_size),
        f"IMDB-length (synthetic, {imdb_texts:,} texts)": (
            imdb_like(imdb_texts, cli.datamodule.vocab_size),
            IMDB_BATCH,
        ),
    }
    rows = []
    for (name, (data, size)), n in zip(datasets.items(), (batches["sst2"], batches["imdb"])):
        # pool_batches=1 sorts only within a batch: the batches are composed at random
        samplers = [BucketBatchSampler(data.lengths, size, pool_batches=p) for p in (50, 1)]
        clocks: list[list[BatchClock]] = [[], []]
        for r in range(repeats):
            for sampler, out in list(zip(samplers, clocks))[:: 1 if r % 2 == 0 else -1]:
                loader = DataLoader(data, batch_sampler=sampler, collate_fn=pad_batch)
                out.append(PlainLoop(cli, initial, device).clock(loader, warmup, n))
        what = f"{name}: training tokens/s, bucketed vs random batches of {size} (plain loop), {n} batches"
        rows.append(row("bucketing", what, *clocks, ("ratio", ">=", 1.0)))
        shares = [padded_share(s) for s in samplers]
        what = f"{name}: padded share of positions over an epoch, bucketed vs random"
        rows.append(
            {
                "case": "bucketing",
                "measurement": what,
                "unit": "share",
                "textrnn_runs": shares[:1],
                "baseline_runs": shares[1:],
                "target": ("ratio", "<=", 1.0),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30, help="timed batches (char: a quarter)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    sizes = {"sst2": args.batches, "char": max(1, args.batches // 4)}
    rows = training_rows(sizes, args.warmup, args.repeats, args.device)
    rows += bucketing_rows({"sst2": args.batches, "imdb": max(1, args.batches // 4)}, 1, args.repeats, 5000)
    for r in rows:
        ours = r.get("textrnn_best", max(r["textrnn_runs"]))
        plain = r.get("baseline_best", max(r["baseline_runs"]))
        print(f"{r['measurement']}: {ours:,.3f} vs {plain:,.3f} {r['unit']} (ratio {ours / plain:.3f})")


if __name__ == "__main__":
    main()
