"""``textrnn vectors``: nearest neighbours, analogies and export of word vectors.

The vectors come from any source that ``data.embeddings.source`` accepts (a name such as
``glove-6B-50d`` or a vectors file, read by :mod:`textrnn.vectors.readers`), or from a trained model: a
checkpoint (``.ckpt``) or pretrained-model folder, whose embedding rows are its vocabulary's vectors.
The search itself is gensim's ``KeyedVectors.most_similar`` (cosine similarity).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from textrnn.atomic import atomic_file
from textrnn.errors import UserError
from textrnn.inference.loading import load_model
from textrnn.vectors.embeddings import Embeddings, leading_words, load_source, source_kind

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

# The readers name the YAML settings; on this command line the user typed these options instead.
_OPTIONS = {"data.embeddings.source": "--vectors", "data.embeddings.format": "--format"}


def is_model(source: str | Path) -> bool:
    """Whether ``source`` names a trained model: a ``.ckpt`` file or a pretrained-model folder."""
    path = Path(source).expanduser()
    return path.suffix == ".ckpt" or path.is_dir()


def escape(token: str) -> str:
    """``token`` with each whitespace character written as ``U+XXXX``.

    word2vec files separate words from numbers by spaces and rows by line breaks, so a character
    model's ``" "`` and ``"\\n"`` become ``U+0020`` and ``U+000A``. Word vocabularies never hold
    whitespace (the tokeniser splits on it), so their words are unchanged.
    """
    return "".join(f"U+{ord(ch):04X}" if ch.isspace() else ch for ch in token)


def model_rows(path: str | Path) -> tuple[list[str], np.ndarray]:
    """The vocabulary of a trained model (``<pad>`` left out, :func:`escape`-d) and its embedding rows."""
    net, record = load_model(path)
    # WordEmbedding.weight joins its fine-tuned and fixed rows; nn.Embedding.weight is the table itself
    matrix = net.embedding.weight.detach().float().numpy()
    tokens = record.vocab
    return [escape(tok) for tok in tokens[1:]], matrix[1:]


def source_rows(source: str, fmt: str = "auto", limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """The words of a pretrained source in its order (most frequent first) and their vectors.

    Args:
        source: A name (``glove-6B-50d``, a gensim-data model) or a vectors file, as in
            :class:`textrnn.vectors.embeddings.Embeddings`.
        fmt: The file's format (see :data:`textrnn.vectors.readers.FORMATS`).
        limit: Read only the first ``limit`` words (default: all).
    """
    spec = Embeddings(source=source, format=fmt)
    kind = source_kind(spec)
    if kind == "word2vec":  # vectors trained on a training split: nothing to read here
        raise UserError(f"data.embeddings.source {source!r} trains vectors during fit; give vectors to read")
    # a repeated word keeps its first row, as in the readers
    words = list(dict.fromkeys(leading_words(spec, limit or sys.maxsize)))
    found = load_source(spec, kind, set(words), None)
    # the word lister strips odd lines (e.g. a leading tab) that the row reader keeps as they are
    words = [word for word in words if word in found.rows]
    return words, np.stack([found.rows[word] for word in words])


def load_keyed_vectors(
    source: str | Path, fmt: str = "auto", limit: int | None = None, keep_unk: bool = False
) -> KeyedVectors:
    """Word vectors of ``source`` as gensim ``KeyedVectors``, in the source's order.

    Args:
        source: A trained model (see :func:`is_model`) or a pretrained source (see :func:`source_rows`).
        fmt: A vectors file's format; ignored for a model.
        limit: Keep only the first ``limit`` words: the most frequent ones for GloVe, word2vec and
            textrnn vocabularies (default: all).
        keep_unk: Keep a model's ``<unk>`` row (its vector for every unknown word); ``<pad>`` is never kept.

    Raises:
        UserError: The source is missing, unreadable or not a vectors source.
    """
    from gensim.models import KeyedVectors  # imported here: gensim is slow to import

    if is_model(source):
        words, matrix = model_rows(source)
        skip = 0 if keep_unk else 1  # <unk> directly follows <pad>
        end = None if limit is None else skip + limit
        words, matrix = words[skip:end], matrix[skip:end]
    else:
        words, matrix = source_rows(str(source), fmt, limit)
    kv = KeyedVectors(matrix.shape[1], dtype=np.float32)
    kv.add_vectors(words, matrix)
    return kv


def lookup(kv: KeyedVectors, words: list[str]) -> list[str]:
    """The key of each word: the word itself, else its lowercased form (as textrnn aligns vectors).

    Raises:
        UserError: Naming every word found in neither form.
    """
    keys = [word if word in kv.key_to_index else word.lower() for word in words]
    missing = [word for word, key in zip(words, keys, strict=True) if key not in kv.key_to_index]
    if missing:
        names = ", ".join(map(repr, missing))
        raise UserError(f"not in the vocabulary of the vectors ({len(kv):,} words): {names}")
    return keys


def similar(kv: KeyedVectors, words: list[str], n: int = 10) -> dict[str, list[tuple[str, float]]]:
    """The ``n`` nearest neighbours of each word by cosine similarity, best first, keyed by the word's key."""
    return {key: kv.most_similar(key, topn=n) for key in lookup(kv, words)}


def analogy(kv: KeyedVectors, a: str, b: str, c: str, n: int = 10) -> list[tuple[str, float]]:
    """Answers to "``a`` is to ``b`` as ``c`` is to ?", best first: the words nearest ``b - a + c``.

    This is gensim's ``most_similar(positive=[b, c], negative=[a])``, which leaves out the three words.
    """
    key_a, key_b, key_c = lookup(kv, [a, b, c])
    return kv.most_similar(positive=[key_b, key_c], negative=[key_a], topn=n)


def export_vectors(
    source: str | Path, out: str | Path, binary: bool = False, fmt: str = "auto", limit: int | None = None
) -> int:
    """Write the vectors of ``source`` in word2vec format (text, or binary); return how many.

    A model's ``<unk>`` row is kept, so a model trained on the file starts its ``<unk>`` from it;
    ``<pad>`` is left out. The file appears whole or not at all (it is written under a temporary
    name in the same folder first); a name ending in ``.gz`` or ``.bz2`` is compressed by gensim.
    """
    out = Path(out)
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: no such directory {out.parent}")
    kv = load_keyed_vectors(source, fmt, limit, keep_unk=True)
    try:
        with atomic_file(out) as tmp:  # its suffix tells gensim to compress
            kv.save_word2vec_format(str(tmp), binary=binary)
    except OSError as err:
        raise UserError(f"cannot write {out}: {err}") from None
    return len(kv)


def _print_scores(pairs: list[tuple[str, float]]) -> None:
    """One indented ``word  score`` line per answer, the scores aligned."""
    width = max((len(word) for word, _ in pairs), default=0)
    for word, score in pairs:
        print(f"  {word:<{width}}  {score:.4f}")


def _parser() -> argparse.ArgumentParser:
    """The three subcommands; the source options are shared through parent parsers."""
    source = argparse.ArgumentParser(add_help=False)
    source.add_argument("--format", default="auto", help="a vectors file's format (default: auto)")
    source.add_argument("--limit", type=_positive, help="read only the first N (most frequent) words")
    search = argparse.ArgumentParser(add_help=False, parents=[source])
    search.add_argument("--vectors", required=True, help="glove-6B-50d, a vectors file, a checkpoint or folder")
    search.add_argument("-n", type=_positive, default=10, help="answers to print (default: 10)")
    parser = argparse.ArgumentParser(prog="textrnn vectors", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    nearest = commands.add_parser("similar", parents=[search], help="nearest neighbours of each word")
    nearest.add_argument("words", nargs="+", metavar="WORD")
    analogies = commands.add_parser("analogy", parents=[search], help="A is to B as C is to ?")
    for name in "ABC":
        analogies.add_argument(name.lower(), metavar=name)
    export = commands.add_parser("export", parents=[source], help="write word2vec text or binary")
    export.add_argument("source", help="a checkpoint or pretrained-model folder (or any vectors source)")
    export.add_argument("--out", required=True, help="the file to write")
    export.add_argument("--binary", action="store_true", help="word2vec binary instead of text")
    return parser


def _positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> None:
    """``textrnn vectors``: nearest neighbours, analogies (cosine similarity), export to word2vec format."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "export":
            count = export_vectors(args.source, args.out, args.binary, args.format, args.limit)
            print(f"{count:,} vectors: {args.out}")
            return
        kv = load_keyed_vectors(args.vectors, args.format, args.limit)
        if args.command == "similar":
            for key, pairs in similar(kv, args.words, args.n).items():
                print(key)
                _print_scores(pairs)
        else:
            print(f"{args.a} : {args.b} :: {args.c} : ?")
            _print_scores(analogy(kv, args.a, args.b, args.c, args.n))
    except UserError as err:
        message = str(err)
        for setting, option in _OPTIONS.items():
            message = message.replace(setting, option)
        sys.exit(f"textrnn vectors: error: {message}")
