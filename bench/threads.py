"""Training beside another job: a 2-thread run alone, then beside a one-thread job started at the same moment.

Two models: the quick start's kind (a character LSTM: embedding 64, one fused
LSTM layer of 256, batch 32 x 128 characters) and a classifier like
``classify_bbc``'s (embedding 100 -> bidirectional GRU 128 -> linear, batch 32
x 200 tokens, seqtk's StackedEncoder). Each trains with Adam for ``--seconds``
of wall time from the moment the other job starts (its first, slowest seconds
included), with torch's 2 threads:

- ``governed``: seqtk's :class:`seqtk.runtime.thread_governor.ThreadGovernor`
  re-checking the thread count between steps, as ``seqtk run`` does;
- ``fixed``: 2 threads throughout (torch's default; the diagnostic column).

The other job is a one-thread training loop of the same character LSTM in
its own process, as a second ``seqtk run`` would be. The last line printed is
one JSON object: ``<model>_beside_vs_alone`` = steps/s alone over steps/s
beside the job, governed (goal ≤ 2.5 on a 2-core machine: losing one of two
cores should cost about half, not ten times), and the same ``..._fixed``.

Run: ``python bench/threads.py [--seconds 20]`` (about 2 minutes on 2 CPU cores).

``--recipe RECIPE [--set key=value ...]`` measures a whole ``seqtk run``
instead, as a user would meet it: alone, then started at the same moment as
the one-thread job, then beside it with ``train.num_threads`` pinned to the
cores (the behaviour before the governor). Each is read from the run's own
``train_throughput`` log lines (mean over the run), and the JSON line has
``run_beside_vs_alone`` and ``run_beside_vs_alone_pinned``. E.g. the issue's
case: ``python bench/threads.py --recipe recipes/classify_bbc.toml --set
train.max_steps=200`` (about 2 minutes with the data cached).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from seqtk.runtime.cpu_load import usable_cores
from seqtk.runtime.thread_governor import ThreadGovernor


class CharLSTM(nn.Module):
    def __init__(self, vocab: int = 84, hidden: int = 256) -> None:
        super().__init__()
        self.embed, self.lstm, self.head = nn.Embedding(vocab, 64), nn.LSTM(64, hidden, batch_first=True), nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x (B, T) long -> logits (B, T, V)
        return self.head(self.lstm(self.embed(x))[0])


class BiGRUClassifier(nn.Module):
    def __init__(self, vocab: int = 20_000, classes: int = 5) -> None:
        super().__init__()
        from seqtk.nn.encoders import LayerSpec, StackedEncoder

        self.embed = nn.Embedding(vocab, 100)
        self.encoder = StackedEncoder(100, [LayerSpec("gru", 128, bidirectional=True, return_sequences=False)])
        self.head = nn.Linear(self.encoder.output_dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x (B, T) long -> logits (B, C)
        return self.head(self.encoder(self.embed(x)))


def trainer(name: str) -> Callable[[], None]:
    """One Adam step of ``name`` on fixed synthetic inputs (speed does not depend on them)."""
    torch.manual_seed(0)
    if name == "char_lstm":
        model, x, y = CharLSTM(), torch.randint(0, 84, (32, 128)), torch.randint(0, 84, (32, 128))
        loss_of = lambda: nn.functional.cross_entropy(model(x).reshape(-1, 84), y.reshape(-1))  # noqa: E731
    else:
        model, x, y = BiGRUClassifier(), torch.randint(1, 20_000, (32, 200)), torch.randint(0, 5, (32,))
        loss_of = lambda: nn.functional.cross_entropy(model(x), y)  # noqa: E731
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        loss = loss_of()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def other_job(stop: multiprocessing.synchronize.Event, started: multiprocessing.synchronize.Event) -> None:
    """A one-thread training loop, as a second seqtk run with train.num_threads = 1."""
    torch.set_num_threads(1)
    step = trainer("char_lstm")
    started.set()
    while not stop.is_set():
        step()


def steps_per_s(name: str, seconds: float, governed: bool, beside: bool) -> tuple[float, int]:
    """Steps/s of ``name`` over ``seconds`` from the moment the other job starts, and the final thread count."""
    torch.set_num_threads(2)
    step = trainer(name)
    step()  # untimed: kernels and allocator warm up
    context = multiprocessing.get_context("spawn")
    stop, started = context.Event(), context.Event()
    job = context.Process(target=other_job, args=(stop, started)) if beside else None
    if job is not None:
        job.start()
        started.wait()
    governor = ThreadGovernor() if governed else None
    try:
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            if governor is not None:
                governor.step()
            step()
            count += 1
        return count / (time.perf_counter() - start), torch.get_num_threads()
    finally:
        if job is not None:
            stop.set()
            job.join()
        torch.set_num_threads(2)


def run_throughput(recipe: str, overrides: list[str], beside: bool, out: Path) -> float:
    """Mean ``train_throughput`` of ``seqtk run recipe overrides``, alone or started with the other job."""
    context = multiprocessing.get_context("spawn")
    stop, started = context.Event(), context.Event()
    job = context.Process(target=other_job, args=(stop, started)) if beside else None
    if job is not None:
        job.start()  # the run starts at the same moment: the job's start-up competes with the run's
    command = [sys.executable, "-m", "seqtk", "run", recipe, *overrides, "log.progress=false",
               "log.tensorboard=false", "--out", str(out)]  # fmt: skip
    try:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    finally:
        if job is not None:
            stop.set()
            job.join()
    rates = [row["train_throughput"] for row in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())
             if "train_throughput" in row]  # fmt: skip
    if not rates:
        raise SystemExit(f"{out / 'metrics.jsonl'} has no train_throughput lines: give the run more steps")
    return sum(rates) / len(rates)


def measure_run(recipe: str, overrides: list[str]) -> dict[str, float]:
    """A whole seqtk run alone, beside the job (its default thread settings) and beside it pinned."""
    pinned = [*overrides, f"train.num_threads={usable_cores()}"]
    with tempfile.TemporaryDirectory() as tmp:
        alone = run_throughput(recipe, overrides, beside=False, out=Path(tmp) / "alone")
        beside = run_throughput(recipe, overrides, beside=True, out=Path(tmp) / "beside")
        fixed = run_throughput(recipe, pinned, beside=True, out=Path(tmp) / "pinned")
    print(f"seqtk run {recipe} {' '.join(overrides)}: alone {alone:.1f}/s; beside a 1-thread job {beside:.1f}/s, "
          f"pinned to {usable_cores()} threads {fixed:.1f}/s (train_throughput, mean of the log lines)", flush=True)  # fmt: skip
    return {"run_beside_vs_alone": round(alone / beside, 2), "run_beside_vs_alone_pinned": round(alone / fixed, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="wall time of each measurement")
    parser.add_argument("--recipe", help="measure a whole `seqtk run RECIPE` instead of the two models")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="recipe overrides for --recipe")
    args = parser.parse_args()
    if usable_cores() < 2:
        raise SystemExit("needs at least 2 usable cores")
    if args.recipe:
        print(json.dumps(measure_run(args.recipe, args.set) | {"recipe": args.recipe, "time": time.strftime("%Y-%m-%d")}))
        return
    result: dict[str, float | str] = {}
    for name in ("char_lstm", "bigru_classifier"):
        alone, _ = steps_per_s(name, args.seconds, governed=True, beside=False)
        governed, threads = steps_per_s(name, args.seconds, governed=True, beside=True)
        fixed, _ = steps_per_s(name, args.seconds, governed=False, beside=True)
        print(f"{name:>17}: alone {alone:.2f} steps/s; beside a 1-thread job: governed {governed:.2f} "
              f"(ended on {threads} thread{'s' if threads > 1 else ''}), fixed 2 threads {fixed:.2f}", flush=True)  # fmt: skip
        result[f"{name}_beside_vs_alone"] = round(alone / governed, 2)
        result[f"{name}_beside_vs_alone_fixed"] = round(alone / fixed, 2)
    print(json.dumps(result | {"seconds": args.seconds, "time": time.strftime("%Y-%m-%d")}))


if __name__ == "__main__":
    main()
