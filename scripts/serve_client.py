"""A small HTTP/1.1 client on asyncio streams, and a server of ``textrnn serve`` in a child process.

The load generator of ``bench_serve.py`` and the server's tests: one keep-alive connection per simulated
client, costing far less CPU per request than the server it measures (the two share the machine).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import contextmanager
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(model: str, *options: str, timeout: float = 60.0):
    """``textrnn serve MODEL`` on a free loopback port, in a child process; yields its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "textrnn", "serve", model, "--port", str(port), *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server stopped: {process.stderr.read()[-2000:]}")
            try:
                urllib.request.urlopen(url + "/health", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class Connection:
    """One keep-alive connection to ``host:port``."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None):
        self.host, self.port, self.extra = host, port, headers or {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _send(self, method: str, path: str, body: bytes | None) -> None:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", "Content-Type: application/json"]
        lines += [f"{k}: {v}" for k, v in self.extra.items()] + [f"Content-Length: {len(body or b'')}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        await self.writer.drain()

    async def _head(self) -> tuple[int, dict[str, str]]:
        status = int((await self.reader.readline()).split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    async def request(self, method: str, path: str, payload: Any = None, raw: bytes | None = None):
        """``(status, parsed JSON body)``; ``raw`` sends those bytes instead of ``payload`` as JSON."""
        body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
        await self._send(method, path, body)
        status, headers = await self._head()
        if headers.get("transfer-encoding") == "chunked":
            data = b"".join([chunk async for chunk in self._chunks()])
        else:
            data = await self.reader.readexactly(int(headers.get("content-length", 0)))
        if headers.get("connection") == "close":
            await self.close()
        return status, json.loads(data) if data else None

    async def stream(self, path: str, payload: Any) -> AsyncIterator[bytes]:
        """The chunks of a chunked response, as they arrive."""
        await self._send("POST", path, json.dumps(payload).encode())
        status, _ = await self._head()
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
        async for chunk in self._chunks():
            yield chunk

    async def _chunks(self) -> AsyncIterator[bytes]:
        while size := int((await self.reader.readline()).strip(), 16):
            yield await self.reader.readexactly(size)
            await self.reader.readexactly(2)
        await self.reader.readexactly(2)

    async def close(self) -> None:
        """Hang up (also how a client leaves in the middle of a stream)."""
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None
