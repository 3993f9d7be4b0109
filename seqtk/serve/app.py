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
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future
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
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException

from seqtk.errors import SeqtkError
from seqtk.runtime.strict_json import json_text
from seqtk.serve.batcher import Job, QueueFull
from seqtk.serve.guard import JSON, Guard
from seqtk.serve.hosted import HostedModel, Sampling
from seqtk.serve.metrics import Metrics
from seqtk.serve.settings import ServeSettings

log = logging.getLogger("seqtk.serve")
#: how often a waiting generate request checks that its client is still there
DISCONNECT_POLL_SECONDS = 0.5


class NotFound(SeqtkError):
    status = 404


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
    seed: int = Field(0, ge=-(2**63), lt=2**64, description="the same seed gives the same text")
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
    app.add_middleware(Guard, settings=settings, metrics=metrics, names=frozenset(models))
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
            ready = asyncio.Event()
            job.wake = ready.set
            future = _submit(model, job)  # before the answer starts: a full queue is still a 503
            return StreamingResponse(_events(job, future, ready), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                                     background=BackgroundTask(_leave, job))  # fmt: skip
        return JSON({"text": await _unless_gone(request, job, _submit(model, job))})


async def _unless_gone(request: Request, job: Job, future: Future[Any]) -> Any:
    """The job's result; if the client leaves first, the job is marked gone (skipped if it has not started)."""
    waiting = asyncio.wrap_future(future)
    while True:
        done, _ = await asyncio.wait({waiting}, timeout=DISCONNECT_POLL_SECONDS)
        if done:
            return waiting.result()
        if await request.is_disconnected():
            _leave(job)
            waiting.cancel()
            raise asyncio.CancelledError


def _leave(job: Job) -> None:
    job.gone = True


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


async def _events(job: Job, future: Future[Any], ready: asyncio.Event) -> AsyncIterator[str]:
    """Server-Sent Events: ``data: {"text": ...}`` as text is sampled, then ``event: done`` with the whole text
    (prompt included), or ``event: error`` with ``{error, fix}``. A client that leaves frees its row."""
    loop = asyncio.get_running_loop()
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
        _leave(job)


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


def _close(models: dict[str, HostedModel], timeout: float) -> None:
    """Let every batcher finish what is queued, all within ``timeout`` seconds together."""
    deadline = time.monotonic() + timeout
    for hosted in models.values():
        hosted.close(max(0.0, deadline - time.monotonic()))


def _version() -> str:
    from seqtk.version import __version__

    return __version__
