"""seqtk against Keras 3 on TensorFlow: the same workloads, one thread each, in one benchmark run.

Each workload is built twice, with seqtk's own pieces on PyTorch and as a
Keras user would write it; the Keras side runs in a subprocess of this run
(``--keras-python``, default: this interpreter), so the two never share a
process or a thread pool. Both sides get one thread (``torch.set_num_threads(1)``;
TensorFlow's intra- and inter-op pools of 1 and XLA's own Eigen pool off), and
they take turns: every round times each workload on seqtk, then on Keras
(``train_on_batch`` / ``predict_on_batch`` as compiled by default, which on a
CPU-only machine is a TF graph without XLA), then on Keras with
``jit_compile=True`` (XLA). Each rate is the best of the rounds, which filters
out other processes' load; the ratio is seqtk over the better Keras variant.
Inputs are synthetic with a fixed seed (speed does not depend on them):

- ``sentiment_T256`` / ``sentiment_T64``: the lectures' sentiment model,
  Embedding(10000, 32) -> GRU(64, return_sequences) -> GRU(64) -> Dense(1,
  sigmoid), binary cross-entropy, Adam, batch 32 of full-length sequences;
  training examples/s. seqtk: ``nn.Embedding``, a
  :class:`seqtk.nn.encoders.StackedEncoder` of two ``LayerSpec("gru", 64)`` (the
  last with ``return_sequences=False``), a Linear head, BCE on the logit.
- ``charlm_train``: the sizes of ``recipes/textgen_shakespeare.toml`` with LSTM layers
  (Embedding(83, 64) -> 2 x LSTM(384) -> Dense(83)), batch 32 x 128
  characters, cross-entropy at every position, Adam; training tokens/s.
  seqtk: :class:`seqtk.nn.lm.CharLM`.
- ``charlm_infer``: the same model, forward only (``torch.inference_mode`` /
  ``predict_on_batch``); tokens/s.
- ``mnist_rows``: LSTM(128) over the 28 rows of 28 pixels, Dense(10), batch
  128, cross-entropy, Adam; training examples/s. seqtk:
  ``seqtk_plugins.pixel_mnist.model.PixelClassifier``.
- ``generate_b1`` / ``generate_b64``: characters/s of sampling 500 characters
  from the char LM (temperature 1) for 1 or 64 prompts at once. seqtk:
  ``CharLM.generate`` as a user calls it, on int8 weights
  (``DecodeSettings(quantize="int8")``; their quality cost is in
  docs/performance.md), and in the ``seqtk_fp32`` column on float32 weights
  (the default route, exact to rounding), whose ratio is
  ``generate_b*_fp32_vs_keras``. Keras: the whole loop in one ``tf.function``
  (embedding row, the two ``LSTMCell`` s stepped with their states carried,
  Dense, ``tf.random.stateless_categorical``), as a Keras user would write it
  for speed; and the same with ``jit_compile=True``.

The seqtk side flushes subnormal floats to zero, as ``seqtk run`` does on a
CPU (``train.flush_denormal``, default on) and as TensorFlow's kernels do.
``seqtk_subnormal`` is a diagnostic column: the seqtk side again without
flushing, as plain PyTorch runs. Backpropagating through a long sequence (the
sentiment model at T=256) drives gradients into the subnormal range, where x86
arithmetic is many times slower; this column shows what flushing is worth.

Both sides train with a plain step (forward, backward, Adam; no clipping), the
seqtk side with fused Adam and ``seqtk.runtime.device.tune_allocator()`` as ``seqtk
run`` sets them up. A diagnostic column shows each side's CPU seconds per wall
second, to confirm that each stays on one core.

TensorFlow is not a seqtk dependency. Install it beside seqtk
(``pip install "seqtk[keras]"``) or, to keep TensorFlow's numpy and protobuf
pins out of seqtk's environment, into a separate interpreter and pass that::

    python -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu
    python bench/vs_keras.py --keras-python /tmp/tf/bin/python

Without TensorFlow the script says so, times the seqtk side alone and still
ends with its JSON line (the ratios then null).

Run: ``python bench/vs_keras.py [--rounds 3] [--only charlm_train,generate_b1]``
(about 3 minutes on 2 CPU cores). The last line printed is one
JSON object: ``<workload>_vs_keras`` ratios, and the raw rates under ``rates``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

# Shared by both sides (the Keras worker imports neither torch nor seqtk).
SENTIMENT = {"vocab": 10_000, "embed": 32, "hidden": 64, "batch": 32}
CHARLM = {"vocab": 83, "embed": 64, "hidden": 384, "layers": 2, "batch": 32, "steps": 128}  # overwritten from the recipe
MNIST = {"rows": 28, "cols": 28, "hidden": 128, "classes": 10, "batch": 128}
GEN_LENGTH = 500
# Timed steps (calls) per round and workload; warmup steps are extra and untimed.
STEPS = {"sentiment_T256": 6, "sentiment_T64": 16, "charlm_train": 3, "charlm_infer": 8, "mnist_rows": 12, "generate_b1": 3,
         "generate_b64": 1}  # fmt: skip
WARMUP = 2
UNITS = {"sentiment_T256": "examples/s", "sentiment_T64": "examples/s", "charlm_train": "tokens/s",
         "charlm_infer": "tokens/s", "mnist_rows": "examples/s", "generate_b1": "chars/s", "generate_b64": "chars/s"}  # fmt: skip
VARIANTS = ("keras", "keras_xla")  # the Keras worker's names: default compile (TF graph), jit_compile=True


# ------------------------------------------------------------------------------------------------
# The Keras side: a worker process that answers one JSON request per line
# ------------------------------------------------------------------------------------------------
def worker() -> None:
    """Serve ``{"op": "rate", "workload": ..., "variant": ..., "steps": n}`` requests on stdin."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)  # replies only; anything TF or Keras prints goes to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def reply(obj: dict[str, Any]) -> None:
        proto.write(json.dumps(obj) + "\n")

    try:
        import keras
        import numpy as np
        import tensorflow as tf
    except ImportError as err:
        reply({"error": f"{type(err).__name__}: {err}"})
        return
    if int(keras.__version__.split(".")[0]) < 3:
        reply({"error": f"Keras {keras.__version__} found; this benchmark needs Keras 3"})
        return
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    reply({"ok": True, "versions": f"tensorflow {tf.__version__}, keras {keras.__version__} ({keras.backend.backend()})"})
    side = KerasSide(keras, tf, np)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "quit":
            break
        try:
            reply(side.rate(request["workload"], request["variant"], request["steps"]))
        except Exception as err:  # noqa: BLE001 - reported to the parent, which prints it and goes on
            reply({"error": f"{type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}"})


class KerasSide:
    """Keras models and inputs, built on first use per (workload, variant) and warmed up then."""

    def __init__(self, keras: Any, tf: Any, np: Any) -> None:
        self.keras, self.tf, self.np = keras, tf, np
        self.runners: dict[tuple[str, str], Callable[[], int]] = {}

    def rate(self, workload: str, variant: str, steps: int) -> dict[str, float]:
        key = (workload, variant)
        if key not in self.runners:
            self.keras.utils.set_random_seed(0)
            self.runners[key] = getattr(self, f"_build_{workload.split('_')[0]}")(workload, variant == "keras_xla")
            for _ in range(WARMUP):  # the first call traces (and compiles, with XLA)
                self.runners[key]()
        run = self.runners[key]
        cpu, start = time.process_time(), time.perf_counter()
        count = sum(run() for _ in range(steps))
        wall = time.perf_counter() - start
        return {"rate": count / wall, "cpu": (time.process_time() - cpu) / wall}

    def _compile(self, model: Any, loss: Any, xla: bool) -> Any:
        model.compile(optimizer=self.keras.optimizers.Adam(1e-3), loss=loss, jit_compile=xla)
        return model

    def _trainer(self, model: Any, batches: list[tuple[Any, Any]], count: int) -> Callable[[], int]:
        cycle = iter(range(1 << 62))

        def step() -> int:
            x, y = batches[next(cycle) % len(batches)]
            model.train_on_batch(x, y)
            return count

        return step

    def _build_sentiment(self, workload: str, xla: bool) -> Callable[[], int]:
        keras, tf, np, s = self.keras, self.tf, self.np, SENTIMENT
        steps = int(workload.split("_T")[1])
        model = keras.Sequential([
            keras.Input((steps,), dtype="int32"),
            keras.layers.Embedding(s["vocab"], s["embed"]),
            keras.layers.GRU(s["hidden"], return_sequences=True),
            keras.layers.GRU(s["hidden"]),
            keras.layers.Dense(1, activation="sigmoid"),
        ])  # fmt: skip
        self._compile(model, "binary_crossentropy", xla)
        rng = np.random.default_rng(0)
        batches = [(tf.constant(rng.integers(1, s["vocab"], (s["batch"], steps), dtype=np.int32)),
                    tf.constant(rng.integers(0, 2, (s["batch"], 1)).astype(np.float32))) for _ in range(4)]  # fmt: skip
        return self._trainer(model, batches, s["batch"])

    def _charlm(self) -> Any:
        keras, c = self.keras, CHARLM
        layers = [keras.Input((c["steps"],), dtype="int32"), keras.layers.Embedding(c["vocab"], c["embed"])]
        layers += [keras.layers.LSTM(c["hidden"], return_sequences=True) for _ in range(c["layers"])]
        return keras.Sequential([*layers, keras.layers.Dense(c["vocab"])])

    def _lm_batches(self) -> list[tuple[Any, Any]]:
        np, tf, c = self.np, self.tf, CHARLM
        rng = np.random.default_rng(0)
        ids = [rng.integers(0, c["vocab"], (c["batch"], c["steps"] + 1), dtype=np.int32) for _ in range(4)]
        return [(tf.constant(i[:, :-1]), tf.constant(i[:, 1:])) for i in ids]

    def _build_charlm(self, workload: str, xla: bool) -> Callable[[], int]:
        c = CHARLM
        model = self._compile(self._charlm(), self.keras.losses.SparseCategoricalCrossentropy(from_logits=True), xla)
        batches = self._lm_batches()
        if workload == "charlm_train":
            return self._trainer(model, batches, c["batch"] * c["steps"])
        x = batches[0][0]

        def infer() -> int:
            model.predict_on_batch(x)
            return c["batch"] * c["steps"]

        return infer

    def _build_mnist(self, workload: str, xla: bool) -> Callable[[], int]:
        keras, np, tf, m = self.keras, self.np, self.tf, MNIST
        model = keras.Sequential([
            keras.Input((m["rows"], m["cols"])),
            keras.layers.LSTM(m["hidden"]),
            keras.layers.Dense(m["classes"]),
        ])  # fmt: skip
        self._compile(model, keras.losses.SparseCategoricalCrossentropy(from_logits=True), xla)
        rng = np.random.default_rng(0)
        batches = [(tf.constant(rng.random((m["batch"], m["rows"], m["cols"]), dtype=np.float32)),
                    tf.constant(rng.integers(0, m["classes"], m["batch"], dtype=np.int32))) for _ in range(4)]  # fmt: skip
        return self._trainer(model, batches, m["batch"])

    def _build_generate(self, workload: str, xla: bool) -> Callable[[], int]:
        tf, c = self.tf, CHARLM
        batch = int(workload.split("_b")[1])
        model = self._charlm()
        embedding, *rnns, head = model.layers
        cells = [rnn.cell for rnn in rnns]

        @tf.function(jit_compile=xla)
        def sample(token: Any, seed: Any, length: Any) -> Any:
            # (B,) int32 -> (length, B) int32: the stepping loop, traced once into a graph (or one XLA cluster)
            states = [[tf.zeros((batch, c["hidden"])), tf.zeros((batch, c["hidden"]))] for _ in cells]
            out = tf.TensorArray(tf.int32, size=length)
            for t in tf.range(length):
                h = embedding(token)  # (B,) -> (B, E)
                new_states = []
                for cell, state in zip(cells, states, strict=True):
                    h, state = cell(h, state)  # (B, F), [(B, H), (B, H)] -> (B, H), [(B, H), (B, H)]
                    new_states.append(list(state))
                states = new_states
                logits = head(h)  # (B, V)
                token = tf.random.stateless_categorical(logits, 1, seed=tf.stack([seed, t]), dtype=tf.int32)[:, 0]
                out = out.write(t, token)
            return out.stack()

        calls = iter(range(1 << 62))

        def generate() -> int:
            sample(tf.ones((batch,), tf.int32), tf.constant(next(calls), tf.int32), tf.constant(GEN_LENGTH)).numpy()
            return batch * GEN_LENGTH

        return generate


# ------------------------------------------------------------------------------------------------
# The seqtk side
# ------------------------------------------------------------------------------------------------
def seqtk_runners() -> dict[str, Callable[[], int]]:
    """One callable per workload: runs one step (or one generation) and returns how many units it did."""
    import torch
    from torch import nn

    from seqtk.nn.encoders import LayerSpec, StackedEncoder
    from seqtk.nn.lm import CharLM, uniform_layers
    from seqtk.nn.steppers import DecodeSettings
    from seqtk_plugins.pixel_mnist.model import PixelClassifier

    class Sentiment(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            s = SENTIMENT
            self.embedding = nn.Embedding(s["vocab"], s["embed"])
            self.encoder = StackedEncoder(
                s["embed"], [LayerSpec("gru", s["hidden"]), LayerSpec("gru", s["hidden"], return_sequences=False)]
            )
            self.head = nn.Linear(s["hidden"], 1)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            # (B, T) -> (B,) logits
            return self.head(self.encoder(self.embedding(ids))).squeeze(-1)

    def trainer(model: nn.Module, loss_of: Callable, batches: list, count: int) -> Callable[[], int]:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # as seqtk.training.optim builds it
        model.train()
        cycle = iter(range(1 << 62))

        def step() -> int:
            x, y = batches[next(cycle) % len(batches)]
            loss = loss_of(model, x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return count

        return step

    gen = torch.Generator().manual_seed(0)
    runners: dict[str, Callable[[], int]] = {}
    bce = nn.BCEWithLogitsLoss()
    for steps in (256, 64):
        torch.manual_seed(0)
        s = SENTIMENT
        batches = [(torch.randint(1, s["vocab"], (s["batch"], steps), generator=gen),
                    torch.randint(0, 2, (s["batch"],), generator=gen).float()) for _ in range(4)]  # fmt: skip
        runners[f"sentiment_T{steps}"] = trainer(Sentiment(), lambda m, x, y: bce(m(x), y), batches, s["batch"])

    c = CHARLM
    torch.manual_seed(0)
    lm = CharLM(c["vocab"], c["embed"], uniform_layers("lstm", c["hidden"], c["layers"]))
    ids = [torch.randint(0, c["vocab"], (c["batch"], c["steps"] + 1), generator=gen) for _ in range(4)]
    lm_batches = [(i[:, :-1], i[:, 1:]) for i in ids]
    runners["charlm_train"] = trainer(lm, lambda m, x, y: m(x, targets=y)[1], lm_batches, c["batch"] * c["steps"])
    infer_lm = CharLM(c["vocab"], c["embed"], uniform_layers("lstm", c["hidden"], c["layers"])).eval()

    def infer() -> int:
        with torch.inference_mode():
            infer_lm(lm_batches[0][0])
        return c["batch"] * c["steps"]

    runners["charlm_infer"] = infer

    m = MNIST
    torch.manual_seed(0)
    mnist = PixelClassifier(m["cols"], [LayerSpec("lstm", m["hidden"])], m["classes"])
    images = [(torch.rand(m["batch"], m["rows"], m["cols"], generator=gen),
               torch.randint(0, m["classes"], (m["batch"],), generator=gen)) for _ in range(4)]  # fmt: skip
    ce = nn.CrossEntropyLoss()
    runners["mnist_rows"] = trainer(mnist, lambda model, x, y: ce(model(x), y), images, m["batch"])

    def generate(batch: int, decoding: DecodeSettings) -> Callable[[], int]:
        prompts = torch.ones(batch, 1, dtype=torch.long)

        def run() -> int:
            infer_lm.generate(prompts, max_new_tokens=GEN_LENGTH, temperature=1.0, generator=gen, decoding=decoding)
            return batch * GEN_LENGTH

        return run

    for batch in (1, 64):
        runners[f"generate_b{batch}"] = generate(batch, DecodeSettings(quantize="int8"))
        runners[f"generate_b{batch}_fp32"] = generate(batch, DecodeSettings())
    return runners


def seqtk_rate(run: Callable[[], int], steps: int, flush_denormal: bool = False) -> dict[str, float]:
    import torch

    torch.set_flush_denormal(flush_denormal)  # this thread's FTZ/DAZ bits; with 1 torch thread every kernel runs here
    try:
        cpu, start = time.process_time(), time.perf_counter()
        count = sum(run() for _ in range(steps))
        wall = time.perf_counter() - start
    finally:
        torch.set_flush_denormal(False)
    return {"rate": count / wall, "cpu": (time.process_time() - cpu) / wall}


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------
class KerasProcess:
    """The worker subprocess, or None from ``start`` when its interpreter cannot run Keras 3 on TensorFlow."""

    def __init__(self, proc: subprocess.Popen, versions: str) -> None:
        self.proc, self.versions = proc, versions

    @classmethod
    def start(cls, python: str) -> tuple[KerasProcess | None, str]:
        env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
               "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": ""}  # fmt: skip
        # XLA's CPU backend runs its own Eigen thread pool unless told not to.
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
        try:
            proc = subprocess.Popen([python, os.path.abspath(__file__), "--worker"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)  # fmt: skip
        except OSError as err:
            return None, f"cannot run {python}: {err}"
        line = proc.stdout.readline() if proc.stdout else ""
        hello = json.loads(line) if line.strip() else {"error": f"{python} exited with code {proc.wait()}"}
        if "error" in hello:
            proc.wait()
            return None, hello["error"]
        return cls(proc, hello["versions"]), ""

    def rate(self, workload: str, variant: str, steps: int) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"op": "rate", "workload": workload, "variant": variant, "steps": steps}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        return json.loads(line) if line.strip() else {"error": f"the Keras worker exited (code {self.proc.wait()})"}

    def close(self) -> None:
        if self.proc.poll() is None and self.proc.stdin:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
        self.proc.wait()


def read_charlm_recipe() -> None:
    """The char LM's sizes from ``recipes/textgen_shakespeare.toml`` (its vocabulary: the plays' 83 symbols)."""
    from seqtk.config.recipe_io import read_toml
    from seqtk.config.recipes import locate

    raw = read_toml(locate("textgen_shakespeare"))
    model, data, train = raw["model"], raw["data"], raw["train"]
    # the recipe's sizes with LSTM layers, whatever its cell: Keras has no layer-normalised LSTM to race
    CHARLM.update(embed=model["embedding_dim"], hidden=model["hidden_size"], layers=model["num_layers"],
                  batch=train["batch_size"], steps=data["seq_len"])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best counts")
    parser.add_argument("--keras-python", default=sys.executable, help="the interpreter that runs the Keras side")
    parser.add_argument("--only", default="", help=f"comma-separated workloads (default all: {', '.join(STEPS)})")
    parser.add_argument("--no-xla", action="store_true", help="skip the jit_compile=True variant")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    names = [n for n in args.only.split(",") if n] or list(STEPS)
    unknown = sorted(set(names) - set(STEPS))
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")

    import torch

    from seqtk.runtime.device import tune_allocator

    torch.set_num_threads(1)
    tune_allocator()  # as seqtk run does
    read_charlm_recipe()
    keras, why = KerasProcess.start(args.keras_python)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread; "
          f"{keras.versions if keras else 'Keras side not run'}; char LM {CHARLM}")  # fmt: skip
    if keras is None:
        print(f"note: {args.keras_python} cannot run the Keras side ({why}). TensorFlow is an optional extra; "
              "install it into a separate environment and point the benchmark at it:\n"
              "  python -m venv /tmp/tf && /tmp/tf/bin/pip install tensorflow-cpu\n"
              f"  python {sys.argv[0]} --keras-python /tmp/tf/bin/python\n"
              "Timing the seqtk side only.")  # fmt: skip
    variants = () if keras is None else VARIANTS[:1] if args.no_xla else VARIANTS
    runners = seqtk_runners()
    for name in names:
        for _ in range(WARMUP):
            runners[name]()
            if f"{name}_fp32" in runners:
                runners[f"{name}_fp32"]()
    sides = ("seqtk", "seqtk_subnormal", "seqtk_fp32", *variants)
    best: dict[str, dict[str, dict[str, float] | None]] = {n: dict.fromkeys(sides) for n in names}
    failed: dict[tuple[str, str], str] = {}
    try:
        for r in range(args.rounds):  # interleaved, so that background load hits every side alike
            for name in names:
                results = {"seqtk": seqtk_rate(runners[name], STEPS[name], flush_denormal=True),
                           "seqtk_subnormal": seqtk_rate(runners[name], STEPS[name])}  # fmt: skip
                if f"{name}_fp32" in runners:  # generation: float32 weights beside the int8 row
                    results["seqtk_fp32"] = seqtk_rate(runners[f"{name}_fp32"], STEPS[name], flush_denormal=True)
                for variant in variants:
                    if (name, variant) not in failed and keras is not None:
                        results[variant] = keras.rate(name, variant, STEPS[name])
                for side, res in results.items():
                    if "error" in res:
                        failed[(name, side)] = res["error"]
                        print(f"  {name} {side}: failed, {res['error']}")
                    elif best[name][side] is None or res["rate"] > best[name][side]["rate"]:
                        best[name][side] = res
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    finally:
        if keras is not None:
            keras.close()

    print(f"{'workload':16s} {'unit':11s} " + " ".join(f"{s:>16s}" for s in sides) + "   seqtk (seqtk_subnormal) / best Keras")
    ratios: dict[str, float | None] = {}
    rates: dict[str, dict[str, Any]] = {}
    for name in names:
        row = best[name]
        keras_best = max((row[v]["rate"] for v in variants if row[v]), default=None)
        ratio = row["seqtk"]["rate"] / keras_best if keras_best and row["seqtk"] else None
        ftz = row["seqtk_subnormal"]["rate"] / keras_best if keras_best and row["seqtk_subnormal"] else None
        ratios[f"{name}_vs_keras"] = None if ratio is None else round(ratio, 2)
        if row["seqtk_fp32"] is not None:
            exact = row["seqtk_fp32"]["rate"] / keras_best if keras_best else None
            ratios[f"{name}_fp32_vs_keras"] = None if exact is None else round(exact, 2)
        rates[name] = {"unit": UNITS[name]} | {s: None if row[s] is None else round(row[s]["rate"], 1) for s in sides}
        cells = " ".join(f"{'-':>16s}" if row[s] is None else f"{row[s]['rate']:10,.0f} ({row[s]['cpu']:.2f})"
                         for s in sides)  # fmt: skip
        print(f"{name:16s} {UNITS[name]:11s} {cells}   {'-' if ratio is None else f'{ratio:.2f}'}"
              f"{'' if ftz is None else f' ({ftz:.2f})'}")  # fmt: skip
    print("(in brackets: CPU seconds per wall second of that side, ~1.0 for one busy thread)")
    print(json.dumps({**ratios, "rates": rates}))


if __name__ == "__main__":
    main()
