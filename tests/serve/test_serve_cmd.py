"""`seqtk serve` on the command line: its refusals before any checkpoint is read, and SIGTERM draining."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from seqtk.cli.main import main
from seqtk.testing import train_recipe


@pytest.mark.parametrize("args,words", [
    (["--host", "0.0.0.0"], "add --public"),
    (["--port", "70000"], "is not a TCP port"),
    (["--max-batch", "0"], "--max-batch must be at least 1"),
    (["--token", "short"], "shorter than 8 characters"),
])  # fmt: skip
def test_bad_options_are_refused_before_the_checkpoint_is_read(tmp_path, capsys, args, words):
    assert main(["serve", str(tmp_path / "missing.pt"), *args]) == 1
    assert words in capsys.readouterr().err.replace("\n", " ")


@pytest.mark.parametrize("specs,words", [
    (["missing.pt"], "does not exist"),
    (["a.pt=x", "b.pt=x"], "two checkpoints would be served as 'x'"),
    (["a.pt=no/slash"], "cannot name a served model"),
])  # fmt: skip
def test_bad_checkpoint_arguments_are_named(tmp_path, capsys, monkeypatch, specs, words):
    monkeypatch.chdir(tmp_path)
    for name in ("a.pt", "b.pt"):
        (tmp_path / name).write_bytes(b"")
    assert main(["serve", *specs]) == 1
    assert words in capsys.readouterr().err.replace("\n", " ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sigterm_lets_a_stream_in_flight_finish_then_exits_0(tmp_path):
    (tmp_path / "t.txt").write_text("the quick brown fox jumps over the lazy dog.\n" * 40, encoding="utf-8")
    lm = train_recipe(tmp_path, "lm", f'[task]\nname = "textgen"\n[data]\npath = "{tmp_path / "t.txt"}"\nseq_len = 16\n'
                      '[model]\nhidden_size = 12\nembedding_dim = 8\nnum_layers = 1\n'
                      '[train]\nmax_steps = 2\neval_every = 2\nbatch_size = 8\ndevice = "cpu"\n[log]\nprogress = false\n')
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "seqtk", "serve", f"{lm}=lm", "--port", str(port), "--max-length",
                               "100000", "--log-level", "warning"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=1)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.communicate()[1][-2000:]
                time.sleep(0.2)
        body = json.dumps({"prompt": "the", "length": 30_000, "stream": True}).encode()
        with urllib.request.urlopen(urllib.request.Request(url + "/v1/models/lm/generate", data=body), timeout=120) as stream:
            first = stream.readline()
            server.send_signal(signal.SIGTERM)
            rest = stream.read().decode()
        assert first.startswith(b"data:")
        done = json.loads(rest.split("event: done\ndata: ")[1])
        assert done["text"].startswith("the") and len(done["text"]) > 20_000
        assert server.wait(60) == 0
    finally:
        server.kill()
        server.wait()
