"""LightningDataModule for plain text as characters, served as parallel contiguous streams (TBPTT)."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import torch
from torch.utils.data import DataLoader, IterableDataset

from textrnn.checkpoint import read_metadata
from textrnn.data import VocabDataModule
from textrnn.errors import UserError
from textrnn.sources import check_columns, check_utf8, read_hub
from textrnn.vocab import Vocab


class CharStreams(IterableDataset):
    """A text cut into ``batch_size`` contiguous streams, read ``seq_len`` characters at a time.

    Batch k holds characters ``[k*T, (k+1)*T)`` of every stream and their successors as targets, so
    row i of batch k+1 continues exactly where row i of batch k ended: a recurrent state carried from
    one batch to the next stays valid. Every character but the first is a target once, except the
    last ``(len - 1) % batch_size`` ones.

    Args:
        ids: (N,) the text's character ids.
        batch_size: Number of parallel streams B.
        seq_len: Characters per batch and stream T (the truncation length of back-propagation).
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int):
        stream_len = (len(ids) - 1) // batch_size
        if stream_len < 1:
            raise UserError(f"the text ({len(ids)} characters) is too short for {batch_size} streams")
        n = batch_size * stream_len
        self.inputs = ids[:n].view(batch_size, stream_len)  # (B, L)
        self.targets = ids[1 : n + 1].view(batch_size, stream_len)  # (B, L)
        self.seq_len = seq_len
        self.served = 0  # batches handed out by the current pass
        self._resume_at = 0  # the batch the next pass starts at (set by load_state_dict)

    def __len__(self) -> int:
        return -(-self.inputs.size(1) // self.seq_len)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # not a generator itself: the pass (and its count) begins at iter(), not at the first next()
        first, self._resume_at = self._resume_at, 0
        self.served = first
        return self._batches(first)

    def _batches(self, first: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for start in range(first * self.seq_len, self.inputs.size(1), self.seq_len):
            end = start + self.seq_len
            self.served += 1
            yield self.inputs[:, start:end], self.targets[:, start:end]  # (B, T), (B, T)

    def state_dict(self) -> dict[str, int]:
        """Where the current pass stands: the batches served so far, and how many a pass has."""
        return {"served": self.served, "batches": len(self)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Start the next pass after the ``served`` batches of a saved one (a resumed epoch)."""
        if state.get("batches") != len(self):
            warnings.warn(
                f"the saved character stream position is for {state.get('batches')} batches per epoch, "
                f"not {len(self)} (other data or batch_size/seq_len): the epoch restarts its streams",
                stacklevel=2,
            )
            return
        self._resume_at = int(state["served"])


class StreamLoader(DataLoader):
    """A ``DataLoader`` over :class:`CharStreams` whose position Lightning saves in checkpoints.

    Lightning stores the ``state_dict`` of stateful training loaders in the checkpoint and, when a fit
    resumes inside an epoch, calls ``load_state_dict`` before iterating again: the streams then
    continue at the next batch instead of starting over. Single process loading only (the count lives
    in the dataset object).

    It draws its iterators' (unused) base seed from a generator of its own, not from the global one
    that dropout uses: a resumed fit iterates the loader at other moments than an uninterrupted one
    (once more when it restores inside an epoch), and must not shift the dropout masks by doing so.
    """

    def __init__(self, dataset: CharStreams, **kwargs):
        kwargs.setdefault("generator", torch.Generator())
        super().__init__(dataset, **kwargs)

    def state_dict(self) -> dict[str, int]:
        return self.dataset.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.dataset.load_state_dict(state)


class CharLMData(VocabDataModule):
    """Plain text for character-level language modelling, split into contiguous parts.

    The vocabulary holds the training part's characters after ``<pad>`` and ``<unk>``.

    Args:
        files: Local UTF-8 text files, concatenated in order.
        dataset: A hub dataset name instead of files; its ``text_column`` rows are joined by newlines.
        text_column: Column of the hub dataset holding the text.
        val_fraction: Share of the text (after train) used for validation.
        test_fraction: Share at the end used for testing (0: no test part).
        batch_size: Parallel streams B in training.
        seq_len: Characters per training step and stream (truncated back-propagation length).
        eval_batch_size: Parallel streams in validation and test.
        vocab_from: A checkpoint whose character vocabulary is used instead of one built from train.
    """

    def __init__(
        self,
        files: list[str] | None = None,
        dataset: str | None = None,
        text_column: str = "text",
        val_fraction: float = 0.1,
        test_fraction: float = 0.0,
        batch_size: int = 64,
        seq_len: int = 128,
        eval_batch_size: int = 32,
        vocab_from: str | None = None,
    ):
        super().__init__()
        self.files, self.dataset, self.text_column = files, dataset, text_column
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.batch_size, self.seq_len, self.eval_batch_size = batch_size, seq_len, eval_batch_size
        self.vocab_from = vocab_from
        self.parts: dict[str, torch.Tensor] = {}

    @property
    def tokenizer(self) -> dict:
        return {"kind": "char"}

    def _prepare(self) -> None:
        if self._vocab is not None:
            return
        text = self._read_text()
        n = len(text)
        n_test, n_val = int(n * self.test_fraction), int(n * self.val_fraction)
        bounds = {"train": (0, n - n_val - n_test), "validation": (n - n_val - n_test, n - n_test)}
        if n_test:
            bounds["test"] = (n - n_test, n)
        train = text[: bounds["train"][1]]
        if self.vocab_from:
            self._vocab = Vocab.from_dict(read_metadata(self.vocab_from, task="char_lm")["vocab"])
        else:
            self._vocab = Vocab.build(Counter(train))
        for part, (start, end) in bounds.items():
            self.parts[part] = torch.tensor(self._vocab.encode(text[start:end]), dtype=torch.long)

    def _read_text(self) -> str:
        if self.dataset:
            table = read_hub(self.dataset)["train"]
            check_columns(table, [self.text_column], self.dataset)
            return "\n".join(table[self.text_column])
        if not self.files:
            raise UserError("data.files: give one or more text files (or data.dataset)")
        texts = []
        for name in self.files:
            path = Path(name)
            if not path.is_file():
                raise UserError(f"{name}: no such file")
            check_utf8(path)
            texts.append(path.read_text(encoding="utf-8"))
        if not any(texts):
            raise UserError(f"{', '.join(self.files)}: the text is empty")
        return "".join(texts)

    def setup(self, stage: str | None = None) -> None:
        self._prepare()

    def _loader(self, part: str, batch_size: int, seq_len: int, loader: type = DataLoader) -> DataLoader:
        if part not in self.parts:
            raise UserError(f"data: no {part} part (set data.{part.replace('validation', 'val')}_fraction)")
        data, trainer = self.parts[part], self.trainer
        if trainer is not None and trainer.world_size > 1:
            # each process streams its own contiguous slice; equal slices give equal batch counts
            size = len(data) // trainer.world_size
            data = data[trainer.global_rank * size : (trainer.global_rank + 1) * size]
        # an iterable dataset keeps batch order: Lightning adds no sampler that would break the streams
        return loader(CharStreams(data, batch_size, seq_len), batch_size=None)

    def train_dataloader(self) -> DataLoader:
        # stateful: a fit resumed from a checkpoint saved inside an epoch continues at the next batch
        return self._loader("train", self.batch_size, self.seq_len, StreamLoader)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", self.eval_batch_size, 4 * self.seq_len)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size, 4 * self.seq_len)
