"""A ``textrnn serve`` application on a free loopback port in a thread of the test process, and a client."""

from __future__ import annotations

import http.client
import json
import threading
import time
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serving(app):
    """Serve ``app`` on 127.0.0.1 at a free port until the block ends; yields the port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def call(
    port: int,
    method: str,
    path: str,
    payload: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """``(status, body)`` of one request: the body parsed when it is JSON, else text."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.getheader("content-type", "").startswith("application/json"):
        return response.status, json.loads(data)
    return response.status, data.decode()
