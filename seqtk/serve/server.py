"""Running ``seqtk serve``: load the checkpoints, build the app, and run it under uvicorn until SIGTERM/Ctrl-C.

On SIGTERM (or Ctrl-C) uvicorn stops taking connections and waits up to ``drain_seconds`` for the requests in
flight, streams included; then the batchers finish what is queued and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqtk.errors import SeqtkError
from seqtk.serve.settings import ServeSettings

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.serve.hosted import HostedModel
    from seqtk.serve.metrics import Metrics


def need_stack() -> None:
    """Refuse to start without the ASGI stack, naming the extra that brings it."""
    try:
        import fastapi  # noqa: F401 - only whether it imports
        import uvicorn  # noqa: F401
    except ImportError as error:
        raise SeqtkError(f"seqtk serve needs FastAPI and uvicorn, and {error.name} is not installed",
                         fix="pip install 'seqtk[serve]' (or pip install fastapi uvicorn)") from None  # fmt: skip


def load_models(checkpoints: dict[str, Path], settings: ServeSettings, device: str | None = None,
                int8: bool = False) -> tuple[dict[str, HostedModel], Metrics]:  # fmt: skip
    """Each checkpoint's predictor behind its batchers, by name, and the metrics they report to."""
    from seqtk.inference.predictor import load
    from seqtk.serve.hosted import HostedModel
    from seqtk.serve.metrics import Metrics

    metrics = Metrics()
    models = {name: HostedModel(name, load(path, device=device, quantize="int8" if int8 else None), settings, metrics)
              for name, path in checkpoints.items()}  # fmt: skip
    return models, metrics


def serve(checkpoints: dict[str, Path], settings: ServeSettings, device: str | None = None, int8: bool = False,
          log_level: str = "info") -> None:  # fmt: skip
    """Load, then serve until stopped."""
    need_stack()
    settings.check()

    import torch
    import uvicorn

    from seqtk.serve.app import build_app

    torch.set_num_threads(settings.model_threads())  # before loading: onnxruntime sessions take torch's count
    models, metrics = load_models(checkpoints, settings, device, int8)
    app = build_app(models, settings, metrics)
    logging.getLogger("seqtk.serve").setLevel(log_level.upper())
    for name, hosted in models.items():
        logging.getLogger("seqtk.serve").info("serving %s (%s) from %s", name, hosted.predictor.task.name, checkpoints[name])
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"seqtk serve: {len(checkpoints)} model(s) on http://{host}:{settings.port}/ (API docs: /docs)", flush=True)
    # uvicorn drains on SIGTERM, then raises the signal again to the handler it found: this one makes that exit 0
    previous = signal.signal(signal.SIGTERM, _drained)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level,
                    timeout_graceful_shutdown=settings.drain_seconds, access_log=False)  # fmt: skip
    finally:
        signal.signal(signal.SIGTERM, previous)


def _drained(signum: int, frame: Any) -> None:
    raise SystemExit(0)


@contextmanager
def background(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` (from :func:`seqtk.serve.app.build_app`) on a thread for the ``with`` block; yields its base
    URL. For notebooks and tests; port 0 takes a free one. Leaving the block drains and stops it."""
    import socket
    import threading

    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.bind((host, port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="seqtk-serve", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SeqtkError("the server thread stopped while starting", fix="see the log above for why")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
