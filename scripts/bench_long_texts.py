"""What cutting long texts costs: training time on IMDB-length texts, and accuracy on the longest texts at hand.

    python scripts/bench_long_texts.py [--texts 2000] [--repeats 2] [--model sst2-bilstm]

1. Time: the SST-2 recipe's network (the IMDB recipe's too: BiLSTM 128, max+mean pooling) trains one epoch, in a
   plain loop with length-bucketed batches of 32, over synthetic IMDB-length texts (lognormal lengths, median
   200 tokens) cut at each of ``--cuts`` or kept whole (up to 2,500 tokens): seconds and tokens/s.
2. Accuracy: a classifier (default: the shipped ``sst2-bilstm``) reads SST-2 dev whole or only the first k
   tokens of each text; accuracy on all of dev and on its longest quarter.

Run from the repository root.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch
from bench_training import IMDB_BATCH, PlainLoop, imdb_lengths, imdb_like, recipe_cli
from torch.utils.data import DataLoader

from textrnn import load_classifier
from textrnn.text.batching import BucketBatchSampler, pad_batch

WHOLE = 2500  # about the longest IMDB review, in tokens


def epoch_seconds(texts: int, cut: int, repeats: int) -> dict:
    """The best of ``repeats`` epochs over ``texts`` IMDB-like texts cut at ``cut`` tokens."""
    cli, initial = recipe_cli("sst2")
    data = imdb_like(texts, cli.datamodule.vocab_size, max_length=cut)
    seconds = []
    for repeat in range(repeats):
        loop = PlainLoop(cli, initial, "cpu")
        sampler = BucketBatchSampler(data.lengths, IMDB_BATCH, seed=repeat)
        start = time.perf_counter()
        for batch in DataLoader(data, batch_sampler=sampler, collate_fn=pad_batch):
            loop.step(batch)
        seconds.append(time.perf_counter() - start)
    tokens = int(data.lengths.sum())
    uncut = imdb_lengths(texts, torch.Generator().manual_seed(0), WHOLE)  # imdb_like's draws, before the cut
    cut_texts = int((uncut > cut).sum())
    best = min(seconds)
    return {
        "cut": cut,
        "texts cut": cut_texts / texts,
        "tokens": tokens,
        "seconds": best,
        "tokens/s": tokens / best,
    }


def accuracy_rows(model: str, cuts: list[int]) -> list[dict]:
    """Accuracy of ``model`` on SST-2 dev, read whole and cut at each of ``cuts``: all, the longest quarter."""
    dev = pd.read_csv("data/sst2/dev.tsv", sep="\t", quoting=3)
    texts, truth = dev["sentence"].tolist(), torch.tensor(dev["label"].tolist())  # 1: positive
    clf = load_classifier(model, max_tokens=None)
    lengths = torch.tensor([len(clf.encode(t)) for t in texts], dtype=torch.float)
    longest = lengths >= lengths.quantile(0.75)
    rows = []
    for cut in [None, *cuts]:
        clf.max_tokens = cut  # one model for every cut: read the first ``cut`` tokens of each text
        right = clf.predict_proba(texts).argmax(-1) == truth
        rows.append(
            {
                "read": "whole" if cut is None else f"first {cut}",
                "dev": right.float().mean().item(),
                "longest quarter": right[longest].float().mean().item(),
            }
        )
    print(f"longest quarter: {int(longest.sum())} texts of {int(lengths[longest].min())}+ tokens")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cuts", type=int, nargs="+", default=[200, 400])
    parser.add_argument("--model", default="sst2-bilstm")
    parser.add_argument("--dev-cuts", type=int, nargs="+", default=[10, 15, 20, 25])
    args = parser.parse_args(argv)
    for row in [epoch_seconds(args.texts, cut, args.repeats) for cut in [*args.cuts, WHOLE]]:
        print(" | ".join(f"{k}: {v:,.3f}" if isinstance(v, float) else f"{k}: {v:,}" for k, v in row.items()))
    for row in accuracy_rows(args.model, args.dev_cuts):
        print(" | ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
