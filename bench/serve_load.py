"""``seqtk serve`` under load: throughput, latency, the gain of batching, and the server under faults.

Load (default): 64 concurrent clients for ``--seconds`` (60) against a classifier (``--classifier``, e.g.
``sentiment_rt``'s best.pt; each client sends one RT test sentence per request) and a char LM (``--lm``; each
client asks for a streamed ``--length`` characters with its own seed). Each server is a ``seqtk serve`` process
of its own, run with ``--max-batch 64`` and then ``--max-batch 1``; the clients are one asyncio process speaking
HTTP/1.1 over keep-alive connections. Printed per run: requests/s, p50/p99 latency (and characters/s for the
LM); then ratios from the same run:

- ``classifier_batching_gain``: requests/s at --max-batch 64 over --max-batch 1. Goal >= 5.
- ``lm_streams_gain``: characters/s of 64 concurrent streams over one stream alone (--max-batch 64). Goal >= 10.
- ``lm_batching_gain``: 64 streams at --max-batch 64 over --max-batch 1.

Faults (``--faults``): one server with both models gets, in rounds for ``--soak`` seconds (600 = 10 minutes),
1,000 requests at once, malformed bodies, over-long inputs, oversized bodies and clients that leave mid-stream
or mid-body, beside steady traffic. It reports every status seen (the goal: no 5xx but 503 on a full queue)
and the server's resident memory after the first round and at the end (goal: within 10%).

The last line printed is one JSON object with every figure. Run (2 CPU cores: about 5 minutes, or 12 with
``--faults``)::

    python bench/serve_load.py --classifier runs/sentiment_rt/<time>/checkpoints/best.pt \\
        --lm runs/textgen_shakespeare/<time>/checkpoints/best.pt [--faults]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent


# -- a minimal HTTP/1.1 client: one keep-alive connection per simulated user ---------------------------------

class Connection:
    """One keep-alive connection; :meth:`post` sends a JSON body and reads the whole answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(body), body))  # fmt: skip
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            return status, await self.reader.readexactly(int(headers["content-length"]))
        return status, await self._chunked()

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while size := int((await self.reader.readline()).strip(), 16):
            parts.append(await self.reader.readexactly(size + 2))
        await self.reader.readline()
        return b"".join(part[:-2] for part in parts)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


# -- servers --------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``seqtk serve`` in a process of its own, for the ``with`` block."""

    def __init__(self, models: dict[str, str], *extra: str) -> None:
        self.port = free_port()
        args = [f"{path}={name}" for name, path in models.items()]
        self.process = subprocess.Popen([sys.executable, "-m", "seqtk", "serve", *args, "--port", str(self.port),
                                         "--log-level", "error", *extra])  # fmt: skip

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(60)


# -- load -----------------------------------------------------------------------------------------------------

async def load(port: int, clients: int, seconds: float, request_of: callable) -> dict:
    """``clients`` users each sending ``request_of(user, n) -> (path, body)`` back to back for ``seconds``."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    chars = 0
    stop = time.perf_counter() + seconds

    async def user(index: int) -> None:
        nonlocal chars
        conn, n = Connection(port), 0
        while time.perf_counter() < stop:
            path, body, prompt = request_of(index, n)
            started = time.perf_counter()
            status, answer = await conn.post(path, body)
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1
            if status == 200 and b"event: done" in answer:  # a stream: count what was generated
                chars += len(json.loads(answer.split(b"event: done\ndata: ")[1])["text"]) - len(prompt)
            n += 1
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(user(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    ok = [lat for lat in latencies]
    return {"requests_per_s": len(latencies) / elapsed, "p50_ms": 1000 * statistics.median(ok),
            "p99_ms": 1000 * sorted(ok)[int(0.99 * (len(ok) - 1))], "chars_per_s": chars / elapsed,
            "requests": len(latencies), "statuses": dict(statuses)}  # fmt: skip


def classifier_requests(sentences: list[str]) -> callable:
    def request_of(user: int, n: int) -> tuple[str, bytes, str]:
        text = sentences[(user * 7919 + n) % len(sentences)]
        return "/v1/models/clf/predict", json.dumps({"inputs": [text]}).encode(), ""
    return request_of


def lm_requests(length: int) -> callable:
    prompts = ["ROMEO:", "JULIET:", "First Citizen:", "KING HENRY:", "O, ", "What ", "MENENIUS:", "To be"]

    def request_of(user: int, n: int) -> tuple[str, bytes, str]:
        prompt = prompts[(user + n) % len(prompts)]
        body = {"prompt": prompt, "length": length, "seed": user * 1000 + n, "temperature": 0.8, "stream": True}
        return "/v1/models/lm/generate", json.dumps(body).encode(), prompt
    return request_of


def rt_test_sentences(checkpoint: str) -> list[str]:
    """The classifier's own test split (RT sentences for sentiment_rt), read as seqtk eval reads it."""
    import seqtk

    predictor = seqtk.load(checkpoint, device="cpu")
    predictor.evaluate("test", max_batches=1)  # reads the recipe's data once
    return list(predictor.task.texts["test"].texts)


def run_load(args: argparse.Namespace) -> dict:
    results: dict = {}
    sentences = rt_test_sentences(args.classifier)
    for batch in (64, 1) if args.only in (None, "classifier") else ():
        with Server({"clf": args.classifier}, "--max-batch", str(batch), *args.serve_args.split()) as server:
            asyncio.run(load(server.port, 8, 3, classifier_requests(sentences)))  # warm up
            results[f"classifier_b{batch}"] = asyncio.run(load(server.port, args.clients, args.seconds,
                                                               classifier_requests(sentences)))  # fmt: skip
        report(f"classifier, --max-batch {batch}", results[f"classifier_b{batch}"])
    for batch, clients in ((64, 1), (64, args.clients), (1, args.clients)) if args.only in (None, "lm") else ():
        with Server({"lm": args.lm}, "--max-batch", str(batch), *args.serve_args.split()) as server:
            asyncio.run(load(server.port, 2, 3, lm_requests(args.length)))
            key = f"lm_b{batch}_c{clients}"
            results[key] = asyncio.run(load(server.port, clients, args.seconds, lm_requests(args.length)))
        report(f"char LM, {clients} stream(s), --max-batch {batch}", results[key])
    c = args.clients
    if args.only in (None, "classifier"):
        results["classifier_batching_gain"] = results["classifier_b64"]["requests_per_s"] / results["classifier_b1"]["requests_per_s"]
    if args.only in (None, "lm"):
        results["lm_streams_gain"] = results[f"lm_b64_c{c}"]["chars_per_s"] / results["lm_b64_c1"]["chars_per_s"]
        results["lm_batching_gain"] = results[f"lm_b64_c{c}"]["chars_per_s"] / results[f"lm_b1_c{c}"]["chars_per_s"]
    return results


def report(title: str, r: dict) -> None:
    extra = f", {r['chars_per_s']:,.0f} chars/s" if r["chars_per_s"] else ""
    print(f"{title}: {r['requests_per_s']:,.1f} requests/s, p50 {r['p50_ms']:,.0f} ms, p99 {r['p99_ms']:,.0f} ms"
          f"{extra}; statuses {r['statuses']}", flush=True)


# -- faults ---------------------------------------------------------------------------------------------------

async def raw(port: int, data: bytes, read: bool = True, leave_after: bytes | None = None) -> int | None:
    """Send ``data`` as is; the status read back (None: the client left first, or the server closed)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        writer.write(data)
        await writer.drain()
        if not read:
            return None
        line = await asyncio.wait_for(reader.readline(), 60)
        status = int(line.split()[1]) if line else None
        if leave_after is not None:
            await reader.readuntil(leave_after)
        return status
    except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, IndexError, ValueError):
        return None
    finally:
        writer.close()


def post(path: str, body: bytes, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (path.encode(), size, body)


async def fault_round(port: int, sentences: list[str], statuses: Counter) -> None:
    """One round of each fault, all at once."""
    clf, lm = "/v1/models/clf/predict", "/v1/models/lm/generate"
    jobs = [raw(port, post(clf, json.dumps({"inputs": [random.choice(sentences)]}).encode())) for _ in range(1000)]
    malformed = [b"{not json", b"[]", b'{"inputs": 3}', b'{"inputs": [null]}', b"\xff\xfe\x00", b'{"inputs": [[1, [2]]]}',
                 b'{"inputs": ["x"], "top_k": "../../etc/passwd"}', b'{"inputs": ["x"], "__class__": 1}']
    jobs += [raw(port, post(clf, body)) for body in malformed * 10]
    jobs += [raw(port, post(clf, json.dumps({"inputs": ["word " * 5000]}).encode())) for _ in range(20)]  # over-long
    jobs += [raw(port, post(clf, b'{"inputs": ["' + b"x" * (2 << 20) + b'"]}')) for _ in range(3)]  # over 1 MiB
    jobs += [raw(port, post(lm, json.dumps({"prompt": "O", "length": 100_000}).encode())) for _ in range(5)]
    stream = json.dumps({"prompt": "ROMEO:", "length": 2000, "stream": True}).encode()
    jobs += [raw(port, post(lm, stream), leave_after=b"data:") for _ in range(50)]  # leave mid-stream
    jobs += [raw(port, post(clf, b'{"inputs": ["hal', length=100), read=False) for _ in range(50)]  # leave mid-body
    for status in await asyncio.gather(*jobs):
        statuses[status] += 1


def run_faults(args: argparse.Namespace) -> dict:
    sentences = rt_test_sentences(args.classifier)
    statuses: Counter = Counter()
    rss = []
    with Server({"clf": args.classifier, "lm": args.lm}) as server:
        stop = time.monotonic() + args.soak
        rounds = 0
        while time.monotonic() < stop or rounds < 2:
            asyncio.run(fault_round(server.port, sentences, statuses))
            steady = asyncio.run(load(server.port, 16, 10, classifier_requests(sentences)))
            for status, count in steady["statuses"].items():
                statuses[status] += count
            rounds += 1
            rss.append(server.rss_mib())
            print(f"round {rounds}: rss {rss[-1]:.0f} MiB, statuses so far {dict(statuses)}", flush=True)
        alive = urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=5).status == 200
    bad = {s: n for s, n in statuses.items() if s is not None and s >= 500 and s != 503}
    return {"fault_rounds": rounds, "fault_statuses": {str(k): v for k, v in statuses.items()}, "fault_5xx_not_503": sum(bad.values()),
            "rss_first_round_mib": rss[0], "rss_last_round_mib": rss[-1], "rss_growth": rss[-1] / rss[0], "alive_after": alive}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", required=True, help="a classifier checkpoint (sentiment_rt's best.pt)")
    parser.add_argument("--lm", help="a char LM checkpoint (the quick start's best.pt); not with --only classifier")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--length", type=int, default=200, help="characters per generate request")
    parser.add_argument("--serve-args", default="", help="more seqtk serve options for every server, e.g. '--int8'")
    parser.add_argument("--only", choices=["classifier", "lm"], help="load one model only (and report its gains)")
    parser.add_argument("--faults", action="store_true", help="the fault and memory check instead of the load")
    parser.add_argument("--soak", type=float, default=600, help="seconds of fault rounds (--faults)")
    args = parser.parse_args()
    if args.lm is None and (args.faults or args.only != "classifier"):
        parser.error("--lm is needed, except with --only classifier")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    results = run_faults(args) if args.faults else run_load(args)
    print(json.dumps({"bench": "serve_load", **results}))


if __name__ == "__main__":
    main()
