"""What every request passes before a route sees it: where it comes from, its token, its size, and its metrics.

A server on the loopback address (the default) answers only requests addressed to a loopback name and not sent
by another site's page: a page the user has open elsewhere could otherwise post to ``127.0.0.1:8000`` (a form
needs no CORS preflight) or, through DNS rebinding, read the answers. ``--public`` lifts this; ``--token``
guards a public server.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import Response

from seqtk.runtime.strict_json import json_text
from seqtk.serve.metrics import Metrics
from seqtk.serve.settings import LOCAL_HOSTS, ServeSettings

OPEN_PATHS = ("/healthz", "/", "/docs", "/openapi.json", "/favicon.ico")  # no model data: open with --token too


class JSON(Response):
    """Strict JSON (a NaN becomes null), as ``seqtk ... --json`` prints it."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_text(content).encode("utf-8")


class Guard:
    """Pure ASGI middleware: where a request may come from, the bearer token, the body-size limit, and each
    request's metrics."""

    def __init__(self, app: Callable[..., Awaitable[None]], settings: ServeSettings, metrics: Metrics,
                 names: frozenset[str]) -> None:  # fmt: skip
        self.app, self.settings, self.metrics, self.names = app, settings, metrics, names

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Awaitable[Any]],
                       send: Callable[..., Awaitable[None]]) -> None:  # fmt: skip
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status, counted = time.perf_counter(), {"code": 500, "started": False}, {"done": False}
        model, endpoint = _labels(scope["path"], self.names)

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                counted["done"] = True
                self.metrics.request(model, endpoint, status["code"], time.perf_counter() - started)

        try:
            await self._answer(scope, receive, sending)
        finally:
            if not counted["done"]:  # a client that left, or a stream cut short, counts too
                self.metrics.request(model, endpoint, status["code"] if status["started"] else 499,
                                     time.perf_counter() - started)  # fmt: skip

    async def _answer(self, scope: dict[str, Any], receive: Callable[..., Awaitable[Any]],
                      send: Callable[..., Awaitable[None]]) -> None:  # fmt: skip
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if scope["method"] == "POST":
            body, receive = await self._body(receive)
            if body is None:
                await _too_large(self.settings.max_body_bytes)(scope, receive, send)
                return
        await self.app(_as_json(scope), receive, send)

    def _refusal(self, scope: dict[str, Any]) -> Response | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not self.settings.public and (refused := _foreign(headers)) is not None:
            return refused
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


def _foreign(headers: dict[str, str]) -> JSON | None:
    """A 403 for a request to a loopback server that names another host, or that another site's page sent."""
    host = _hostname(headers.get("host", ""))
    if host and host not in LOCAL_HOSTS:
        return JSON({"error": f"this server listens on the loopback address and the request was addressed to '{host}'",
                     "fix": "address it as 127.0.0.1 or localhost, or start the server with --public (and --token)"},
                    status_code=403)  # fmt: skip
    origin = headers.get("origin")
    cross = headers.get("sec-fetch-site") == "cross-site" or (origin and _hostname(urlsplit(origin).netloc) not in LOCAL_HOSTS)
    if cross:
        return JSON({"error": f"a page from another site ({origin or 'cross-site'}) may not use this server",
                     "fix": "call it from its own page, curl or a program; start it with --public (and --token) to serve other sites"},
                    status_code=403)  # fmt: skip
    return None


def _hostname(netloc: str) -> str:
    """``localhost:8000`` -> ``localhost``; ``[::1]:8000`` -> ``::1``.

    >>> _hostname("localhost:8000"), _hostname("[::1]:8000"), _hostname("127.0.0.1")
    ('localhost', '::1', '127.0.0.1')
    """
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")]
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc
