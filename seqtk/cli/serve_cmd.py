"""``seqtk serve``: checkpoints behind an HTTP API with dynamic batching and a web page (:mod:`seqtk.serve`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer


def serve(
    checkpoints: Annotated[list[str], typer.Argument(help="Checkpoints to serve, each CKPT or CKPT=NAME (the name goes in the URLs; default: the run's recipe folder).", show_default=False)],
    host: Annotated[str, typer.Option(help="Address to listen on; anything but 127.0.0.1/localhost/::1 also needs --public.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    public: Annotated[bool, typer.Option("--public", help="Allow --host to be an address other machines reach (e.g. 0.0.0.0); consider --token.")] = False,
    token: Annotated[Optional[str], typer.Option(help="Bearer token every request but /healthz and the page itself must send (Authorization: Bearer TOKEN).", envvar="SEQTK_SERVE_TOKEN", show_default=False)] = None,
    max_batch: Annotated[int, typer.Option(help="Inputs (predict) or generation streams run together in one batch at most (for a language model: the rows sampling at once; more wait to join).")] = 64,
    max_wait_ms: Annotated[float, typer.Option(help="How long the first request of a batch waits for others to join (a language model's generate requests join its running rows instead).")] = 5.0,
    queue_size: Annotated[int, typer.Option(help="Requests waiting per model before new ones get 503 with Retry-After.")] = 1024,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body.")] = 1 << 20,
    max_inputs: Annotated[int, typer.Option(help="Inputs per predict request at most.")] = 256,
    max_input_chars: Annotated[int, typer.Option(help="Longest input or prompt, in characters (or list items).")] = 20_000,
    max_length: Annotated[int, typer.Option(help="Most tokens one generate request may ask for.")] = 4096,
    max_beam: Annotated[int, typer.Option(help="Largest beam (and n-best) a predict request may ask a seq2seq model for.")] = 16,
    drain_seconds: Annotated[float, typer.Option(help="On SIGTERM or Ctrl-C, how long requests in flight may finish before the server exits.")] = 30.0,
    threads: Annotated[int, typer.Option(help="Threads the models compute on; 0: the usable cores less one (one is left for the HTTP side).")] = 0,
    int8: Annotated[bool, typer.Option("--int8", help="Run the models on int8 weights (CPU, onnxruntime), as seqtk.load(..., quantize='int8').")] = False,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda, cuda:N or mps (default: auto).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level: critical, error, warning, info, debug.")] = "info",
) -> None:
    """Serve trained checkpoints over HTTP: predict, generate (streamed), metrics, OpenAPI docs and a web page at /."""
    from seqtk.serve.server import need_stack
    from seqtk.serve.server import serve as run
    from seqtk.serve.settings import ServeSettings, check_host, parse_models

    settings = ServeSettings(host=host, port=port, public=public, max_batch=max_batch, max_wait_ms=max_wait_ms, queue_size=queue_size,
                             token=token, max_body_bytes=max_body_bytes, max_inputs=max_inputs,
                             max_input_chars=max_input_chars, max_length=max_length, max_beam=max_beam, drain_seconds=drain_seconds,
                             threads=threads)  # fmt: skip
    settings.check()  # before any checkpoint is read: the mistakes are in the command line
    check_host(host, public)
    need_stack()
    run(parse_models(checkpoints), settings, device=device, int8=int8, log_level=log_level)


def register(app: typer.Typer) -> None:
    app.command()(serve)
