"""What ``seqtk serve`` is told: the checkpoints to serve and the server's limits, checked before any is read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from seqtk.errors import SeqtkError

#: a served model's name: what goes in ``/v1/models/{name}/...``
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ServeSettings:
    """The server's address, batching and limits (``seqtk serve --help`` says each)."""

    host: str = "127.0.0.1"
    port: int = 8000
    #: whether other machines and other sites' pages may reach the server (``--public``); else only loopback
    public: bool = False
    #: inputs (predict) or streams (generate) run together in one batch at most
    max_batch: int = 64
    #: how long the first request of a batch waits for others to join it
    max_wait_ms: float = 5.0
    #: requests waiting per model before new ones get 503 and Retry-After
    queue_size: int = 1024
    #: bearer token every request but ``/healthz`` must carry; None: no token
    token: str | None = None
    max_body_bytes: int = 1 << 20
    max_inputs: int = 256
    max_input_chars: int = 20_000
    max_length: int = 4096
    #: the largest beam (and n-best) a predict request may ask a seq2seq model for
    max_beam: int = 16
    #: seconds SIGTERM waits for requests in flight before the server exits
    drain_seconds: float = 30.0
    #: torch's (and onnxruntime's) threads for the models; 0: the usable cores less one, at least one
    threads: int = 0

    def model_threads(self) -> int:
        """The threads the models compute on. One core is left to the event loop that parses, checks and
        answers requests (and to clients on the same machine): on 2 cores that served 1.7x the requests of
        2 model threads, whose idle spinning took the loop's core (docs/serve.md)."""
        from seqtk.runtime.cpu_load import usable_cores

        return self.threads or max(1, usable_cores() - 1)

    def check(self) -> None:
        """Refuse settings that cannot work, naming the option to change."""
        for name in ("max_batch", "queue_size", "max_body_bytes", "max_inputs", "max_input_chars", "max_length",
                     "max_beam"):
            if getattr(self, name) < 1:
                raise SeqtkError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}",
                                 fix=f"pass a positive --{name.replace('_', '-')}")  # fmt: skip
        if self.threads < 0:
            raise SeqtkError(f"--threads must be 0 (the usable cores less one) or more, not {self.threads}",
                             fix="use e.g. --threads 1")  # fmt: skip
        if self.max_wait_ms < 0 or self.drain_seconds < 0:
            raise SeqtkError("--max-wait-ms and --drain-seconds must be 0 or more", fix="use e.g. --max-wait-ms 5")
        if not 0 <= self.port <= 65535:
            raise SeqtkError(f"--port {self.port} is not a TCP port", fix="use a port from 1 to 65535 (0: any free one), e.g. --port 8000")
        if self.token is not None and len(self.token) < 8:
            raise SeqtkError("--token is shorter than 8 characters, which a client could guess",
                             fix="use a long random token, e.g. --token $(python -c 'import secrets; print(secrets.token_urlsafe())')")  # fmt: skip


def check_host(host: str, public: bool) -> None:
    """Only loopback unless ``--public`` says otherwise: a model on all interfaces is a choice, not a default."""
    if host not in LOCAL_HOSTS and not public:
        raise SeqtkError(f"--host {host} would let other machines reach the server, which needs saying",
                         fix=f"add --public to listen on {host} (and consider --token), or keep the default 127.0.0.1")  # fmt: skip


def parse_models(specs: list[str]) -> dict[str, Path]:
    """``CKPT[=NAME]`` arguments as name -> checkpoint; the name defaults to the run's recipe folder name."""
    if not specs:
        raise SeqtkError("seqtk serve got no checkpoint", fix="pass one or more, e.g. seqtk serve runs/<recipe>/<time>/checkpoints/best.pt")
    models: dict[str, Path] = {}
    for spec in specs:
        path_text, _, name = spec.rpartition("=") if "=" in spec and not Path(spec).exists() else (spec, "", "")
        path = Path(path_text)
        name = name or default_name(path)
        if not NAME.match(name):
            raise SeqtkError(f"'{name}' cannot name a served model: it goes into URLs",
                             fix=f"name it with letters, digits, '.', '_' or '-', e.g. {path}=mymodel")  # fmt: skip
        if name in models:
            raise SeqtkError(f"two checkpoints would be served as '{name}' ({models[name]} and {path})",
                             fix=f"name one of them: {path}=another_name")  # fmt: skip
        if not path.is_file():
            raise SeqtkError(f"checkpoint '{path}' does not exist or is not a file",
                             fix="pass the path of a best.pt or last.pt file, e.g. runs/<recipe>/<time>/checkpoints/best.pt")  # fmt: skip
        models[name] = path
    return models


def default_name(path: Path) -> str:
    """``runs/sentiment_rt/2026-12-07_10-00-00/checkpoints/best.pt`` -> ``sentiment_rt``; else the file's stem.

    >>> default_name(Path("runs/sentiment_rt/2026-12-07_10-00-00/checkpoints/best.pt"))
    'sentiment_rt'
    >>> default_name(Path("runs/shakespeare/checkpoints/best.pt"))
    'shakespeare'
    >>> default_name(Path("model.pt"))
    'model'
    """
    parts = path.parts
    name = path.stem
    if len(parts) >= 3 and parts[-2] == "checkpoints":  # the run folder, or the recipe's above a timestamp
        name = parts[-4] if len(parts) >= 4 and parts[-3][:1].isdigit() else parts[-3]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64] or "model"
