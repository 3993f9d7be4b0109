"""The HTTP API of ``seqtk serve``, as a FastAPI app (OpenAPI docs at ``/docs``).

::

    GET  /                            the web page (seqtk/serve/page.html)
    GET  /healthz                     {"status": "ok", "models": [...]}; open even with --token
    GET  /metrics                     Prometheus text: requests, latency, batch sizes, queue depth
    GET  /v1/models                   {"models": [{"name", "task", "kind", ...}]}
    POST /v1/models/{name}/predict    {"inputs": [...], ...options} -> {"predictions": [...]}
    POST /v1/models/{name}/generate   {"prompt", "length", "temperature", "top_k", "top_p", "seed", "stream"}
                                      -> {"text": ...}, or Server-Sent Events as the text is sampled

Every refusal is JSON ``{"error", "fix"}`` with a 4xx status; a full queue is 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException

from seqtk.errors import SeqtkError
from seqtk.runtime.strict_json import json_text
from seqtk.serve.batcher import Job, QueueFull
from seqtk.serve.hosted import HostedModel, Sampling
from seqtk.serve.metrics import Metrics
from seqtk.serve.settings import ServeSettings

log = logging.getLogger("seqtk.serve")
OPEN_PATHS = ("/healthz", "/", "/docs", "/openapi.json", "/favicon.ico")  # no model data: open with --token too


class NotFound(SeqtkError):
    status = 404


class JSON(Response):
    """Strict JSON (a NaN becomes null), as ``seqtk ... --json`` prints it."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_text(content).encode("utf-8")


class PredictBody(BaseModel):
    """``inputs``: texts, token lists, numbers or ``{"image": "<base64>"}``, as the task reads them; any other
    field is an option of the task's predict (``top_k`` for classifiers, ``beam`` and ``n_best`` for seq2seq)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{"inputs": ["a gripping film"], "top_k": 2}]})
    inputs: list[Any]


Body = TypeVar("Body", bound=BaseModel)


class GenerateBody(BaseModel):
    """``seqtk generate``'s options; a field left out takes its default there. The same seed gives the same text."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"prompt": "ROMEO:", "length": 200, "seed": 1}]})
    prompt: str = ""
    length: int | None = Field(None, description="new tokens (characters); default: the task's (200 for text)")
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    stream: bool = Field(False, description="answer with Server-Sent Events: `data: {\"text\": ...}` as text comes")


def build_app(models: dict[str, HostedModel], settings: ServeSettings, metrics: Metrics) -> FastAPI:
    """The app serving ``models`` (name -> hosted model)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        for hosted in models.values():
            hosted.loop = loop
        yield
        await asyncio.to_thread(_close, models, settings.drain_seconds)

    app = FastAPI(title="seqtk serve", version=_version(), lifespan=lifespan,
                  description="Trained seqtk checkpoints behind one API. Errors are JSON {error, fix}.")  # fmt: skip
    _handlers(app)
    _routes(app, models, settings, metrics)
    app.add_middleware(_Guard, settings=settings, metrics=metrics, names=frozenset(models))
    return app


def _routes(app: FastAPI, models: dict[str, HostedModel], settings: ServeSettings, metrics: Metrics) -> None:
    def hosted(name: str) -> HostedModel:
        if name not in models:
            raise NotFound(f"no model named '{name}' is served here",
                           fix=f"use one of {', '.join(sorted(models))} (GET /v1/models lists them)")  # fmt: skip
        return models[name]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(resources.files("seqtk.serve").joinpath("page.html").read_text(encoding="utf-8"))

    @app.get("/healthz")
    async def healthz() -> JSON:
        return JSON({"status": "ok", "models": sorted(models)})

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics_text() -> PlainTextResponse:
        return PlainTextResponse(metrics.text(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def list_models() -> JSON:
        return JSON({"models": [models[name].info() for name in sorted(models)]})

    # The bodies are parsed by pydantic's JSON parser in one call rather than by FastAPI's dependency solver:
    # the same checks and OpenAPI schema, at a fraction of the event loop's time per request.
    @app.post("/v1/models/{name}/predict", openapi_extra=_body_schema(PredictBody))
    async def predict(name: str, request: Request) -> JSON:
        model = hosted(name)
        body = _parse(PredictBody, await request.body())
        job = model.predict_job(body.inputs, dict(body.model_extra or {}))
        return JSON({"predictions": await asyncio.wrap_future(_submit(model, job))})

    @app.post("/v1/models/{name}/generate", openapi_extra=_body_schema(GenerateBody))
    async def generate(name: str, request: Request) -> Response:
        model = hosted(name)
        body = _parse(GenerateBody, await request.body())
        length = model.predictor.task.generate_length if body.length is None else body.length
        sampling = Sampling(body.prompt, length, body.temperature, body.top_k, body.top_p, body.seed)
        job = model.generate_job(sampling, stream=body.stream)
        if body.stream:
            return StreamingResponse(_events(model, job), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip
        return JSON({"text": await asyncio.wrap_future(_submit(model, job))})


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that parses ``model`` itself."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _parse(model: type[Body], raw: bytes) -> Body:
    """``raw`` as ``model``; what pydantic refuses becomes the 422 every body check gives."""
    try:
        return model.model_validate_json(raw or b"null")
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False)) from None


def _submit(model: HostedModel, job: Job) -> Any:
    try:
        return model.submit(job)
    except QueueFull:
        raise _Busy(model.name) from None


class _Busy(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


async def _events(model: HostedModel, job: Job) -> AsyncIterator[str]:
    """Server-Sent Events: ``data: {"text": ...}`` as text is sampled, then ``event: done`` with the whole text
    (prompt included), or ``event: error`` with ``{error, fix}``. A client that leaves frees its row."""
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    job.wake = ready.set
    future = _submit(model, job)
    future.add_done_callback(lambda _: loop.call_soon_threadsafe(ready.set))
    try:
        while True:
            await ready.wait()
            ready.clear()
            finished = future.done()  # read before draining: text that came before the end is all there
            if text := _drain(job):
                yield "data: " + json_text({"text": text}) + "\n\n"
            if finished:
                break
        error = future.exception()
        if error is None:
            yield "event: done\ndata: " + json_text({"text": future.result()}) + "\n\n"
        else:
            yield "event: error\ndata: " + json_text(_error_body(error)[1]) + "\n\n"
    finally:
        job.gone = True


def _drain(job: Job) -> str:
    parts = []
    while job.stream:
        parts.append(job.stream.popleft())
    return "".join(parts)


def _error_body(error: BaseException) -> tuple[int, dict[str, Any]]:
    if isinstance(error, SeqtkError):
        return getattr(error, "status", 400), {"error": error.problem, "fix": error.fix}
    log.error("request failed", exc_info=error)
    return 500, {"error": f"the server failed on this request ({type(error).__name__})",
                 "fix": "see the server's log for the traceback; the server keeps running"}  # fmt: skip


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(SeqtkError)
    async def seqtk_error(request: Request, error: SeqtkError) -> JSON:
        status, body = _error_body(error)
        return JSON(body, status_code=status)

    @app.exception_handler(_Busy)
    async def busy(request: Request, error: _Busy) -> JSON:
        return JSON({"error": f"model '{error.name}' has a full queue", "fix": "retry after a second"},
                    status_code=503, headers={"Retry-After": "1"})  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSON:
        return JSON(_invalid_body(error), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSON:
        fixes = {404: "GET /docs lists the routes; GET /v1/models the models",
                 405: "GET /docs says which method each route takes"}  # fmt: skip
        return JSON({"error": f"{error.detail} ({request.method} {request.url.path})",
                     "fix": fixes.get(error.status_code, "see GET /docs")}, status_code=error.status_code)  # fmt: skip

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> JSON:
        status, body = _error_body(error)
        return JSON(body, status_code=status)


def _invalid_body(error: RequestValidationError) -> dict[str, str]:
    """The first problem pydantic found, in the words a client needs."""
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "the body"
    if first.get("type") == "json_invalid":
        return {"error": "the request body is not valid JSON", "fix": "send a JSON object with Content-Type: application/json"}
    if first.get("type") == "extra_forbidden":
        return {"error": f"unknown field '{where}'",
                "fix": "use only prompt, length, temperature, top_k, top_p, seed and stream (GET /docs)"}  # fmt: skip
    return {"error": f"{where}: {first.get('msg', 'invalid')}", "fix": "GET /docs shows each field's type and an example"}


class _Guard:
    """Pure ASGI middleware: the bearer token, the body-size limit, and each request's metrics."""

    def __init__(self, app: Callable[..., Awaitable[None]], settings: ServeSettings, metrics: Metrics,
                 names: frozenset[str]) -> None:  # fmt: skip
        self.app, self.settings, self.metrics, self.names = app, settings, metrics, names

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Awaitable[Any]],
                       send: Callable[..., Awaitable[None]]) -> None:  # fmt: skip
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), {"code": 500}
        model, endpoint = _labels(scope["path"], self.names)

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.metrics.request(model, endpoint, status["code"], time.perf_counter() - started)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, sending)
            return
        if scope["method"] == "POST":
            body, receive = await self._body(receive)
            if body is None:
                await _too_large(self.settings.max_body_bytes)(scope, receive, sending)
                return
        await self.app(_as_json(scope), receive, sending)

    def _refusal(self, scope: dict[str, Any]) -> Response | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        token = self.settings.token
        if token and scope["path"] not in OPEN_PATHS:
            given = headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return JSON({"error": "this server needs a bearer token and the request has " + ("a wrong one" if given else "none"),
                             "fix": "send the header Authorization: Bearer <token> (the token seqtk serve was given)"},
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > self.settings.max_body_bytes:
            return _too_large(self.settings.max_body_bytes)
        return None

    async def _body(self, receive: Callable[..., Awaitable[Any]]) -> tuple[bytes | None, Callable[..., Awaitable[Any]]]:
        """The whole request body (None once it passes the limit: a chunked body has no Content-Length to check
        first), and a ``receive`` that hands it on and then listens for the client leaving."""
        chunks, size, most = [], 0, self.settings.max_body_bytes
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > most:
                return None, receive
            if not message.get("more_body"):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def receiving() -> Any:
            nonlocal body
            if body is not None:
                message, body = body, None
                return message
            return await receive()

        return body["body"], receiving


def _as_json(scope: dict[str, Any]) -> dict[str, Any]:
    """The request with its body read as JSON whatever Content-Type says (``curl -d`` sends a form type):
    the API takes nothing else, and a client should not need the header to be understood."""
    if scope["method"] != "POST":
        return scope
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-type"]
    return scope | {"headers": [*headers, (b"content-type", b"application/json")]}


def _too_large(most: int) -> JSON:
    return JSON({"error": f"the request body is over this server's limit of {most:,} bytes",
                 "fix": "send fewer or shorter inputs per request, or start the server with a larger --max-body-bytes"},
                status_code=413)  # fmt: skip


def _labels(path: str, names: frozenset[str]) -> tuple[str, str]:
    """The metrics' (model, endpoint) of a path; paths and names no route has count as "other" and "unknown",
    so a client cannot grow the metrics without bound.

    >>> _labels("/v1/models/rt/predict", {"rt"}), _labels("/v1/models/x/predict", {"rt"}), _labels("/healthz", {"rt"})
    (('rt', 'predict'), ('unknown', 'predict'), ('', '/healthz'))
    """
    parts = path.strip("/").split("/")
    if len(parts) == 4 and parts[:2] == ["v1", "models"] and parts[3] in ("predict", "generate"):
        return parts[2] if parts[2] in names else "unknown", parts[3]
    return "", path if path in OPEN_PATHS or path in ("/metrics", "/v1/models") else "other"


def _close(models: dict[str, HostedModel], timeout: float) -> None:
    for hosted in models.values():
        hosted.close(timeout)


def _version() -> str:
    from seqtk.version import __version__

    return __version__
