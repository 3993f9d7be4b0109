"""How close the textgen task runs to the hardware, in ratios measured in one process.

- ``trainer_vs_raw``: characters/s of ``seqtk.training.train.run_training`` on the
  textgen task, divided by a hand-written PyTorch loop (forward, backward,
  clip, Adam step) on the same model, batches and batch size. Goal >= 0.97.
- ``lstm_peak_fraction``: GFLOP/s of the LSTM stack's training pass
  (forward + backward, 3x the forward multiply-adds) divided by the best fp32
  GEMM rate (torch.mm or oneDNN, a few square sizes) measured just before. Goal >= 0.60.
- ``generate_vs_naive_step``: characters/s of ``CharLM.generate`` at batch 1,
  divided by a loop that calls each ``nn.LSTM`` once per character. Goal >= 14.
- ``generate_vs_bandwidth_bound``: the same characters/s divided by the rate
  at which main memory could deliver the weights one token needs: the read
  bandwidth measured just before (the best sum over a float32 buffer several
  times the last-level cache, at least 2 GiB), divided by the fp32 bytes of
  every recurrent weight and bias, the head and one embedding row. Goal >= 0.70.
  (Generation reads the input half of layer 1 from a small per-vocabulary
  table instead of its weight matrix, so it reads ~5% fewer bytes than that.)
  These weights (7.6 MB here) stay in a large L3 cache, which can deliver them
  faster than memory: a diagnostic line shows the bound at the read bandwidth
  of a buffer of the weights' own size as well.
- ``generate_batch64_vs_batch1``: characters/s of one ``generate`` call that
  samples 64 texts at once ((64, T) prompt), divided by batch 1: the weights
  read once per step serve 64 characters.

The model and batch are those of ``recipes/textgen_shakespeare.toml`` with ``cell = "lstm"`` (the
recipe's default is now the layer-normalised LSTM; these ratios are about the fused LSTM); the text
is synthetic (speed does not depend on it), so nothing is downloaded. Every
timing is the best of a few rounds, which filters out other processes' noise.
A diagnostic line also shows the trainer with ``train.deterministic = false``
(torch's deterministic mode would fill every new tensor with NaN, ~9% here;
seqtk turns that filling off, so the two should match).
The last line printed is one JSON object with the ratios.

Run: ``python bench/textgen.py [--steps 20] [--rounds 3]`` (1-4 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from torch import nn

from seqtk.config.conversion import resolve
from seqtk.config.recipe_io import read_toml
from seqtk.config.recipes import locate
from seqtk_plugins.textgen.task import TextGenTask


WARMUP = 5  # untimed steps; also the trainer's log interval, so its first window is the warmup


def make_task(folder: Path, steps: int, **train: object) -> TextGenTask:
    """The shakespeare recipe's model and batch, on synthetic text in ``folder``."""
    rng = random.Random(0)
    words = ["the", "king", "and", "thou", "art", "my", "lord", "love", "death", "night", "sweet", "ROMEO:"]
    text = "\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(40_000))
    (folder / "text.txt").write_text(text, encoding="utf-8")
    raw = read_toml(locate("textgen_shakespeare"))
    raw["model"] = {**raw["model"], "cell": "lstm"}  # the recipe's sizes as fused LSTM layers: what these ratios are about
    raw["data"] = {**raw["data"], "path": str(folder / "text.txt"), "corpus": "tiny"}
    raw["train"] = {**raw["train"], "max_steps": steps, "eval_every": steps, "eval_batches": 1, "schedule": "constant",
                    "warmup_steps": 0, "device": "cpu", **train}  # fmt: skip
    raw["log"] = {**raw.get("log", {}), "every": WARMUP, "tensorboard": False, "progress": False}
    TextGenTask.console = Console(file=io.StringIO())  # also silences the trainer's own task instances
    task = TextGenTask(resolve(raw, "bench_textgen", TextGenTask))
    task.prepare()
    return task


def trainer_rate(task: TextGenTask, folder: Path, warmup: int) -> float:
    """Characters/s of the seqtk trainer, from its own per-step throughput log (after warmup)."""
    from seqtk.training.train import run_training

    out = folder / f"run-{time.monotonic_ns()}"
    run_training(task.recipe, out=out, console=Console(file=io.StringIO()))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [r["train_throughput"] for r in rows if "train_throughput" in r and r["step"] > warmup]
    return len(rates) / sum(1.0 / r for r in rates)  # harmonic mean: total chars / total time


def raw_rate(task: TextGenTask, steps: int, warmup: int) -> float:
    """Characters/s of a plain PyTorch loop on the same model and batches."""
    torch.manual_seed(0)
    model = task.build_model()
    opt = torch.optim.Adam(model.parameters(), lr=task.recipe.train.lr)
    batches = iter(task.train_loader())
    model.train()
    start, chars = 0.0, 0
    for step in range(steps):
        if step == warmup:
            start, chars = time.perf_counter(), 0
        x, y = next(batches)
        _, loss, _ = model(x, targets=y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), task.recipe.train.grad_clip)
        opt.step()
        chars += y.numel()
    return chars / (time.perf_counter() - start)


def gemm_gflops(sizes: tuple[int, ...] = (1024, 2048, 4096)) -> float:
    """The machine's practical fp32 GEMM peak: the best of torch.mm and oneDNN over a few sizes.

    torch.mm goes to MKL, which runs a slower code path on AMD CPUs; oneDNN
    (the library behind the CPU LSTM kernels) reaches about twice its rate
    there, so a peak from torch.mm alone would flatter the LSTM.
    """
    best = 0.0
    for size in sizes:
        a, b = torch.randn(size, size), torch.randn(size, size)
        kernels = [lambda: a @ b]
        if torch.backends.mkldnn.is_available():
            from torch.utils import mkldnn

            linear = mkldnn.to_mkldnn(nn.Linear(size, size, bias=False))
            a_dnn = a.to_mkldnn()
            kernels.append(lambda: linear(a_dnn))
        for kernel in kernels:
            kernel()  # warm up
            reps = max(2, int(2e10 / size**3))
            start = time.perf_counter()
            for _ in range(reps):
                kernel()
            best = max(best, 2 * size**3 * reps / (time.perf_counter() - start) / 1e9)
    return best


def lstm_gflops(task: TextGenTask, reps: int = 5) -> float:
    """GFLOP/s of forward + backward through the recurrent stack alone."""
    m, d = task.recipe.model, task.recipe.data
    batch, steps = task.recipe.train.batch_size, d.seq_len
    model = task.build_model()
    encoder = model.encoder
    sizes = [m.embedding_dim] + [m.hidden_size] * (m.num_layers - 1)
    # 4 gates x (input + recurrent) multiply-adds, x2 flops each, x3 for forward + backward
    flops = sum(3 * 2 * batch * steps * 4 * m.hidden_size * (i + m.hidden_size) for i in sizes)
    x = torch.randn(batch, steps, m.embedding_dim, requires_grad=True)
    encoder(x).sum().backward()
    start = time.perf_counter()
    for _ in range(reps):
        encoder(x).sum().backward()
    return flops * reps / (time.perf_counter() - start) / 1e9


def generate_rate(task: TextGenTask, length: int) -> float:
    model = task.build_model().eval()
    prompt = task.encode("ROMEO:")
    model.generate(prompt, max_new_tokens=10)  # warm up, as for the naive loop
    start = time.perf_counter()
    model.generate(prompt, max_new_tokens=length, temperature=1.0, generator=torch.Generator().manual_seed(0))
    return length / (time.perf_counter() - start)


def batched_generate_rate(task: TextGenTask, length: int, batch: int = 64) -> float:
    """Characters/s of one ``generate`` call sampling ``batch`` texts at once."""
    model = task.build_model().eval()
    prompt = task.encode("ROMEO:").expand(batch, -1)  # (T,) -> (B, T)
    model.generate(prompt, max_new_tokens=10)  # warm up
    start = time.perf_counter()
    out = model.generate(prompt, max_new_tokens=length, temperature=1.0, generator=torch.Generator().manual_seed(0))
    return out.numel() / (time.perf_counter() - start)


def weight_bytes_per_token(task: TextGenTask) -> int:
    """fp32 bytes of the weights one generated token reads: every recurrent weight and bias, the head, one embedding row."""
    model = task.build_model()
    recurrent = sum(p.numel() for p in model.encoder.parameters())
    head = sum(p.numel() for p in model.head.parameters())
    return 4 * (recurrent + head + model.embedding.embedding_dim)


def last_level_cache_bytes() -> int:
    """The largest CPU cache's size from sysfs (0 where it cannot be read)."""
    sizes = [0]
    for entry in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = entry.read_text().strip().upper()
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        sizes.append(int(text.rstrip("KMG")) * scale if text.rstrip("KMG").isdigit() else 0)
    return max(sizes)


def read_bandwidth(nbytes: int, reps: int = 3) -> float:
    """Bytes/s of summing a float32 buffer of ``nbytes`` (best of ``reps``), with torch's threads as generation uses them."""
    buffer = torch.ones(nbytes // 4)  # written once, so every page is mapped before timing
    buffer.sum()
    loops = max(1, int(2e9 // nbytes))  # a small (cache-resident) buffer is summed many times per timing
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(loops):
            buffer.sum()
        best = min(best, (time.perf_counter() - start) / loops)
    return buffer.numel() * 4 / best


def memory_buffer_bytes() -> int:
    """At least 2 GiB and 8x the last-level cache, but no more than a quarter of the available memory."""
    wanted = max(2 << 30, 8 * last_level_cache_bytes())
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        available = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return wanted
    return max(min(wanted, available // 4), 256 << 20)


def naive_rate(task: TextGenTask, length: int) -> float:
    """Characters/s when each layer's ``nn.LSTM`` is called once per step, state carried by hand."""
    model = task.build_model().eval()
    generator = torch.Generator().manual_seed(0)
    token = task.encode("R")[None, :]  # (1, 1)
    states: list = [None] * len(model.encoder.layers)
    start = time.perf_counter()
    with torch.inference_mode():
        for step in range(-10, length):  # 10 untimed steps: oneDNN builds its kernels on first use
            if step == 0:
                start = time.perf_counter()
            h = model.embedding(token)  # (1, 1) -> (1, 1, E)
            for i, rnn in enumerate(model.encoder.layers):
                h, states[i] = rnn(h, states[i])  # (1, 1, F) -> (1, 1, H)
            probs = model.head(h[:, -1]).softmax(-1)  # (1, V)
            token = torch.multinomial(probs, 1, generator=generator)  # (1, 1)
    return length / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help=f"timed training steps per round (a multiple of {WARMUP})")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per measurement; the best counts")
    args = parser.parse_args()
    warmup = WARMUP
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        task = make_task(folder, warmup + args.steps)
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; model {task.recipe.model}")
        raw, trainer = 0.0, 0.0
        for _ in range(args.rounds):  # interleaved, so that background load hits both alike
            raw = max(raw, raw_rate(task, warmup + args.steps, warmup))
            trainer = max(trainer, trainer_rate(task, folder, warmup))
        print(f"training: raw loop {raw:,.0f} chars/s, seqtk trainer {trainer:,.0f} chars/s")
        loose = make_task(folder, warmup + args.steps, deterministic=False)
        free = max(trainer_rate(loose, folder, warmup) for _ in range(args.rounds))
        print(f"  (diagnostic) seqtk trainer with train.deterministic = false: {free:,.0f} chars/s")
        peak = max(gemm_gflops() for _ in range(args.rounds))
        lstm = max(lstm_gflops(task) for _ in range(args.rounds))
        print(f"GEMM peak {peak:,.1f} GFLOP/s; LSTM training {lstm:,.1f} GFLOP/s")
        gen = max(generate_rate(task, 500) for _ in range(args.rounds))
        naive = max(naive_rate(task, 200) for _ in range(args.rounds))
        print(f"generation at batch 1: CharLM.generate {gen:,.0f} chars/s, nn.LSTM per step {naive:,.0f} chars/s")
        per_token = weight_bytes_per_token(task)
        size = memory_buffer_bytes()
        memory = read_bandwidth(size, reps=args.rounds)
        cache = max(read_bandwidth(per_token) for _ in range(args.rounds))
        print(f"weights read per token {per_token / 1e6:.2f} MB (fp32); read bandwidth over {size / 2**30:.1f} GiB "
              f"{memory / 1e9:.1f} GB/s -> bound {memory / per_token:,.0f} chars/s; "
              f"generate reads {gen * per_token / 1e9:.1f} GB/s")
        print(f"  (diagnostic) over a buffer of the weights' size (last-level cache "
              f"{last_level_cache_bytes() / 2**20:.0f} MiB): {cache / 1e9:.1f} GB/s -> bound "
              f"{cache / per_token:,.0f} chars/s, generate at {gen * per_token / cache:.2f} of it")
        batched = max(batched_generate_rate(task, 200) for _ in range(args.rounds))
        print(f"generation at batch 64: {batched:,.0f} chars/s ({batched / gen:.1f}x batch 1)")
    result = {
        "trainer_vs_raw": round(trainer / raw, 3),
        "lstm_peak_fraction": round(lstm / peak, 3),
        "generate_vs_naive_step": round(gen / naive, 2),
        "generate_vs_bandwidth_bound": round(gen * per_token / memory, 3),
        "generate_batch64_vs_batch1": round(batched / gen, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
