"""Classify texts with a trained checkpoint, from Python (``load_classifier``) or the shell."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from textrnn.errors import UserError
from textrnn.inference.loading import best_device, load_model
from textrnn.inference.record import ModelRecord
from textrnn.nn.classifier import TextClassifierNet
from textrnn.text.batching import pad_batch
from textrnn.text.tokenize import DEFAULT_MAX_TOKENS, word_tokenize
from textrnn.text.vocab import Vocab

log = logging.getLogger("textrnn")


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
        max_tokens: Read at most this many tokens of a text when the tokeniser has no ``max_length``
            (None: no bound); a text cut this way is counted in a warning. A checkpoint's
            ``max_length`` always applies, as in training.
        temperature: The logits are divided by it before the softmax (the model's calibration).
    """

    def __init__(
        self,
        net: TextClassifierNet,
        vocab: Vocab,
        label_names: list[str],
        tokenizer: dict,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        temperature: float = 1.0,
    ):
        if max_tokens is not None and max_tokens < 1:
            raise UserError(f"max_tokens must be 1 or more (or None: no bound), not {max_tokens}")
        self.net, self.vocab = net.eval(), vocab
        self.label_names, self.tokenizer = label_names, tokenizer
        self.max_tokens, self.temperature = max_tokens, temperature

    @classmethod
    def from_model(
        cls,
        net: TextClassifierNet,
        record: ModelRecord,
        device: str | torch.device | None = None,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
    ) -> Classifier:
        """The classifier of a loaded model and its record, on ``device`` (default: CUDA when available,
        else CPU)."""
        net = net.to(best_device(device))
        vocab, temperature = Vocab(record.vocab), record.calibration_temperature
        return cls(net, vocab, record.label_names, record.tokenizer, max_tokens, temperature)

    @property
    def token_limit(self) -> int | None:
        """Tokens read per text: the checkpoint's ``max_length``, else ``max_tokens``."""
        max_length = self.tokenizer.get("max_length")
        return max_length if max_length is not None else self.max_tokens

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, as the training data was encoded, cut to :attr:`token_limit`;
        ``<unk>`` for an empty text."""
        return self._encode(text)[0]

    def _encode(self, text: str) -> tuple[list[int], bool]:
        """The ids of ``text`` and whether ``max_tokens`` (not the checkpoint's max_length) cut it."""
        tokens = word_tokenize(text, self.tokenizer["lowercase"])
        limit = self.token_limit
        cut = limit is not None and len(tokens) > limit and self.tokenizer.get("max_length") is None
        return self.vocab.encode(tokens[:limit]) or [Vocab.unk_id], cut

    def _encode_all(self, texts: Sequence[str]) -> list[torch.Tensor]:
        ids, cut = [], 0
        for text in texts:
            encoded, was_cut = self._encode(text)
            ids.append(torch.tensor(encoded))
            cut += was_cut
        if cut:
            log.warning(
                "%d text(s) longer than %d tokens were cut to their first %d (max_tokens)",
                cut,
                self.max_tokens,
                self.max_tokens,
            )
        return ids

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
        """(N, C) class probabilities, in the order of ``texts``."""
        if isinstance(texts, str):
            raise TypeError("predict takes a list of texts, not one string")
        ids = self._encode_all(texts)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths pad less
        probs = torch.empty(len(ids), len(self.label_names))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = pad_batch([(i, ids[i], -1) for i in chunk])
            logits = self.net(batch["ids"].to(self.device), batch["lengths"])
            probs[chunk] = torch.softmax(logits.float() / self.temperature, dim=-1).cpu()
        return probs

    def predict(self, texts: Sequence[str], batch_size: int = 256) -> list[Prediction]:
        """One :class:`Prediction` per text, in order."""
        probability, label_id = self.predict_proba(texts, batch_size).max(dim=-1)
        return [Prediction(self.label_names[i], i, p) for i, p in zip(label_id.tolist(), probability.tolist())]


def load_classifier(
    path: str | Path,
    device: str | torch.device | None = None,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
) -> Classifier:
    """Load a classification checkpoint or model folder; needs neither training data nor vectors files.

    Args:
        path: A checkpoint written by ``textrnn fit``, or a folder written by ``save_pretrained``.
        device: Where to run (default: CUDA when available, else CPU).
        max_tokens: Tokens read per text when the checkpoint has no ``max_length`` (None: all).
    """
    return Classifier.from_model(*load_model(path, "classification"), device, max_tokens)


def main(argv: list[str] | None = None) -> None:
    """``textrnn-classify``: print the label and probability of each text (arguments or stdin lines)."""
    parser = argparse.ArgumentParser(prog="textrnn-classify", description=main.__doc__)
    parser.add_argument(
        "--model",
        "--checkpoint",
        dest="model",
        required=True,
        help="a shipped model's name (see textrnn models), a checkpoint of textrnn fit, or a model folder",
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: best available)")
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=DEFAULT_MAX_TOKENS,
        help="tokens read per text when the checkpoint has no max_length (0: all; default: %(default)s)",
    )
    parser.add_argument("texts", nargs="*", help="texts to classify (default: one per line of stdin)")
    args = parser.parse_args(argv)
    try:
        texts = args.texts or [line.rstrip("\n") for line in sys.stdin]
        if args.max_tokens < 0:
            raise UserError(f"--max-tokens must be 0 (no bound) or more, not {args.max_tokens}")
        classifier = load_classifier(args.model, args.device, args.max_tokens or None)
        for text, pred in zip(texts, classifier.predict(texts)):
            print(f"{pred.label}\t{pred.probability:.4f}\t{text}")
    except UserError as err:
        sys.exit(f"textrnn-classify: error: {err}")


if __name__ == "__main__":
    main()
