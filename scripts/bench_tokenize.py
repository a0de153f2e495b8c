"""Benchmark case 5: tokens per second of tokenising + numericalising, textrnn against a plain baseline.

    python scripts/bench_tokenize.py [--imdb-texts 25000] [--repeats 3]

textrnn: ``word_tokenize`` + ``Vocab.encode``. Baseline: ``re.findall(r"\\w+|[^\\w\\s]", text.lower())``
and a ``dict.get`` per token. Both read the same texts and map to the same SST-2 training vocabulary;
tokens/s counts textrnn's tokens for both, so the ratio is the baseline's time over textrnn's.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time

from textrnn.text.tokenize import word_tokenize
from textrnn.text.vocab import Vocab

SST2_TRAIN = "data/sst2/train.tsv"
BASELINE_RE = re.compile(r"\w+|[^\w\s]")
# SST-2 is tokenised already ("does n't", "it 's", "film ."); reviews are running text
_GLUE_RE = re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m|[,.;:!?])(?= |$)")


def read_sentences(path: str = SST2_TRAIN, limit: int | None = None) -> list[str]:
    """The sentence column of a GLUE SST-2 TSV file (unquoted, one header line)."""
    with open(path, encoding="utf-8") as f:
        next(f)
        return [line.rsplit("\t", 1)[0] for line in f][:limit]


def _running_text(sentence: str) -> str:
    """An SST-2 sentence as a review would write it: contractions and punctuation attached, capitalised."""
    text = _GLUE_RE.sub(r"\1", sentence.strip())
    return text[:1].upper() + text[1:]


def imdb_like_texts(sentences: list[str], count: int, words: int = 230, seed: int = 0) -> list[str]:
    """``count`` review-length texts of about ``words`` words, made of random SST-2 sentences.

    Sentences are put back into running text ("don't", "film.") and every few form a paragraph,
    separated by ``<br /><br />`` as in IMDB, so each branch of the tokeniser gets work.
    """
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts, n = [], 0
        while n < words:
            sentence = rng.choice(sentences)
            n += sentence.count(" ") + 1
            parts.append(_running_text(sentence))
            if rng.random() < 0.2:
                parts.append("<br /><br />")
        texts.append(" ".join(parts))
    return texts


def textrnn_seconds(texts: list[str], vocab: Vocab) -> float:
    """Seconds to tokenise and numericalise ``texts`` with textrnn."""
    start = time.perf_counter()
    for text in texts:
        vocab.encode(word_tokenize(text))
    return time.perf_counter() - start


def baseline_seconds(texts: list[str], stoi: dict[str, int], unk: int) -> float:
    """Seconds for the same with ``re.findall`` on the lowercased text and a dict lookup per token."""
    findall, get = BASELINE_RE.findall, stoi.get
    start = time.perf_counter()
    for text in texts:
        [get(token, unk) for token in findall(text.lower())]
    return time.perf_counter() - start


def tokenize_rows(
    sst2_texts: int | None = None, imdb_texts: int = 25_000, repeats: int = 3, path: str = SST2_TRAIN
) -> list[dict]:
    """Case 5 of scripts/benchmark.py: textrnn vs the baseline on SST-2 train and IMDB-length texts.

    Args:
        sst2_texts: Use the first this many SST-2 training sentences (None: all 67,349).
        imdb_texts: Synthetic IMDB-length texts.
        repeats: Alternating timings of each; the runner takes medians.
        path: The SST-2 training file.
    """
    sentences = read_sentences(path)
    vocab = Vocab.from_texts(word_tokenize(s) for s in sentences)
    corpora = {
        f"SST-2 train ({len(sentences[:sst2_texts]):,} sentences)": sentences[:sst2_texts],
        f"IMDB-length texts ({imdb_texts:,} x ~230 words, synthetic)": imdb_like_texts(sentences, imdb_texts),
    }
    rows = []
    for name, texts in corpora.items():
        tokens = sum(len(word_tokenize(t)) for t in texts)
        ours, base = [], []
        for r in range(repeats):
            for side in ("textrnn", "baseline")[:: 1 if r % 2 == 0 else -1]:  # alternate which goes first
                if side == "textrnn":
                    ours.append(tokens / textrnn_seconds(texts, vocab))
                else:
                    base.append(tokens / baseline_seconds(texts, vocab.stoi, vocab.unk_id))
        rows.append(
            {
                "case": "tokenize",
                "measurement": f"{name}: tokenise + numericalise, tokens/s ({tokens:,} tokens)",
                "unit": "tokens/s",
                "textrnn_runs": ours,
                "baseline_runs": base,
                "target": ("ratio", ">=", 1.0),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imdb-texts", type=int, default=25_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    for r in tokenize_rows(None, args.imdb_texts, args.repeats):
        ours, base = statistics.median(r["textrnn_runs"]), statistics.median(r["baseline_runs"])
        print(f"{r['measurement']}: textrnn {ours:,.0f}, baseline {base:,.0f} (ratio {ours / base:.2f})")


if __name__ == "__main__":
    main()
