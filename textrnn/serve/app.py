"""The HTTP application: one loaded model, its routes, and the page at ``/``."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi_offline import FastAPIOffline

from textrnn.inference.classify import Classifier
from textrnn.inference.generate import Generator
from textrnn.inference.loading import load_model
from textrnn.inference.record import ModelRecord
from textrnn.inference.registry import get_task
from textrnn.inference.shipped import resolve
from textrnn.serve.batcher import MicroBatcher
from textrnn.serve.guard import Guard, error, install_error_handlers
from textrnn.serve.schemas import ClassifyResponse, GenerateResponse, Limits, classify_request, generate_request
from textrnn.serve.streams import GenerationService

API_VERSION = "v1"
# a model call's texts are read sorted by length, this many a forward pass: measured on 2 cores, 256 texts
# of mixed lengths go 1.3x faster in sorted passes of 64 than in one pass, where every text pads to the longest
FORWARD_BATCH = 64
DESCRIPTION = (
    'One textrnn model over HTTP. Errors are JSON: `{"error": {"status", "message", "field"}}`. '
    "With an API key, `/v1/` wants the header `Authorization: Bearer <key>`."
)


@dataclass
class ServeOptions:
    """How the server treats requests (``textrnn serve``'s options).

    Args:
        max_batch_size: The most texts of waiting classification requests answered by one model call.
        batch_timeout_ms: How long a batch waits for more requests after its first (0: it takes what waits).
        api_key: Required as ``Authorization: Bearer <key>`` on ``/v1/`` (None: no key).
        device: Where the model runs (None: CUDA when available, else the CPU).
        limits: What one request may ask for.
    """

    max_batch_size: int = 256
    batch_timeout_ms: float = 0.0
    api_key: str | None = None
    device: str | None = None
    limits: Limits = field(default_factory=Limits)


def model_info(path: Path, record: ModelRecord) -> dict[str, Any]:
    """What ``GET /v1/model`` says: the card of a shipped model, else the facts of its record."""
    if (path / "card.json").is_file():
        return json.loads((path / "card.json").read_text(encoding="utf-8"))
    facts = {"name": path.name, "task": record.task, "architecture": record.architecture}
    return facts | {"net_args": record.net_args, "labels": record.label_names, "vocab_size": len(record.vocab)}


def build_app(source: str | Path, options: ServeOptions | None = None) -> FastAPI:
    """The application serving the model at ``source`` (a shipped name, a checkpoint or a model folder)."""
    options = options or ServeOptions()
    net, record = load_model(source)
    model = get_task(record.task).get("runtime").from_model(net, record, options.device)
    executor = ThreadPoolExecutor(1, thread_name_prefix="textrnn-model")  # one model, one worker: no races
    batcher, generation = None, None
    if isinstance(model, Classifier):
        timeout = options.batch_timeout_ms / 1000
        batcher = MicroBatcher(_answers(model), executor, options.max_batch_size, timeout)
    elif isinstance(model, Generator):
        generation = GenerationService(model, executor)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        worker = asyncio.create_task(batcher.run()) if batcher else None
        yield
        if worker:
            worker.cancel()
        executor.shutdown(wait=False, cancel_futures=True)

    # FastAPIOffline: /docs serves Swagger UI from the package, not from a CDN, so it works offline too
    app = FastAPIOffline(
        title="textrnn", version=API_VERSION, lifespan=lifespan, description=DESCRIPTION, redoc_url=None
    )
    app.add_middleware(Guard, max_bytes=options.limits.max_body_bytes, api_key=options.api_key)
    install_error_handlers(app)
    app.state.batcher, app.state.generation = batcher, generation
    app.state.info = model_info(resolve(source), record) | {"limits": options.limits.to_dict()}
    _info_routes(app)
    _model_routes(app, model, options.limits)
    return app


def _answers(model: Classifier):
    """Texts in, one JSON-ready answer per text out (on the model's thread)."""
    names = model.label_names

    def answer(texts: list[str]) -> list[dict[str, Any]]:
        probs = model.predict_proba(texts, FORWARD_BATCH)
        best, ids = probs.max(dim=-1)
        return [
            {"label": names[i], "label_id": i, "probability": p, "probabilities": dict(zip(names, row))}
            for i, p, row in zip(ids.tolist(), best.tolist(), probs.tolist())
        ]

    return answer


def _info_routes(app: FastAPI) -> None:
    """The page, health, the model card and the serving statistics."""
    task = app.state.info["task"]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        return files("textrnn.serve").joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "task": task}

    @app.get("/v1/model")
    async def model_card() -> dict[str, Any]:
        return app.state.info

    @app.get("/v1/stats")
    async def stats() -> dict[str, Any]:
        """Batches run (texts per call of the model -> calls) and streams being generated."""
        generation = app.state.generation
        batcher = app.state.batcher
        batches = {str(size): n for size, n in sorted(batcher.batch_sizes.items())} if batcher else {}
        return {
            "batch_sizes": batches,
            "active_streams": generation.active if generation else 0,
            "generation_steps": generation.steps if generation else 0,
        }


def _model_routes(app: FastAPI, model: Any, limits: Limits) -> None:
    """``/v1/classify`` or ``/v1/generate``, whichever the model does; the other is a 404 that says why."""
    ClassifyRequest, GenerateRequest = classify_request(limits), generate_request(limits)  # noqa: N806

    if isinstance(model, Classifier):

        @app.post("/v1/classify", response_model=ClassifyResponse)
        async def classify(body: ClassifyRequest) -> Any:
            return {"predictions": await app.state.batcher.submit(body.texts)}

    if isinstance(model, Generator):

        @app.post("/v1/generate", response_model=GenerateResponse)
        async def generate(body: GenerateRequest) -> Any:
            request = body.model_dump()
            if request["stream"]:
                return StreamingResponse(
                    app.state.generation.stream(request), media_type="application/x-ndjson"
                )
            return await app.state.generation.generate(request)

    other = "/v1/generate" if isinstance(model, Classifier) else "/v1/classify"

    @app.post(other, include_in_schema=False)
    async def wrong_task() -> Any:
        task = app.state.info["task"]
        return error(404, f"this server's model is a {task} model: {other} is not served here")
