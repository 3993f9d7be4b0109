"""Training speed of every recurrent layer kind against ``nn.LSTM`` at equal parameter count, in one run.

For each sequence length T (128, 512, 2048 by default) and each layer kind,
one :class:`seqtk.nn.encoders.StackedEncoder` layer with F = 256 inputs is sized
so that its parameter count is as close as possible to an ``nn.LSTM(256, 256)``
(526,336 parameters): a minGRU has no recurrent matrix, so it gets a much
wider state (H = 1,023), an sLSTM's recurrent matrix is block-diagonal, and
so on. The batch holds B·T = 16,384 tokens at every T (B = 128, 32, 8), so the
work per batch is the same and only the sequence length changes.

A timed step is forward + backward of the layer and a squared-output loss
(no optimiser: every kind's optimiser step costs the same at equal
parameters). Rounds are interleaved across kinds and the best of the rounds
counts, which filters out other processes' noise. ``nn.LSTM`` runs through the
same encoder, so it is the oneDNN kernel seqtk uses for ``cell = "lstm"``.

The header is ``seqtk doctor``'s CPU report (model, flags, GEMM rate); the
last line printed is one JSON object: ``{"T=512": {"min_gru": 0.71, ...}, ...}``
(tokens/s of the kind ÷ tokens/s of lstm, same T), with the raw tokens/s under
``"tokens_per_s"``.

Run: ``python bench/recurrences.py [--lengths 128 512 2048] [--rounds 3] [--threads 1]``
(a few minutes on 2 CPU cores; ``--kinds`` picks kinds).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from rich.console import Console
from rich.table import Table

from seqtk.cli.doctor import cpu_report
from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.nn.layers import KNOWN_CELLS

FEATURES = 256
TOKENS = 16_384  # B·T per batch at every T
#: kind name -> LayerSpec options besides cell and hidden_size (the name is also the cell unless "cell" is given)
KINDS: dict[str, dict[str, object]] = {
    "lstm": {},
    "gru": {},
    "lstm_awd": {"cell": "lstm", "weight_drop": 0.5},
    "lstm_proj": {"cell": "lstm", "proj_size": 128},
    "ln_lstm": {},
    "min_gru": {},
    "min_lstm": {},
    "slstm": {"heads": 4},
    "mlstm": {"heads": 4},
}


def spec_for(kind: str, hidden: int) -> LayerSpec:
    options = dict(KINDS[kind])
    cell = str(options.pop("cell", kind))
    return LayerSpec(cell, hidden, **options)  # type: ignore[arg-type]


def parameters(spec: LayerSpec) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in StackedEncoder(FEATURES, [spec]).parameters())


def equal_size(kind: str, target: int) -> int:
    """The hidden size whose parameter count is closest to ``target`` (a multiple of the kind's heads)."""
    step = int(KINDS[kind].get("heads", 1))  # type: ignore[arg-type]
    first = int(KINDS[kind].get("proj_size", 0)) + 1  # type: ignore[arg-type]
    sizes = range(-(-first // step) * step, 8192, step)
    low, high = 0, len(sizes) - 1
    while low < high:  # parameters grow with the hidden size: the first size at or above the target
        mid = (low + high) // 2
        low, high = (mid + 1, high) if parameters(spec_for(kind, sizes[mid])) < target else (low, mid)
    near = [sizes[i] for i in (low - 1, low) if i >= 0]
    return min(near, key=lambda size: abs(parameters(spec_for(kind, size)) - target))


def make_step(kind: str, hidden: int, steps: int):
    torch.manual_seed(0)
    encoder = StackedEncoder(FEATURES, [spec_for(kind, hidden)]).train()
    x = torch.randn(TOKENS // steps, steps, FEATURES, requires_grad=True)

    def step() -> None:
        encoder(x).square().mean().backward()
        encoder.zero_grad(set_to_none=True)
        x.grad = None

    return step


def best_rates(kinds: list[str], sizes: dict[str, int], steps: int, rounds: int) -> dict[str, float]:
    runs = {kind: make_step(kind, sizes[kind], steps) for kind in kinds}
    for run in runs.values():
        run()  # warm-up: allocations, oneDNN primitive caches
    best = dict.fromkeys(kinds, float("inf"))
    for _ in range(rounds):
        for kind, run in runs.items():
            start = time.perf_counter()
            run()
            best[kind] = min(best[kind], time.perf_counter() - start)
    return {kind: TOKENS / seconds for kind, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512, 2048])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console = Console()
    cpu = cpu_report(gemm_seconds=1.0)
    console.print(f"[bold]{cpu['model']}[/], {', '.join(cpu['flags'])}; GEMM {cpu['gemm_gflops']} GFLOP/s; "
                  f"torch {torch.__version__}, {args.threads} thread(s)")
    kinds = [kind for kind in args.kinds if str(KINDS[kind].get("cell", kind)) in KNOWN_CELLS]
    skipped = sorted(set(args.kinds) - set(kinds))
    if skipped:
        console.print(f"not in this seqtk: {', '.join(skipped)}")
    if "lstm" not in kinds:
        kinds.insert(0, "lstm")
    target = parameters(spec_for("lstm", FEATURES))
    sizes = {kind: equal_size(kind, target) for kind in kinds}
    sizes["lstm"] = FEATURES
    table = Table(title=f"training tokens/s (forward + backward), B·T = {TOKENS:,}, F = {FEATURES}")
    table.add_column("kind")
    table.add_column("hidden", justify="right")
    table.add_column("params", justify="right")
    for steps in args.lengths:
        table.add_column(f"T={steps}", justify="right")
    rates = {f"T={steps}": best_rates(kinds, sizes, steps, args.rounds) for steps in args.lengths}
    for kind in kinds:
        cells = [f"{rates[t][kind]:,.0f} ({rates[t][kind] / rates[t]['lstm']:.2f}x)" for t in rates]
        table.add_row(kind, str(sizes[kind]), f"{parameters(spec_for(kind, sizes[kind])):,}", *cells)
    console.print(table)
    ratios = {t: {kind: round(r[kind] / r["lstm"], 3) for kind in kinds if kind != "lstm"} for t, r in rates.items()}
    print(json.dumps({**ratios, "tokens_per_s": {t: {k: round(v) for k, v in r.items()} for t, r in rates.items()},
                      "hidden": sizes, "gemm_gflops_one_thread": (cpu["gemm_gflops"] or {}).get("one_thread")}))


if __name__ == "__main__":
    main()
