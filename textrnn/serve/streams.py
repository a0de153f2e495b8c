"""Generation: a whole answer, or the characters streamed as NDJSON lines while they are sampled."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor
from typing import Any

from textrnn.inference.generate import Generator

TURN_S = 0.005  # a stream's turn on the model's thread: then other work may go, and the characters are sent


class GenerationService:
    """Runs a :class:`Generator` on the model's worker thread in short turns of a few steps, so that streams and
    other requests interleave, each character is sent within a turn of being sampled, and a stream whose client
    left stops after its current turn.

    Args:
        generator: The loaded character model.
        executor: The model's one worker thread.
    """

    def __init__(self, generator: Generator, executor: Executor):
        self.generator, self.executor = generator, executor
        self.active = 0  # streams being generated now
        self.steps = 0  # steps run by all streams so far

    async def generate(self, request: dict[str, Any]) -> dict[str, list]:
        """Each sample's continuation and whether it ended on a stop string."""
        texts = [""] * request["num_samples"]
        async for turn in self._turns(request):
            texts = _extend(texts, turn)
        return _result(texts, request["stop"])

    async def stream(self, request: dict[str, Any]) -> AsyncIterator[bytes]:
        """NDJSON: ``{"delta": [c, ...]}`` per step (one entry per sample, "" once it stopped), then
        ``{"done": true, "texts": [...], "stopped": [...]}``."""
        texts = [""] * request["num_samples"]
        async for turn in self._turns(request):
            texts = _extend(texts, turn)
            yield b"".join(json.dumps({"delta": new}).encode() + b"\n" for new in turn)
        yield json.dumps({"done": True} | _result(texts, request["stop"])).encode() + b"\n"

    async def _turns(self, request: dict[str, Any]) -> AsyncIterator[list[list[str]]]:
        """The steps of each turn: every sample's new character per step."""
        loop = asyncio.get_running_loop()
        steps = self._iterator(request)
        self.active += 1
        try:
            while turn := await loop.run_in_executor(self.executor, _turn, steps):
                self.steps += len(turn)
                yield turn
        finally:
            self.active -= 1
            # queued behind any step still running: a generator is closed only between its steps
            self.executor.submit(steps.close)

    def _iterator(self, request: dict[str, Any]) -> Iterator[list[str]]:
        options = {k: request[k] for k in ("temperature", "top_k", "top_p", "seed", "num_samples")}
        return self.generator.iter_text(
            request["prompt"], request["max_new_chars"], stop=request["stop"] or None, **options
        )


def _turn(steps: Iterator[list[str]]) -> list[list[str]]:
    """The steps ``steps`` yields within one turn; empty when it is exhausted."""
    turn, end = [], time.perf_counter() + TURN_S
    for new in steps:
        turn.append(new)
        if time.perf_counter() > end:
            break
    return turn


def _extend(texts: list[str], turn: list[list[str]]) -> list[str]:
    """Each sample's text with its characters of ``turn``."""
    return [text + "".join(new[i] for new in turn) for i, text in enumerate(texts)]


def _result(texts: list[str], stop: list[str]) -> dict[str, list]:
    return {"texts": texts, "stopped": [any(text.endswith(s) for s in stop) for text in texts]}
