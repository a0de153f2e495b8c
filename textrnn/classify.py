"""Classify texts with a trained checkpoint, from Python (``load_classifier``) or the shell."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from textrnn.batching import pad_batch
from textrnn.checkpoint import load_net
from textrnn.errors import UserError
from textrnn.models import TextClassifierNet
from textrnn.tokenize import word_tokenize
from textrnn.vocab import Vocab


@dataclass(frozen=True)
class Prediction:
    """One text's predicted class."""

    label: str
    label_id: int
    probability: float


class Classifier:
    """A trained classifier with its vocabulary and tokeniser, ready for raw text.

    Args:
        net: The plain model, in eval mode.
        vocab: Its vocabulary.
        label_names: Class names by id.
        tokenizer: Tokeniser settings (``lowercase``, ``max_length``).
    """

    def __init__(self, net: TextClassifierNet, vocab: Vocab, label_names: list[str], tokenizer: dict):
        self.net, self.vocab = net.eval(), vocab
        self.label_names, self.tokenizer = label_names, tokenizer

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, as the training data was encoded; ``<unk>`` for an empty text."""
        tokens = word_tokenize(text, self.tokenizer["lowercase"])[: self.tokenizer["max_length"]]
        return self.vocab.encode(tokens) or [Vocab.unk_id]

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        """(N, C) class probabilities, in the order of ``texts``."""
        if isinstance(texts, str):
            raise TypeError("predict takes a list of texts, not one string")
        ids = [torch.tensor(self.encode(t)) for t in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths pad less
        probs = torch.empty(len(ids), len(self.label_names))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = pad_batch([(i, ids[i], -1) for i in chunk])
            logits = self.net(batch["ids"].to(self.device), batch["lengths"])
            probs[chunk] = torch.softmax(logits.float(), dim=-1).cpu()
        return probs

    def predict(self, texts: Sequence[str], batch_size: int = 256) -> list[Prediction]:
        """One :class:`Prediction` per text, in order."""
        probability, label_id = self.predict_proba(texts, batch_size).max(dim=-1)
        return [Prediction(self.label_names[i], i, p) for i, p in zip(label_id.tolist(), probability.tolist())]


def load_classifier(path: str | Path, device: str | torch.device | None = None) -> Classifier:
    """Load a classification checkpoint; needs neither Lightning training data nor vectors files.

    Args:
        path: A checkpoint written by ``textrnn fit``.
        device: Where to run (default: CUDA when available, else CPU).
    """
    net, meta = load_net(path, "classification", TextClassifierNet)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return Classifier(net.to(device), Vocab.from_dict(meta["vocab"]), meta["label_names"], meta["tokenizer"])


def main(argv: list[str] | None = None) -> None:
    """``textrnn-classify``: print the label and probability of each text (arguments or stdin lines)."""
    parser = argparse.ArgumentParser(prog="textrnn-classify", description=main.__doc__)
    parser.add_argument("--checkpoint", required=True, help="a checkpoint written by textrnn fit")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: best available)")
    parser.add_argument("texts", nargs="*", help="texts to classify (default: one per line of stdin)")
    args = parser.parse_args(argv)
    try:
        texts = args.texts or [line.rstrip("\n") for line in sys.stdin]
        for text, pred in zip(texts, load_classifier(args.checkpoint, args.device).predict(texts)):
            print(f"{pred.label}\t{pred.probability:.4f}\t{text}")
    except UserError as err:
        sys.exit(f"textrnn-classify: error: {err}")


if __name__ == "__main__":
    main()
