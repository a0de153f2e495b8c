"""Micro-batching: concurrent classification requests share one forward pass."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class MicroBatcher:
    """Gathers the texts of waiting requests, up to ``max_batch_size`` texts or ``timeout_s`` after the first,
    and answers them all from one call of ``predict`` on ``executor`` (the model's one worker thread).

    A request larger than ``max_batch_size`` is a batch of its own; a request whose client left before its
    batch started costs nothing.

    Args:
        predict: Texts in, one answer per text out.
        executor: Where ``predict`` runs; one thread keeps the model's work in order.
        max_batch_size: The most texts of one call (bar one request larger than it).
        timeout_s: How long the first request of a batch waits for company.
    """

    def __init__(
        self,
        predict: Callable[[list[str]], list[Any]],
        executor: Executor,
        max_batch_size: int,
        timeout_s: float,
    ):
        self.predict, self.executor = predict, executor
        self.max_batch_size, self.timeout_s = max_batch_size, timeout_s
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.batch_sizes: Counter[int] = Counter()  # texts per call of predict -> how many calls
        self._carry: _Job | None = None

    async def submit(self, texts: list[str]) -> list[Any]:
        """The answers for ``texts``, once their batch has run."""
        job = _Job(texts)
        self.queue.put_nowait(job)
        return await job.future

    async def run(self) -> None:
        """Serve batches until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._gather()
            texts = [text for job in jobs for text in job.texts]
            self.batch_sizes[len(texts)] += 1
            try:
                answers = await loop.run_in_executor(self.executor, self.predict, texts)
            except Exception as err:  # noqa: BLE001 - each waiting request gets it as its own 500
                for job in jobs:
                    _settle(job, error=err)
                continue
            start = 0
            for job in jobs:
                _settle(job, answers[start : start + len(job.texts)])
                start += len(job.texts)

    async def _gather(self) -> list[_Job]:
        """The next batch: the first live job, then others until the batch is full or the wait is over."""
        jobs, size = [], 0
        while not jobs:
            job = self._carry or await self.queue.get()
            self._carry = None
            if not job.future.done():
                jobs, size = [job], len(job.texts)
        deadline = time.monotonic() + self.timeout_s
        while size < self.max_batch_size:
            try:
                job = (
                    self.queue.get_nowait()
                    if self.queue.qsize()
                    else await asyncio.wait_for(self.queue.get(), max(deadline - time.monotonic(), 0))
                )
            except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
                break
            if job.future.done():  # its client left
                continue
            if size + len(job.texts) > self.max_batch_size:
                self._carry = job
                break
            jobs.append(job)
            size += len(job.texts)
        return jobs


def _settle(job: _Job, answers: list[Any] | None = None, error: Exception | None = None) -> None:
    if job.future.done():
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(answers)
