"""Time building the SST-2 embedding matrix from pretrained vectors: first build vs. from the cache.

python scripts/bench_embeddings.py [--source glove-6B-50d] [--extend-vocab 100000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter

from textrnn.data import TextClassificationData
from textrnn.pretrained import Embeddings, build_embedding_matrix, leading_words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="glove-6B-50d")
    parser.add_argument("--extend-vocab", type=int, default=0)
    args = parser.parse_args()
    files = {"train": "data/sst2/train.tsv", "validation": "data/sst2/dev.tsv"}
    data = TextClassificationData(**files, text_column="sentence")
    data.setup("fit")
    counts = Counter(data.vocab.decode(data.splits["train"].ids.tolist()))
    with tempfile.TemporaryDirectory() as cache:
        spec = Embeddings(source=args.source, extend_vocab=args.extend_vocab, cache_dir=cache)
        vocab = data.vocab.extend(leading_words(spec, args.extend_vocab))
        for label in ("first build", "cached"):
            start = time.perf_counter()
            matrix, coverage, _ = build_embedding_matrix(spec, vocab, counts)
            print(f"{label}: {time.perf_counter() - start:.3f} s  {tuple(matrix.shape)}  {coverage}")


if __name__ == "__main__":
    main()
