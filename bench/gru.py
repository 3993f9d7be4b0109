"""How much faster seqtk.nn.fast_rnn trains the seeds' sentiment model than nn.GRU / nn.RNN, in ratios measured in one process.

The model is the seeds' (``plugins/sentiment/model.py``)::

    Embedding(10k, 128) -> GRU(64, return_sequences) -> GRU(64) -> Dense(1)

trained on random right-padded batches (batch 64, padded length T, lengths
drawn from T/4..T with at least one of length T), binary cross-entropy, Adam.
The same model (same weights) is timed with the encoder's automatic choice
(``fast``: seqtk.nn.fast_rnn on CPU training) and with ``SEQTK_FAST_RNN=0``
(``nn``: PyTorch's own kernels), in interleaved rounds; each figure is the
median of the rounds' examples/s, so other processes' load hits both alike.

- ``gru_vs_nn_gru_T256``: training examples/s, fast / nn.GRU, T=256. Goal >= 1.6.
- ``gru_vs_nn_gru_T64``: the same at T=64. Goal >= 1.3.
- ``rnn_vs_nn_rnn_T256``: the same model with ``rnn`` (tanh) layers, T=256. Goal >= 1.3.

Diagnostic lines show forward and backward times of each path separately.
``--grid`` instead times one layer (forward + backward, F = H) over a grid of
batch, hidden size and length, for the dispatch rule of ``seqtk.nn.fast_rnn.prefer_fast``.

Run: ``python bench/gru.py [--rounds 5] [--steps 4] [--threads 1]`` (a few minutes on 2 CPU cores).
The last line printed is one JSON object with the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from seqtk.nn import fast_rnn
from seqtk.nn.encoders import LayerSpec
from seqtk.runtime.device import tune_allocator
from seqtk.text.vocab import Vocab
from seqtk_plugins.classify.model import TextClassifier

BATCH, EMBED, HIDDEN, VOCAB = 64, 128, 64, 10_000


@contextmanager
def fast_path(on: bool, always: bool = False) -> Iterator[None]:
    """Force the encoder's choice: the automatic rule (on; at every shape if always) or PyTorch's kernels (off)."""
    before = os.environ.get(fast_rnn.ENV_SWITCH)
    os.environ[fast_rnn.ENV_SWITCH] = ("1" if always else "auto") if on else "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ[fast_rnn.ENV_SWITCH]
        else:
            os.environ[fast_rnn.ENV_SWITCH] = before


def make_model(cell: str) -> TextClassifier:
    torch.manual_seed(0)
    vocab = Vocab([f"w{i}" for i in range(VOCAB - 3)], num_oov_buckets=2)
    layers = [LayerSpec(cell, HIDDEN, return_sequences=True), LayerSpec(cell, HIDDEN, return_sequences=False)]
    return TextClassifier(vocab, EMBED, layers, 2).train()  # two classes: one logit z, returned as (0, z)


def make_batches(steps: int, count: int) -> list[tuple[Tensor, Tensor, Tensor]]:
    """Right-padded random batches: ids (B, T), lengths (B,), labels (B,)."""
    gen = torch.Generator().manual_seed(1)
    batches = []
    for _ in range(count):
        lengths = torch.randint(max(1, steps // 4), steps + 1, (BATCH,), generator=gen)
        lengths[0] = steps
        ids = torch.randint(3, VOCAB, (BATCH, steps), generator=gen)
        ids[torch.arange(steps) >= lengths.unsqueeze(1)] = 0  # the padding id
        batches.append((ids, lengths, torch.randint(0, 2, (BATCH,), generator=gen).float()))
    return batches


def train_rate(model: nn.Module, opt: torch.optim.Optimizer, batches: list, fast: bool) -> tuple[float, float, float]:
    """Examples/s of full training steps, and the mean forward and backward seconds per step."""
    loss_fn = nn.BCEWithLogitsLoss()
    fwd = bwd = 0.0
    with fast_path(fast):
        start = time.perf_counter()
        for ids, lengths, labels in batches:
            t0 = time.perf_counter()
            loss = loss_fn(model(ids, lengths)[:, 1], labels)  # (B, 2) -> z (B,): BCE, as the lectures
            t1 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            t2 = time.perf_counter()
            opt.step()
            fwd, bwd = fwd + t1 - t0, bwd + t2 - t1
        elapsed = time.perf_counter() - start
    n = len(batches)
    return n * BATCH / elapsed, fwd / n, bwd / n


def compare(cell: str, steps: int, rounds: int, per_round: int) -> float:
    """Median examples/s of the fast path over nn's, interleaved rounds on the same model."""
    model = make_model(cell)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # as seqtk.training.optim.make_optimizer builds it
    batches = make_batches(steps, per_round)
    results: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    for fast in (True, False):
        train_rate(model, opt, batches[:2], fast)  # warm up both paths
    for _ in range(rounds):
        for fast in (True, False):
            results[fast].append(train_rate(model, opt, batches, fast))
    med = {fast: [statistics.median(r[i] for r in rows) for i in range(3)] for fast, rows in results.items()}
    ratio = med[True][0] / med[False][0]
    for fast, (rate, fwd, bwd) in med.items():
        name = f"{'fast' if fast else 'nn'}.{cell.upper()}"
        print(f"  {cell} T={steps:3d} {name:9s} {rate:7.0f} ex/s   forward {fwd * 1e3:6.1f} ms  backward {bwd * 1e3:6.1f} ms")
    print(f"  {cell} T={steps:3d} ratio {ratio:.2f}  (per-round ratios: "
          f"{', '.join(f'{a[0] / b[0]:.2f}' for a, b in zip(results[True], results[False]))})")
    return ratio


# -- the dispatch grid ----------------------------------------------------------------------------
def layer_time(layer: nn.RNNBase, x: Tensor, fast: bool, reps: int) -> float:
    """Median seconds of forward + backward of one layer through the encoder's dispatch."""
    from seqtk.nn.ragged import run_module

    times = []
    with fast_path(fast, always=True):
        for _ in range(reps):
            start = time.perf_counter()
            run_module(layer, x, None)[0].sum().backward()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def grid(mode: str, rounds: int) -> list[dict[str, float]]:
    rows = []
    for hidden in (32, 64, 128, 256, 512):
        for batch in (1, 8, 64, 128):
            for steps in (16, 64, 256, 512):
                work = batch * steps * hidden * hidden
                if work > 1 << 28:  # the largest shapes: GEMM-bound either way, and slow to time
                    continue
                torch.manual_seed(0)
                layer = (nn.GRU if mode == "GRU" else nn.RNN)(hidden, hidden, batch_first=True)
                x = torch.randn(batch, steps, hidden, requires_grad=True)
                reps = max(2, min(9, int(3e7 / (work * (3 if mode == "GRU" else 1) + 1e6))))
                layer_time(layer, x, True, 1), layer_time(layer, x, False, 1)  # warm up
                fast = [layer_time(layer, x, True, reps) for _ in range(rounds)]
                slow = [layer_time(layer, x, False, reps) for _ in range(rounds)]
                ratio = statistics.median(slow) / statistics.median(fast)
                rows.append({"B": batch, "H": hidden, "T": steps, "ratio": round(ratio, 2)})
                print(f"  {mode} B={batch:3d} H={hidden:3d} T={steps:3d}  nn {statistics.median(slow) * 1e3:8.2f} ms  "
                      f"fast {statistics.median(fast) * 1e3:8.2f} ms  speedup {ratio:5.2f}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds per comparison; the median counts")
    parser.add_argument("--steps", type=int, default=4, help="training steps (batches) per round")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: no stalls when other jobs share the cores)")
    parser.add_argument("--raw-malloc", action="store_true", help="skip seqtk.runtime.device.tune_allocator (which seqtk run applies)")
    parser.add_argument("--grid", choices=("GRU", "RNN_TANH"), help="time one layer over the dispatch grid instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not args.raw_malloc:
        tune_allocator()  # as seqtk run does: freed activations stay in the heap (fewer page faults), both paths alike
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, oneDNN {torch.backends.mkldnn.is_available()}")
    if args.grid:
        print(json.dumps(grid(args.grid, args.rounds)))
        return
    ratios = {
        "gru_vs_nn_gru_T256": compare("gru", 256, args.rounds, args.steps),
        "gru_vs_nn_gru_T64": compare("gru", 64, args.rounds, args.steps * 4),
        "rnn_vs_nn_rnn_T256": compare("rnn", 256, args.rounds, args.steps),
    }
    print(json.dumps({k: round(v, 3) for k, v in ratios.items()}))


if __name__ == "__main__":
    main()
