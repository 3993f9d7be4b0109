"""The measurements of ``bench/gpu_check.sh``, one subcommand each, each writing one JSON file.

- ``amp``: training throughput of the char LM (``textgen_gpu``) and of the
  sentiment model (``sentiment_rt``) through seqtk's own trainer in fp32, bf16
  and fp16, as ratios to fp32 measured in the same run;
- ``cudnn``: forward + backward of seqtk's LSTM stack through cuDNN against
  the same stack of the reference cell (``ref_lstm``, one Python-level step
  per time step); whether cuDNN runs every supported layer (uni- and
  bidirectional, ragged lengths, fp32 and bf16 autocast) with no weight warning
  reaching the user (PyTorch's "not part of single contiguous chunk"); and what
  padding-exact ragged batches cost a bidirectional layer: seqtk's two calls
  against one packed call and against unpadded rows;
- ``generate``: ``CharLM.generate`` characters/s at batch 1 and batch 64;
- ``textgen``: a time-budgeted ``seqtk run recipes/textgen_gpu.toml``: a short
  probe measures the step rate, then ``train.max_steps`` is set so that the run
  fits the budget; reports val loss, characters/s and the sample;
- ``ddp``: ``torchrun --nproc-per-node 1 -m seqtk run recipes/toy_tiny.toml``
  (NCCL on a GPU, gloo in a dry run);
- ``pytest``: the counts of a pytest log (``pytest -m gpu``, and the tiny recipes,
  which the script runs on CUDA as ``tests/test_tiny_recipes.py``);
- ``summarize``: merges the step files into one report and checks the goals.

``--dry-run`` runs the same code on the CPU with tiny sizes (CI covers it, so the
script cannot rot between GPU loans); its figures mean nothing and no goal is
checked. Speeds do not depend on the text, but the runs use the real recipes'
data all the same (from seqtk's data folder, fetched or carried there).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

GOALS = {  # measure -> (path in the report, minimum)
    "amp_bf16_vs_fp32_charlm": (("amp", "charlm", "bf16_vs_fp32"), 1.5),
    "cudnn_vs_reference_lstm": (("cudnn", "speed", "recipe_shape", "ratio"), 10.0),
    "generate_graph_vs_eager_b1": (("generate", "batch_1_graph_vs_eager"), 10.0),  # issue 31
    "generate_graph_b1_chars_s": (("generate", "batch_1_chars_s"), 15_000.0),
    "min_gru_vs_cudnn_lstm_T2048": (("scan", "min_gru_vs_lstm_T2048"), 3.0),
}
WARMUP = 5  # untimed steps, and the trainer's log interval: its first window is the warmup


def device_of(args: argparse.Namespace) -> torch.device:
    return torch.device("cpu" if args.dry_run else "cuda")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_precisions() -> tuple[str, ...]:
    from seqtk.runtime.device import cpu_supports_bf16

    return ("fp32", "bf16") if cpu_supports_bf16() else ("fp32",)  # seqtk refuses bf16 on AVX2-only CPUs


def quiet_console() -> Console:
    return Console(file=io.StringIO())


# -- amp ------------------------------------------------------------------------------------------
def trainer_rate(recipe: str, overrides: list[str], folder: Path) -> float:
    """Items/s of ``seqtk.training.train.run_training`` after the warmup window (harmonic mean of its windows)."""
    from seqtk.tasks.loading import load_recipe
    from seqtk.training.train import run_training

    out = folder / f"run-{time.monotonic_ns()}"
    run_training(load_recipe(recipe, overrides), out=out, console=quiet_console())
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [r["train_throughput"] for r in rows if "train_throughput" in r and r["step"] > WARMUP]
    return len(rates) / sum(1.0 / r for r in rates)


def amp_overrides(model: str, steps: int, dry: bool) -> list[str]:
    common = [f"train.max_steps={WARMUP + steps}", f"train.eval_every={WARMUP + steps}", "train.eval_batches=1",
              "train.warmup_steps=0", "train.patience=0", f"log.every={WARMUP}", "log.tensorboard=false",
              "log.progress=false", f"train.device={'cpu' if dry else 'cuda'}"]
    if not dry:
        return common
    tiny = {"charlm": ["model.hidden_size=32", "model.embedding_dim=16", "data.seq_len=32", "train.batch_size=8"],
            "sentiment": ["train.batch_size=8"]}
    return common + tiny[model]


def cmd_amp(args: argparse.Namespace) -> dict[str, Any]:
    models = {"charlm": ("textgen_gpu", 40), "sentiment": ("sentiment_rt", 100)}
    precisions = cpu_precisions() if args.dry_run else ("fp32", "bf16", "fp16")
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model, (recipe, steps) in models.items():
            steps = 3 if args.dry_run else steps
            rates = {p: trainer_rate(recipe, amp_overrides(model, steps, args.dry_run) + [f"train.precision={p}"],
                                     Path(tmp)) for p in precisions}
            row: dict[str, Any] = {"recipe": recipe, "rates": {p: round(r, 1) for p, r in rates.items()}}
            for p in precisions[1:]:
                row[f"{p}_vs_fp32"] = round(rates[p] / rates["fp32"], 3)
            report[model] = row
            print(f"amp {model}: {row}", flush=True)
    return report


# -- cudnn ----------------------------------------------------------------------------------------
def encoder_rate(cell: str, shape: tuple[int, int, int, int], device: torch.device, seconds: float,
                 bidirectional: bool = False, ragged: bool = False) -> float:
    """Tokens/s of forward + backward through a stack of ``layers`` x ``cell`` (B, T, H, layers).

    ``ragged``: lengths spread evenly over 1..T (padding-exact path); else every row is T long.
    """
    from seqtk.nn.encoders import LayerSpec, StackedEncoder

    batch, steps, hidden, layers = shape
    torch.manual_seed(0)
    specs = [LayerSpec(cell, hidden, bidirectional=bidirectional) for _ in range(layers)]
    enc = StackedEncoder(hidden, specs).to(device)
    x = torch.randn(batch, steps, hidden, device=device, requires_grad=True)
    lengths = torch.linspace(1, steps, batch, device=device).round().long() if ragged else None
    enc(x, lengths).sum().backward()  # warm up: cuDNN plans, allocator
    sync(device)
    reps, start = 0, time.perf_counter()
    while reps < 2 or time.perf_counter() - start < seconds:
        enc(x, lengths).sum().backward()
        sync(device)
        reps += 1
    return batch * steps * reps / (time.perf_counter() - start)


def packed_rate(cell: str, shape: tuple[int, int, int, int], device: torch.device) -> float:
    """Tokens/s with every ragged bidirectional layer run as one packed call instead of seqtk's two."""
    import seqtk.nn.ragged as ragged

    two_calls = ragged._run_bidirectional  # seqtk.nn.ragged.run_layer looks the name up at each call
    ragged._run_bidirectional = lambda rnn, x, lengths, h0: ragged._run_packed(rnn, x, lengths, h0)[0]
    try:
        return encoder_rate(cell, shape, device, 1.5, bidirectional=True, ragged=True)
    finally:
        ragged._run_bidirectional = two_calls


def ragged_cost(device: torch.device, dry: bool) -> dict[str, Any]:
    """What padding-exactness costs a bidirectional layer: ragged lengths vs all rows full (one fused call)."""
    shape = (4, 16, 16, 1) if dry else (64, 64, 128, 2)  # about the sentiment recipe's bi-GRU stack
    report: dict[str, Any] = {"shape_B_T_H_layers": list(shape)}
    for cell in ("lstm", "gru"):
        full = encoder_rate(cell, shape, device, 0.2 if dry else 1.5, bidirectional=True)
        ragged = encoder_rate(cell, shape, device, 0.2 if dry else 1.5, bidirectional=True, ragged=True)
        report[cell] = {"full_tokens_s": round(full, 1), "ragged_tokens_s": round(ragged, 1),
                        "ragged_vs_full": round(ragged / full, 3)}
        if device.type == "cuda":  # the alternative: one packed call (cuDNN reads varlen batches natively)
            packed = packed_rate(cell, shape, device)
            report[cell] |= {"packed_tokens_s": round(packed, 1), "two_calls_vs_packed": round(ragged / packed, 3)}
    print(f"cudnn ragged bidirectional: {report}", flush=True)
    return report


def cudnn_cases(device: torch.device) -> list[dict[str, Any]]:
    """Run each supported layer as training does; record warnings and whether cuDNN's op ran."""
    from seqtk.nn import ragged
    from seqtk.nn.encoders import LayerSpec, StackedEncoder

    cases = []
    lengths = torch.tensor([7, 3, 5, 1], device=device)
    for cell in ("lstm", "gru", "rnn"):
        for bidirectional in (False, True):
            for precision in ("fp32", "bf16") if device.type == "cuda" else cpu_precisions():
                enc = StackedEncoder(4, [LayerSpec(cell, 8, bidirectional=bidirectional)]).to(device)
                x = torch.randn(4, 9, 4, device=device, requires_grad=True)
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter("always")
                    ragged._weight_warning_filtered = False  # seqtk's filter then goes in front of "always"
                    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                            out = enc(x, lengths)
                        out.float().sum().backward()
                ops = {event.key for event in prof.key_averages()}
                texts = sorted({str(w.message)[:200] for w in seen})
                cases.append({"cell": cell, "bidirectional": bidirectional, "precision": precision,
                              "cudnn": "aten::_cudnn_rnn" in ops, "warnings": texts,
                              "weight_warnings": [t for t in texts if "contiguous" in t or "cudnn" in t.lower()]})
    return cases


def cmd_cudnn(args: argparse.Namespace) -> dict[str, Any]:
    device = device_of(args)
    shapes = {"recipe_shape": (64, 256, 1024, 3), "small": (32, 64, 128, 1)}  # textgen_gpu's; a small one
    if args.dry_run:
        shapes = {"recipe_shape": (4, 16, 16, 2), "small": (2, 8, 8, 1)}
    speed = {}
    for name, shape in shapes.items():
        fused = encoder_rate("lstm", shape, device, seconds=0.2 if args.dry_run else 2.0)
        reference = encoder_rate("ref_lstm", shape, device, seconds=0.2 if args.dry_run else 2.0)
        speed[name] = {"shape_B_T_H_layers": list(shape), "lstm_tokens_s": round(fused, 1),
                       "ref_lstm_tokens_s": round(reference, 1), "ratio": round(fused / reference, 2)}
        print(f"cudnn {name}: {speed[name]}", flush=True)
    cases = cudnn_cases(device)
    kept = all(c["cudnn"] and not c["weight_warnings"] for c in cases) if device.type == "cuda" else None
    return {"speed": speed, "ragged_bidirectional": ragged_cost(device, args.dry_run), "cases": cases,
            "cudnn_kept": kept, "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32}


# -- generate -------------------------------------------------------------------------------------
def cmd_generate(args: argparse.Namespace) -> dict[str, Any]:
    """Characters/s of textgen_gpu's model at batch 1, 8 and 64: the eager step against the captured one."""
    from seqtk.nn.lm import CharLM, uniform_layers
    from seqtk.nn.steppers import DecodeSettings

    device = device_of(args)
    hidden, layers, length = (32, 2, 20) if args.dry_run else (1024, 3, 500)
    torch.manual_seed(0)
    lm = CharLM(65, embedding_dim=128, layers=uniform_layers("lstm", hidden, layers)).to(device).eval()
    report: dict[str, Any] = {"model": f"{layers}x{hidden} LSTM, 65 symbols", "new_tokens": length}
    for batch in (1, 8, 64):
        prompt = torch.randint(0, 65, (batch, 8), device=device)
        rates, samples = {}, {}
        for route in ("eager", "graph"):
            decoding = DecodeSettings(route=route)
            lm.generate(prompt, max_new_tokens=10, decoding=decoding)  # warm up (and capture once)
            sync(device)
            start = time.perf_counter()
            new = lm.generate(prompt, max_new_tokens=length, generator=torch.Generator(device).manual_seed(0),
                              decoding=decoding)  # fmt: skip
            sync(device)
            rates[route] = round(batch * length / (time.perf_counter() - start), 1)
            samples[route] = new
            report[f"route_{route}"] = lm.last_route.describe()
        report[f"batch_{batch}_chars_s"] = rates["graph"]
        report[f"batch_{batch}_eager_chars_s"] = rates["eager"]
        report[f"batch_{batch}_graph_vs_eager"] = round(rates["graph"] / rates["eager"], 2)
        report[f"batch_{batch}_same_sample"] = bool(torch.equal(samples["eager"], samples["graph"]))
    greedy = [lm.generate([1, 2, 3], length, temperature=0, decoding=DecodeSettings(route=r)) for r in ("eager", "graph")]
    report["greedy_equal"] = bool(torch.equal(*greedy))
    print(f"generate: {report}", flush=True)
    return report


# -- scan: the parallel-scan cells against cuDNN's LSTM ---------------------------------------
def equal_params_hidden(cell: str, target: int, features: int) -> int:
    """The hidden size at which one ``cell`` layer over ``features`` inputs has about ``target`` parameters."""
    from seqtk.nn.encoders import LayerSpec, StackedEncoder

    def count(hidden: int) -> int:
        return sum(p.numel() for p in StackedEncoder(features, [LayerSpec(cell, hidden)]).parameters())

    low, high = 8, 8192
    while low < high:  # parameters grow with the hidden size
        mid = (low + high + 1) // 2
        low, high = (mid, high) if count(mid) <= target else (low, mid - 1)
    return low - low % 8 or 8


def cmd_scan(args: argparse.Namespace) -> dict[str, Any]:
    """Training tokens/s (forward + backward) of min_gru, min_lstm and mlstm against cuDNN's LSTM at equal
    parameters, one layer over 512 features, at T = 512 and 2048."""
    device = device_of(args)
    features, lstm_hidden, batch = (16, 16, 2) if args.dry_run else (512, 512, 16)
    lengths = (16, 32) if args.dry_run else (512, 2048)
    seconds = 0.2 if args.dry_run else 2.0
    from seqtk.nn.encoders import LayerSpec, StackedEncoder

    target = sum(p.numel() for p in StackedEncoder(features, [LayerSpec("lstm", lstm_hidden)]).parameters())
    report: dict[str, Any] = {"features": features, "batch": batch, "lstm_hidden": lstm_hidden, "params": target}
    for cell in ("min_gru", "min_lstm", "mlstm"):
        report[f"{cell}_hidden"] = equal_params_hidden(cell, target, features)
    for steps in lengths:
        lstm = scan_rate("lstm", lstm_hidden, features, batch, steps, device, seconds)
        report[f"lstm_T{steps}_tokens_s"] = round(lstm, 1)
        for cell in ("min_gru", "min_lstm", "mlstm"):
            rate = scan_rate(cell, report[f"{cell}_hidden"], features, batch, steps, device, seconds)
            report[f"{cell}_T{steps}_tokens_s"] = round(rate, 1)
            report[f"{cell}_vs_lstm_T{steps}"] = round(rate / lstm, 2)
    print(f"scan: {report}", flush=True)
    return report


def scan_rate(cell: str, hidden: int, features: int, batch: int, steps: int, device: torch.device,
              seconds: float) -> float:  # fmt: skip
    """Tokens/s of forward + backward through one ``cell`` layer of ``hidden`` over (batch, steps, features)."""
    from seqtk.nn.encoders import LayerSpec, StackedEncoder

    torch.manual_seed(0)
    enc = StackedEncoder(features, [LayerSpec(cell, hidden)]).to(device)
    x = torch.randn(batch, steps, features, device=device, requires_grad=True)
    enc(x).sum().backward()  # warm up
    sync(device)
    reps, start = 0, time.perf_counter()
    while reps < 2 or time.perf_counter() - start < seconds:
        enc(x).sum().backward()
        sync(device)
        reps += 1
    return batch * steps * reps / (time.perf_counter() - start)


# -- textgen (time-budgeted run) ------------------------------------------------------------------
def textgen_overrides(dry: bool) -> list[str]:
    if not dry:
        return []
    return ["train.device=cpu", "train.precision=fp32", "model.hidden_size=32", "model.embedding_dim=16",
            "data.seq_len=32", "train.batch_size=8", "train.eval_batches=2", "log.tensorboard=false"]


def cmd_textgen(args: argparse.Namespace) -> dict[str, Any]:
    base = textgen_overrides(args.dry_run)
    with tempfile.TemporaryDirectory() as tmp:
        probe = trainer_rate("textgen_gpu", base + amp_overrides("charlm", 3 if args.dry_run else 30, args.dry_run),
                             Path(tmp))
    from seqtk.tasks.loading import load_recipe

    recipe = load_recipe("textgen_gpu", base)
    chars_per_step = recipe.train.batch_size * recipe.data.seq_len
    # 80% of the budget for training steps: data preparation, evaluations and the sample take the rest
    steps = max(10, int(0.8 * args.budget * probe / chars_per_step))
    steps = min(steps, 20 if args.dry_run else recipe.train.max_steps)
    # the recipe's own evaluation interval and early stopping (cheap on a GPU); a dry run evaluates 5 times
    every = [f"train.eval_every={max(1, steps // 5)}"] if args.dry_run else []
    run = Path(args.work) / "textgen_run"
    cmd = [sys.executable, "-m", "seqtk", "run", "textgen_gpu", "--out", str(run), *base, *every,
           f"train.max_steps={steps}", f"train.warmup_steps={min(recipe.train.warmup_steps, steps // 10)}",
           "log.progress=false"]
    print("textgen:", " ".join(cmd), flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    print(done.stdout + done.stderr, flush=True)
    if done.returncode:
        raise SystemExit(f"seqtk run failed with exit code {done.returncode}")
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    vals = [r["val_loss"] for r in rows if "val_loss" in r]
    best_step = next((r["step"] for r in rows if r.get("val_loss") == min(vals)), None) if vals else None
    rates = [r["train_throughput"] for r in rows if "train_throughput" in r and r["step"] > WARMUP]
    sample = done.stdout.split("Sample", 1)[1] if "Sample" in done.stdout else ""
    return {"budget_s": args.budget, "probe_chars_s": round(probe, 1), "max_steps": steps, "wall_s": round(seconds, 1),
            "val_loss_last": vals[-1] if vals else None, "val_loss_best": min(vals) if vals else None,
            "best_step": best_step, "steps_run": max((r["step"] for r in rows), default=0),
            "val_curve": [[r["step"], round(r["val_loss"], 4)] for r in rows if "val_loss" in r],
            "chars_s": round(len(rates) / sum(1.0 / r for r in rates), 1) if rates else None, "sample": sample[:1200]}


# -- ddp ------------------------------------------------------------------------------------------
def cmd_ddp(args: argparse.Namespace) -> dict[str, Any]:
    device = "cpu" if args.dry_run else "cuda"
    run = Path(args.work) / "ddp_run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=1", "-m", "seqtk",
           "run", "toy_tiny", "--device", device, "--out", str(run), "log.progress=false"]
    print("ddp:", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    print(done.stdout + done.stderr, flush=True)
    line = re.search(r"Distributed: 1 process \((\w+) on ([\w:_]+)\)", done.stdout)
    report = {"returncode": done.returncode, "backend": line.group(1) if line else None,
              "checkpoint": (run / "checkpoints" / "last.pt").is_file()}
    expected = "gloo" if args.dry_run else "nccl"
    if done.returncode or report["backend"] != expected or not report["checkpoint"]:
        Path(args.out).write_text(json.dumps(report) + "\n")  # what was seen, for the summary
        raise SystemExit(f"the 1-process torchrun run did not train under DDP with {expected}: {report}")
    return report


# -- summarize ------------------------------------------------------------------------------------
def dig(report: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(report, dict) or key not in report:
            return None
        report = report[key]
    return report


def goal(report: dict[str, Any], step: str, value: Any, met: bool | None, text: str, dry: bool) -> dict[str, Any]:
    """One goal's row: ``met`` is None in a dry run and when its step did not run."""
    ran = step in report["steps"] and report["steps"][step]["seconds"] > 0
    return {"value": value, "goal": text, "met": None if dry or not ran or value is None else met}


def passed(counts: dict[str, Any]) -> bool:
    return bool(counts.get("passed")) and not any(counts.get(k) for k in ("failed", "error", "errors"))


def cmd_summarize(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.work)
    report: dict[str, Any] = {"dry_run": args.dry_run, "steps": {}}
    for status in sorted(work.glob("*.status")):
        name = status.stem
        rc, seconds = status.read_text().split()
        result = work / f"{name}.json"
        report["steps"][name] = {"returncode": int(rc), "seconds": int(seconds)}
        if result.is_file() and result.stat().st_size:
            try:
                report[name] = json.loads(result.read_text())
            except json.JSONDecodeError as exc:
                report["steps"][name]["error"] = f"unreadable result: {exc}"
    goals = {}
    for measure, (path, minimum) in GOALS.items():
        value = dig(report, path)
        goals[measure] = goal(report, path[0], value, value is not None and value >= minimum, f">= {minimum}", args.dry_run)
    for step, measure in (("pytest", "pytest_gpu"), ("tiny", "tiny_recipes_on_cuda")):
        counts = report.get(step, {})
        goals[measure] = goal(report, step, counts.get("summary"), passed(counts), "all pass", args.dry_run)
    kept = dig(report, ("cudnn", "cudnn_kept"))
    goals["cudnn_kept"] = goal(report, "cudnn", kept, kept, "true", args.dry_run)
    backend = dig(report, ("ddp", "backend"))
    ddp_ok = backend == "nccl" and report["steps"].get("ddp", {}).get("returncode") == 0
    goals["ddp_nccl"] = goal(report, "ddp", backend or "no Distributed line", ddp_ok,
                             "a 1-process torchrun run trains under DDP with NCCL", args.dry_run)
    report["goals"] = goals
    return report


def cmd_pytest(args: argparse.Namespace) -> dict[str, Any]:
    """Counts from the closing line of the pytest log (``N passed, M skipped in ...``)."""
    text = Path(args.log).read_text(errors="replace")
    lines = [line.strip("= ") for line in text.splitlines() if re.search(r"\d+ (passed|failed|error|skipped|deselected)", line)]
    last = lines[-1] if lines else ""
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected|tests? collected)", last)}
    return {"summary": last, **counts}


COMMANDS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "amp": cmd_amp, "cudnn": cmd_cudnn, "generate": cmd_generate, "scan": cmd_scan, "textgen": cmd_textgen, "ddp": cmd_ddp,
    "pytest": cmd_pytest, "summarize": cmd_summarize,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--out", required=True, help="the JSON file to write")
    parser.add_argument("--work", default=".", help="the script's scratch folder (step results, run folders)")
    parser.add_argument("--dry-run", action="store_true", help="CPU and tiny sizes: checks the code, not the GPU")
    parser.add_argument("--budget", type=float, default=180.0, help="textgen: seconds for the whole run")
    parser.add_argument("--log", default="", help="pytest: the log to read")
    args = parser.parse_args(argv)
    if not args.dry_run and args.command not in ("pytest", "summarize") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run on a GPU machine, or pass --dry-run to check the script on the CPU")
    report = COMMANDS[args.command](args)
    Path(args.out).write_text(json.dumps(report, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
