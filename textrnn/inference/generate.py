"""Generate text from a character-level checkpoint: read the prompt once, then one step per character."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from textrnn.errors import UserError
from textrnn.inference.loading import best_device, load_model
from textrnn.inference.record import ModelRecord
from textrnn.inference.sampling import sample_next
from textrnn.nn.char_lm import CharLMNet
from textrnn.nn.encoder import State
from textrnn.text.vocab import Vocab

log = logging.getLogger("textrnn")


class Generator:
    """A character model with its vocabulary, ready to continue a prompt.

    Args:
        net: The plain model (put in eval mode).
        vocab: Its characters.
        prompt_chunk: Prompt characters fed per forward pass; bounds memory for very long prompts.
    """

    def __init__(self, net: CharLMNet, vocab: Vocab, prompt_chunk: int = 4096):
        self.net, self.vocab, self.prompt_chunk = net.eval(), vocab, prompt_chunk
        self.banned = torch.zeros(len(vocab), dtype=torch.bool, device=self.device)
        self.banned[[Vocab.pad_id, Vocab.unk_id]] = True  # never emitted

    @classmethod
    def from_model(
        cls, net: CharLMNet, record: ModelRecord, device: str | torch.device | None = None
    ) -> Generator:
        """The generator of a loaded model and its record, on ``device`` (default: CUDA when available,
        else CPU)."""
        return cls(net.to(best_device(device)), Vocab(record.vocab))

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def encode_prompt(self, prompt: str) -> torch.Tensor:
        """(T,) ids of ``prompt``; characters never seen in training map to ``<unk>`` with a warning."""
        if not prompt:
            raise UserError("the prompt is empty: give at least one character")
        unknown = sorted({c for c in prompt if c not in self.vocab})
        if unknown:
            log.warning("prompt characters unseen in training, read as <unk>: %s", "".join(unknown)[:50])
        return torch.tensor(self.vocab.encode(prompt), device=self.device)

    def _read_prompt(self, ids: torch.Tensor, num_samples: int) -> tuple[torch.Tensor, State]:
        """Run the prompt through the model in chunks; return the last logits (N, V) and the state."""
        state = None
        for chunk in ids.split(self.prompt_chunk):
            logits, state = self.net(chunk.expand(num_samples, -1), state)  # (N, t, V)
        return logits[:, -1], state

    @torch.inference_mode()
    def generate(
        self,
        prompt: str,
        length: int = 200,
        *,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        greedy: bool = False,
        seed: int | None = None,
        num_samples: int = 1,
        stop: list[str] | None = None,
        stream: Callable[[str], None] | None = None,
    ) -> list[str]:
        """Continue ``prompt`` by up to ``length`` characters, ``num_samples`` times in one batch.

        Args:
            prompt: The text to continue (at least one character).
            length: The most characters to generate.
            temperature: Divides the logits: below 1 safer, above 1 wilder.
            top_k: Sample among the k likeliest characters (0: all).
            top_p: Sample among the likeliest characters that make up ``top_p`` of the probability.
            greedy: Always take the likeliest character.
            seed: Makes the samples reproducible.
            stop: Stop a sample when its new text ends with one of these strings (which are kept).
            stream: Called with each new character of the first sample as it is generated.

        Returns:
            The generated continuations (without the prompt).
        """
        options = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "greedy": greedy, "seed": seed}
        if stream is None and not stop:  # no character is needed on the host before the end
            steps = list(self._sample(prompt, length, num_samples, **options))
            out = torch.stack(steps, dim=1) if steps else torch.empty(num_samples, 0, dtype=torch.long)
            return ["".join(self.vocab.decode(row)) for row in out.tolist()]
        texts = [""] * num_samples
        for new in self.iter_text(prompt, length, num_samples=num_samples, stop=stop, **options):
            texts = [text + c for text, c in zip(texts, new)]
            if stream is not None and new[0]:
                stream(new[0])
        return texts

    def iter_text(
        self, prompt: str, length: int = 200, *, num_samples: int = 1, stop: list[str] | None = None, **options
    ) -> Iterator[list[str]]:
        """Continue ``prompt`` one step at a time: yield each sample's new character ("" once it stopped).

        Takes the options of :meth:`generate`. Stepping stops when every sample hit a ``stop`` string or after
        ``length`` steps; closing the iterator early frees its work, and no step runs ahead of what was taken.
        """
        texts, done = [""] * num_samples, [False] * num_samples
        for ids in self._sample(prompt, length, num_samples, **options):
            new = ["" if finished else self.vocab.itos[i] for i, finished in zip(ids.tolist(), done)]
            texts = [text + c for text, c in zip(texts, new)]
            done = [d or (bool(stop) and any(text.endswith(s) for s in stop)) for d, text in zip(done, texts)]
            yield new
            if all(done):
                return

    @torch.inference_mode()
    def _sample(
        self, prompt: str, length: int, num_samples: int, *, seed: int | None = None, **options
    ) -> Iterator[torch.Tensor]:
        """Yield (N,) sampled ids per step; the model steps only when the next ids are asked for."""
        if length < 0:
            raise UserError(f"length must be 0 or more, not {length}")
        gen = torch.Generator(self.device).manual_seed(seed) if seed is not None else None
        logits, state = self._read_prompt(self.encode_prompt(prompt), num_samples)
        for t in range(length):
            logits.masked_fill_(self.banned, float("-inf"))
            ids = sample_next(logits, generator=gen, **options)
            yield ids
            if t + 1 < length:
                logits, state = self.net.step(ids, state)


def load_generator(path: str | Path, device: str | torch.device | None = None) -> Generator:
    """Load a character-level checkpoint or model folder (nothing else is needed) onto ``device``
    (default: best)."""
    return Generator.from_model(*load_model(path, "char_lm"), device)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textrnn-generate", description="Generate text from a character checkpoint."
    )
    parser.add_argument(
        "--model",
        "--checkpoint",
        dest="model",
        required=True,
        help="a shipped model's name (see textrnn models), a char_lm checkpoint, or a model folder",
    )
    parser.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    parser.add_argument("--length", type=int, default=500, help="characters to generate")
    parser.add_argument("--temperature", type=float, default=0.8, help="below 1: safer; above 1: wilder")
    parser.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest characters (0: all)")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling threshold (1: off)")
    parser.add_argument("--greedy", action="store_true", help="always take the likeliest character")
    parser.add_argument("--seed", type=int, default=None, help="makes the output reproducible")
    parser.add_argument("--num-samples", type=int, default=1, help="samples drawn together as one batch")
    parser.add_argument("--stop", action="append", default=None, help="stop a sample after this string")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: best available)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """``textrnn-generate``: print the prompt and its continuation, streaming as it is generated."""
    args = _parser().parse_args(argv)
    try:
        if args.num_samples < 1:
            raise UserError(f"--num-samples must be 1 or more, not {args.num_samples}")
        generator = load_generator(args.model, args.device)
        options = {k: getattr(args, k) for k in ("temperature", "top_k", "top_p", "greedy", "seed", "stop")}
        if args.num_samples == 1:
            print(args.prompt, end="", flush=True)
            write = lambda c: print(c, end="", flush=True)  # noqa: E731
            generator.generate(args.prompt, args.length, stream=write, **options)
            print()
            return
        for i, text in enumerate(
            generator.generate(args.prompt, args.length, num_samples=args.num_samples, **options)
        ):
            print(f"--- sample {i + 1} ---\n{args.prompt}{text}")
    except UserError as err:
        sys.exit(f"textrnn-generate: error: {err}")


if __name__ == "__main__":
    main()
