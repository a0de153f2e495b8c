"""Numericalised texts in one flat tensor, length-bucketed batches, and padding to the batch's longest."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Dataset, Sampler


class EncodedTexts(Dataset):
    """Token ids of many texts stored flat (ids + offsets), so the corpus is tokenised once.

    Args:
        sequences: One list of token ids per text.
        labels: One class id per text, or None (prediction).
    """

    def __init__(self, sequences: Sequence[Sequence[int]], labels: Sequence[int] | None = None):
        self.lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
        self.offsets = torch.zeros(len(sequences) + 1, dtype=torch.long)
        torch.cumsum(self.lengths, 0, out=self.offsets[1:])
        self.ids = torch.tensor([i for s in sequences for i in s], dtype=torch.long)
        self.labels = None if labels is None else torch.tensor(labels, dtype=torch.long)

    @classmethod
    def from_arrays(cls, ids: torch.Tensor, offsets: torch.Tensor, labels: torch.Tensor | None) -> EncodedTexts:
        """Texts from the flat arrays of :meth:`arrays` (a saved store), without copying them."""
        texts = cls.__new__(cls)
        texts.ids, texts.offsets, texts.labels = ids, offsets, labels
        texts.lengths = offsets[1:] - offsets[:-1]
        return texts

    def arrays(self) -> dict[str, torch.Tensor | None]:
        """The flat arrays: ``ids`` (all texts' ids), ``offsets`` (N + 1) and ``labels`` (N, or None)."""
        return {"ids": self.ids, "offsets": self.offsets, "labels": self.labels}

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor, int]:
        start, end = self.offsets[index], self.offsets[index + 1]
        label = -1 if self.labels is None else int(self.labels[index])
        return index, self.ids[start:end].long(), label  # int64 for the model; a store keeps fewer bits

    def __getitems__(self, indices: list[int]) -> list[tuple[int, torch.Tensor, int]]:
        """A whole batch at once (the DataLoader's fast path): one conversion of offsets and labels."""
        rows = torch.tensor(indices, dtype=torch.long)  # an empty list would give a float tensor
        starts, ends = self.offsets[rows].tolist(), self.offsets[rows + 1].tolist()
        labels = [-1] * len(indices) if self.labels is None else self.labels[rows].tolist()
        return [(i, self.ids[a:b].long(), y) for i, a, b, y in zip(indices, starts, ends, labels)]


def pad_batch(items: list[tuple[int, torch.Tensor, int]]) -> dict[str, torch.Tensor]:
    """Collate to ``ids`` (B, T) padded with 0 up to the longest text, ``lengths``, ``labels``, ``index``."""
    index, seqs, labels = zip(*items)
    return {
        "ids": torch.nn.utils.rnn.pad_sequence(list(seqs), batch_first=True, padding_value=0),
        "lengths": torch.tensor([len(s) for s in seqs], dtype=torch.long),
        "labels": torch.tensor(labels, dtype=torch.long),
        "index": torch.tensor(index, dtype=torch.long),
    }


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar lengths: shuffle, cut into pools of ``pool_batches`` batches, sort each
    pool by length, cut into batches, and shuffle the batch order.

    Without shuffling, all texts are sorted by length once (fast, deterministic evaluation).
    Under data parallelism each replica takes every ``num_replicas``-th batch.

    Args:
        lengths: Length of each text.
        batch_size: Texts per batch.
        shuffle: Reshuffle every epoch (call :meth:`set_epoch`).
        seed: Base seed; the epoch is added to it.
        pool_batches: How many batches are sorted together; larger pads less but mixes less.
        num_replicas: Number of data-parallel processes.
        rank: This process's index among them.
    """

    def __init__(
        self,
        lengths: torch.Tensor,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        pool_batches: int = 50,
        num_replicas: int = 1,
        rank: int = 0,
    ):
        self.lengths = lengths
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use this epoch's order."""
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True)
            return [b.tolist() for b in order.split(self.batch_size)]
        gen = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.lengths), generator=gen)
        batches = []
        for pool in order.split(self.batch_size * self.pool_batches):
            pool = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches.extend(pool.split(self.batch_size))
        return [batches[i].tolist() for i in torch.randperm(len(batches), generator=gen)]

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches()
        if self.num_replicas > 1:
            # equal batch counts per replica, or DDP waits forever on the missing step
            usable = len(batches) - len(batches) % self.num_replicas
            batches = batches[self.rank : usable : self.num_replicas]
        return iter(batches)

    def __len__(self) -> int:
        n = -(-len(self.lengths) // self.batch_size)
        return n // self.num_replicas if self.num_replicas > 1 else n
