"""One torch thread or two, on an idle machine and beside a job that keeps one core busy: ratios from one run.

The model is the quick start's kind (a character LSTM: embedding 64, one LSTM
layer, batch 32 x 128 characters, Adam), trained for ``--steps`` timed steps
after a few untimed ones, with 1 and with 2 torch threads. The "contended"
rounds run while another process spins on one core, as a second job on a
2-core laptop does. The last line printed is one JSON object:

- ``contended_1_vs_2``: steps/s with 1 thread over 2 threads, beside the
  spinning job. Above 1 means one thread is the better choice then, which is
  what seqtk's contention note (``seqtk.runtime.cpu_load``) tells the user.
- ``idle_2_vs_1``: steps/s with 2 threads over 1 on the idle machine (what the
  second thread buys when the cores are free).

Run: ``python bench/threads.py [--steps 40] [--hidden 256]`` (about a minute on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time

import torch
from torch import nn

from seqtk.runtime.cpu_load import usable_cores


def spin(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        pass


class CharLSTM(nn.Module):
    def __init__(self, vocab: int, hidden: int) -> None:
        super().__init__()
        self.embed, self.lstm, self.head = nn.Embedding(vocab, 64), nn.LSTM(64, hidden, batch_first=True), nn.Linear(hidden, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """# x (B, T) long -> logits (B, T, V)"""
        return self.head(self.lstm(self.embed(x))[0])


def steps_per_s(threads: int, steps: int, hidden: int) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, vocab = CharLSTM(84, hidden), 84
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randint(0, vocab, (32, 128)), torch.randint(0, vocab, (32, 128))

    def step() -> None:
        loss = nn.functional.cross_entropy(model(x).reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):  # untimed: kernels and allocator warm up
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - start)


def measure(steps: int, hidden: int, contended: bool) -> dict[int, float]:
    stop = multiprocessing.get_context("spawn").Event() if contended else None
    spinner = multiprocessing.get_context("spawn").Process(target=spin, args=(stop,)) if contended else None
    if spinner is not None:
        spinner.start()
        time.sleep(0.5)
    try:
        return {threads: steps_per_s(threads, steps, hidden) for threads in (2, 1, 2, 1)}  # interleaved; last wins
    finally:
        if spinner is not None:
            stop.set()
            spinner.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()
    if usable_cores() < 2:
        raise SystemExit("needs at least 2 usable cores")
    idle = measure(args.steps, args.hidden, contended=False)
    busy = measure(args.steps, args.hidden, contended=True)
    for name, rates in (("idle", idle), ("one core busy", busy)):
        print(f"{name:>14}: 1 thread {rates[1]:.2f} steps/s, 2 threads {rates[2]:.2f} steps/s", flush=True)
    print(json.dumps({"contended_1_vs_2": round(busy[1] / busy[2], 3), "idle_2_vs_1": round(idle[2] / idle[1], 3),
                      "steps": args.steps, "hidden": args.hidden, "time": time.strftime("%Y-%m-%d")}))


if __name__ == "__main__":
    main()
