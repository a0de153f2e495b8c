"""``textrnn serve MODEL``: the model behind HTTP on 127.0.0.1 (see ``textrnn serve --help``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from textrnn.errors import UserError
from textrnn.serve.schemas import Limits

ENV = "TEXTRNN_SERVE"  # the options, for each worker process of --workers N


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="textrnn serve", description="Serve a textrnn model over HTTP.")
    p.add_argument("model", help="a shipped model's name (see textrnn models), a checkpoint or a model folder")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only; 0.0.0.0 for every interface)",
    )
    p.add_argument("--port", type=int, default=8000, help="default: %(default)s")
    p.add_argument(
        "--max-batch-size",
        type=int,
        default=256,
        help="the most texts of waiting requests classified together (default: %(default)s)",
    )
    p.add_argument(
        "--batch-timeout-ms",
        type=float,
        default=0.0,
        help="how long a batch waits for more requests after the first (default: %(default)s; requests that "
        "arrive while the model works share the next batch anyway)",
    )
    p.add_argument("--workers", type=int, default=1, help="server processes, each with its own model copy")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per worker (default: the cores per worker less one, at least 1: the "
        "event loop needs a core too)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: best available)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="require 'Authorization: Bearer <key>' on /v1/, the key read from this variable",
    )
    for name, default in Limits().to_dict().items():
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=default, help="default: %(default)s")
    return p


def options(args: argparse.Namespace) -> dict:
    """The JSON-ready options of the application, checked."""
    if args.threads is None:
        args.threads = max(1, (os.cpu_count() or 1) // max(args.workers, 1) - 1)
    for name in ("port", "max_batch_size", "workers", "threads", *Limits().to_dict()):
        if getattr(args, name) < (0 if name == "port" else 1):
            raise UserError(f"--{name.replace('_', '-')} must be 1 or more, not {getattr(args, name)}")
    if args.batch_timeout_ms < 0:
        raise UserError(f"--batch-timeout-ms must be 0 or more, not {args.batch_timeout_ms}")
    api_key = None
    if args.api_key_env is not None:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise UserError(f"--api-key-env {args.api_key_env}: that environment variable is unset or empty")
    limits = {name: getattr(args, name) for name in Limits().to_dict()}
    return {
        "source": args.model,
        "max_batch_size": args.max_batch_size,
        "api_key": api_key,
        "batch_timeout_ms": args.batch_timeout_ms,
        "threads": args.threads,
        "device": args.device,
        "limits": limits,
    }


def app_from_env():
    """The application described by ``$TEXTRNN_SERVE`` (how each of several workers builds its own)."""
    import torch

    from textrnn.serve.app import ServeOptions, build_app

    spec = json.loads(os.environ[ENV])
    source, limits = spec.pop("source"), Limits(**spec.pop("limits"))
    torch.set_num_threads(spec.pop("threads"))
    return build_app(source, ServeOptions(limits=limits, **spec))


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``textrnn serve``."""
    args = parser().parse_args(argv)
    try:
        os.environ[ENV] = json.dumps(options(args))
        app = app_from_env() if args.workers == 1 else "textrnn.serve.cli:app_from_env"
    except UserError as err:
        sys.exit(f"textrnn serve: error: {err}")
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(name)s: %(message)s")
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        workers=args.workers,
        factory=args.workers > 1,
        log_level="info",
        access_log=args.access_log,
        timeout_graceful_shutdown=5,
    )
