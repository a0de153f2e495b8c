"""LightningDataModule for plain text as characters, served as parallel contiguous streams (TBPTT)."""

from __future__ import annotations

from collections import Counter

import torch
from torch.utils.data import DataLoader

from textrnn.errors import UserError
from textrnn.inference.loading import read_model
from textrnn.text.sources import check_columns, read_hub
from textrnn.text.store import CharStore, char_store, split_bounds
from textrnn.text.streams import CharStreams, StreamLoader
from textrnn.text.vocab import Vocab
from textrnn.training.datamodule import VocabDataModule


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

    def prepare_data(self) -> None:
        """Tokenise the files into the store, once: Lightning calls this on one process per machine, and the
        others wait for it before :meth:`setup` maps the store."""
        if not self.dataset:
            self._store()

    def _prepare(self) -> None:
        if self._vocab is not None:
            return
        if self.dataset:
            return self._prepare_in_memory(self._read_hub())
        store = self._store()
        self._vocab = Vocab(store.vocab)
        self.parts = {part: store.ids(part) for part in store.parts}  # (n,) each, mapped from disk

    def _store(self) -> CharStore:
        if not self.files:
            raise UserError("data.files: give one or more text files (or data.dataset)")
        return char_store(self.files, self.val_fraction, self.test_fraction, self._given_vocab())

    def _given_vocab(self) -> Vocab | None:
        return Vocab(read_model(self.vocab_from, task="char_lm")[0].vocab) if self.vocab_from else None

    def _prepare_in_memory(self, text: str) -> None:
        """The parts of a text held in memory (a hub dataset's), as the store would make them."""
        bounds = split_bounds(len(text), self.val_fraction, self.test_fraction)
        self._vocab = self._given_vocab() or Vocab.build(Counter(text[: bounds["train"][1]]))
        for part, (start, end) in bounds.items():
            self.parts[part] = torch.tensor(self._vocab.encode(text[start:end]), dtype=torch.long)

    def _read_hub(self) -> str:
        table = read_hub(self.dataset)["train"]
        check_columns(table, [self.text_column], self.dataset)
        text = "\n".join(table[self.text_column])
        if not text:
            raise UserError(f"{self.dataset}: the text is empty")
        return text

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
