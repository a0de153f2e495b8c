"""What stands between a request and the model: the body size limit, the API key and JSON errors."""

from __future__ import annotations

import hmac
import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("textrnn.serve")


def error(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None, **extra
) -> JSONResponse:
    """The one error shape: ``{"error": {"status", "message", "field"?, ...}}``."""
    body = {"status": status, "message": message} | ({"field": field} if field else {}) | extra
    return JSONResponse({"error": body}, status_code=status, headers=headers)


class Guard:
    """ASGI middleware, before anything reads the body: ``/v1/`` answers only with the API key (when the
    server has one), and a body over ``max_bytes`` gets 413 without being read whole, whether its
    Content-Length says so at once or a chunked body grows past the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, api_key: str | None):
        self.app, self.max_bytes = app, max_bytes
        self.key = f"Bearer {api_key}".encode() if api_key is not None else None
        self.message = f"the request body is over the limit of {max_bytes} bytes (--max-body-bytes)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if self.key is not None and scope["path"].startswith("/v1/"):
            if not hmac.compare_digest(headers.get(b"authorization", b""), self.key):
                message = "missing or wrong API key: send the header 'Authorization: Bearer <key>'"
                response = error(401, message, headers={"WWW-Authenticate": "Bearer"})
                return await response(scope, receive, send)
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await error(413, self.message)(scope, receive, send)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:  # FastAPI passes an HTTPException raised while it reads the body on
                raise HTTPException(413, self.message)
            return message

        await self.app(scope, counted, send)


def install_error_handlers(app: FastAPI) -> None:
    """Every error is JSON: 400 for bad JSON, 422 naming the field, 4xx of routing, 500 with an id."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"] if part != "body")
        if first["type"] == "json_invalid":
            reason = first.get("ctx", {}).get("error", first["msg"])
            return error(400, f"the body is not valid JSON: {reason} at character {first['loc'][-1]}")
        if first["type"] == "model_attributes_type" or not where:
            return error(422, "the body must be a JSON object, sent as Content-Type: application/json")
        return error(422, f"{where}: {first['msg']}", field=where)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        error_id = uuid.uuid4().hex[:12]
        log.error("internal error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        return error(500, "internal error; the server's log has the details under this id", id=error_id)
