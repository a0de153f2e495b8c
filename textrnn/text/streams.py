"""Contiguous character streams for truncated back-propagation through time, with a resumable position."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, IterableDataset

from textrnn.errors import UserError


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
            # int64 for the model; the text may be mapped from disk as uint8 or uint16
            yield self.inputs[:, start:end].long(), self.targets[:, start:end].long()  # (B, T), (B, T)

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
