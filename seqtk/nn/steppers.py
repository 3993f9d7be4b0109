"""How :meth:`seqtk.nn.lm.CharLM.generate` takes one step after the prompt: the routes and the choice.

- ``eager``: the cells' written-out equations on PyTorch's kernels (:class:`EagerStepper`), on any device
  and for every cell.
- ``onnx``: the whole step as one onnxruntime call on a graph built from the weights
  (:mod:`seqtk.nn.step_graph`), float32 or int8 (:class:`OnnxStepper`). On a CPU at batch 1 it is several
  times faster (docs/performance.md). The session is built once per model and weights, in milliseconds,
  and kept on the model until its weights change.
- ``graph``: the eager step's math on static buffers, captured in a CUDA graph on a GPU
  (:mod:`seqtk.nn.graph_step`): one launch per token instead of ~25; on a CPU the same code runs uncaptured.
- ``auto`` (the default): on a GPU ``graph``; on a CPU ``onnx`` where it applies (cells that all have a
  graph builder, onnxruntime installed); otherwise ``eager`` with a one-line :class:`DecodeFallback`
  warning saying why.

Every route computes the same function; float32 results differ only by rounding (greedy decoding gives
the same tokens, which tests/nn/test_steppers.py and test_graph_step.py hold), and the sampling noise comes
from the caller's generator in the order ``torch.multinomial`` would draw it, so a seed gives the same sample
on every route.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkError, SeqtkValueError
from seqtk.nn.cell_kinds import CellLayer
from seqtk.nn.cell_step import CellStep, _cell_of
from seqtk.nn.decode_fallback import DecodeFallback, fallback_fix, warn_once  # noqa: F401 - DecodeFallback, fallback_fix: imported from here
from seqtk.nn.graph_step import GraphStepper
from seqtk.nn.recurrent_cell import RecurrentCell
from seqtk.nn.weights_cache import cached, keep

ROUTES = ("auto", "eager", "onnx", "graph")
LOOP_MIN_STEPS = 8  # sample_run loops in onnxruntime from this many steps (a Loop call costs ~10 µs more than a step)
LOOP_CHUNK = 64  # steps per Loop call: the race noise's chunk, so a call's noise spans at most two blocks
PROMPT_STEPS_MAX = 128  # prompt tokens x rows (rows of one length) fed through the onnxruntime step, not the encoder
QUANTIZE = (None, "int8")
StepState = tuple[Tensor, ...]  # (h,) or (h, c), each (B, H)


@dataclass(frozen=True)
class DecodeSettings:
    """How a language model decodes: ``route`` (auto/eager/onnx/graph) and ``quantize`` (None or ``"int8"``).

    >>> DecodeSettings(quantize="int8").route
    'auto'
    """

    route: str = "auto"
    quantize: str | None = None

    def __post_init__(self) -> None:
        if self.route not in ROUTES:
            raise SeqtkValueError(f"decoding route {self.route!r} is not one of {', '.join(ROUTES)}",
                                  fix="use route='auto' (the fast step where it applies), 'onnx', 'graph' or 'eager'")  # fmt: skip
        if self.quantize not in QUANTIZE:
            raise SeqtkValueError(f"quantize={self.quantize!r} is not supported",
                                  fix="use quantize='int8' for int8 weights, or None for float32")  # fmt: skip
        if self.quantize and self.route in ("eager", "graph"):
            raise SeqtkValueError(f"int8 weights need the onnx decoding route, and route={self.route!r} was asked for",
                                  fix="use route='auto' (or 'onnx') with quantize='int8', or drop quantize")  # fmt: skip


@dataclass(frozen=True)
class Route:
    """The route one ``generate`` call took: ``name`` (eager/onnx/graph), ``quantize``, the seconds spent building
    the onnxruntime session (0 when it was cached or eager) and, after a fallback, why."""

    name: str
    quantize: str | None = None
    build_seconds: float = 0.0
    note: str | None = None

    def describe(self) -> str:
        if self.name == "graph":
            return "CUDA graph step" if self.note is None else f"static-buffer step, not captured ({self.note})"
        if self.name == "eager":
            return "eager PyTorch step" + (f" ({self.note})" if self.note else "")
        built = f", session built in {self.build_seconds * 1e3:.0f} ms" if self.build_seconds else ", session cached"
        return f"onnxruntime step, {self.quantize or 'float32'} weights{built}"


def layer_cells(layers: Sequence[nn.Module]) -> list[RecurrentCell]:
    """The reference cell of each unidirectional layer: a CellLayer's own, or a fused module's equations
    with its weights copied (made without autograd)."""
    return [layer.directions[0] if isinstance(layer, CellLayer) else _cell_of(layer) for layer in layers]


class EagerStepper:
    """One step on PyTorch's kernels through :class:`seqtk.nn.lm.CellStep` s; keeps the state.

    # token (B,) -> logits (B, V)
    """

    def __init__(self, lm: nn.Module, state: list[StepState], table: bool) -> None:
        self.lm, self.hidden = lm, list(state)
        self.steps = [CellStep(rnn) for rnn in lm.encoder.layers]  # the fused weights, copied once per call
        # Projecting the whole vocabulary once turns the first layer's input matmul into a row lookup.
        self.table = self.steps[0].project(lm.embedding.weight) if table else None

    def state(self) -> list[StepState]:
        return list(self.hidden)

    def __call__(self, token: Tensor) -> Tensor:
        # (B,) -> (B, V)
        first = self.steps[0]
        h = self.table.index_select(0, token) if self.table is not None else first.project(self.lm.embedding(token))
        for i, step in enumerate(self.steps):
            h, self.hidden[i] = step(h if i == 0 else step.project(h), self.hidden[i])  # (B, G) -> (B, H)
        return self.lm.head(h)


class OnnxStepper:
    """One step as one onnxruntime call; keeps the state in numpy buffers between calls.

    Two I/O bindings are made once, each reading the state from one pair of buffers and writing the new state
    into the other, and the step alternates between them: no array is allocated or copied per token (a third
    of the step's time when each call built its inputs and outputs afresh). The logits come back in one
    buffer, shared with a tensor; it holds the last step's until the next call.

    # token (B,) -> logits (B, V)
    """

    def __init__(self, session: Any, state_names: list[str], state: list[StepState], vocab_size: int,
                 sampler: str | None = None, temperature: float = 1.0,
                 loop: Callable[[], Any] | None = None) -> None:  # fmt: skip
        import numpy as np

        self.session, self.state_names, self.sampler, self.loop = session, state_names, sampler, loop
        self.layer_parts = [len(layer) for layer in state]
        parts = [part.detach().float().cpu().numpy() for layer in state for part in layer]
        # copies: the steps write the state into these buffers, and the caller's tensors stay as they were
        self.buffers = [[np.array(p, copy=True, order="C") for p in parts], [np.empty_like(p) for p in parts]]
        batch = parts[0].shape[0]
        self.tokens = [np.zeros(batch, dtype=np.int64) for _ in range(2)]  # fed, and picked by the graph
        self.logits = np.empty((batch, vocab_size), dtype=np.float32)
        self.noise = np.ones((batch, vocab_size), dtype=np.float32)
        self.temperature = np.array([temperature], dtype=np.float32)
        self.bindings = [self._bind(k) for k in (0, 1)]
        self.current = 0  # the buffers that hold the state (and the token to feed) now
        self._logits = torch.from_numpy(self.logits)
        self._noise = torch.from_numpy(self.noise)

    def _bind(self, k: int) -> Any:
        binding = self.session.io_binding()
        binding.bind_cpu_input("token", self.tokens[k])
        if self.sampler in ("race", "race_tempered"):
            binding.bind_cpu_input("noise", self.noise)
        if self.sampler == "race_tempered":
            binding.bind_cpu_input("temperature", self.temperature)
        outputs = [*zip((f"{name}_out" for name in self.state_names), self.buffers[1 - k]), ("logits", self.logits)]
        if self.sampler:
            outputs.append(("next_token", self.tokens[1 - k]))
        for name, array in zip(self.state_names, self.buffers[k]):
            binding.bind_cpu_input(name, array)
        for name, array in outputs:
            binding.bind_output(name, "cpu", 0, array.dtype, list(array.shape), array.ctypes.data)
        return binding

    def state(self) -> list[StepState]:
        parts = iter(torch.from_numpy(part.copy()) for part in self.buffers[self.current])
        return [tuple(next(parts) for _ in range(size)) for size in self.layer_parts]

    def __call__(self, token: Tensor) -> Tensor:
        # (B,) -> (B, V)
        self.tokens[self.current][:] = token.numpy() if token.device.type == "cpu" else token.cpu().numpy()
        self.session.run_with_iobinding(self.bindings[self.current])
        self.current ^= 1
        return self._logits

    def sample(self, token: Tensor, noise: Tensor | None) -> Tensor:
        """Feed ``token`` (B,) and return the next one the graph picked (``noise`` (B, V): the race's draws)."""
        # (B,), (B, V) -> (B,)
        self.tokens[self.current][:] = token.numpy()
        if noise is not None:
            self._noise.copy_(noise)
        self.session.run_with_iobinding(self.bindings[self.current])
        self.current ^= 1
        return torch.from_numpy(self.tokens[self.current].copy())

    def sample_run(self, token: Tensor, steps: int, noise: Any) -> Tensor:
        """``steps`` tokens after ``token`` (B,), each picked in the graph and fed back, with nothing to do in
        between (no stop token, no callback): :meth:`sample` in a loop, without a tensor per token. ``noise``:
        a :class:`seqtk.nn.lm.RaceNoise`, or None for greedy. # (B,) -> (B, steps)"""
        import numpy as np

        if self.loop is not None and steps >= LOOP_MIN_STEPS:
            return self._loop_run(token, steps, noise)
        out = np.empty((steps, token.numel()), dtype=np.int64)
        self.tokens[self.current][:] = token.numpy()
        run, bindings, noise_buffer = self.session.run_with_iobinding, self.bindings, self.noise
        for t in range(steps):
            if noise is not None:
                np.copyto(noise_buffer, noise.next().float().numpy())
            run(bindings[self.current])
            self.current ^= 1
            out[t] = self.tokens[self.current]
        return torch.from_numpy(out.T.copy())

    def _loop_run(self, token: Tensor, steps: int, noise: Any) -> Tensor:
        """:meth:`sample_run` as onnxruntime ``Loop`` calls of up to ``LOOP_CHUNK`` steps each
        (:func:`seqtk.nn.step_loop.loop_graph`): the same nodes, so the same tokens, without a Python round
        trip per token. The state and the last token end in this stepper's buffers, as after per-step calls.
        # (B,) -> (B, steps)"""
        import numpy as np

        session = self.loop()
        finals = [f"{name}_final" for name in self.state_names]
        state, last = self.buffers[self.current], token.numpy().astype(np.int64)
        out = []
        while steps:
            count = min(LOOP_CHUNK, steps)
            feeds = {"steps": np.array(count, dtype=np.int64), "token_init": last}
            feeds.update({f"{name}_init": part for name, part in zip(self.state_names, state)})
            if noise is not None:
                feeds["noise_all"] = noise.take(count).float().numpy()  # bf16 noise under autocast
            if self.sampler == "race_tempered":
                feeds["temperature"] = self.temperature
            last, *state, tokens = session.run(["token_final", *finals, "tokens"], feeds)
            out.append(tokens)
            steps -= count
        for buffer, part in zip(self.buffers[self.current], state):
            np.copyto(buffer, part)
        self.tokens[self.current][:] = last
        return torch.from_numpy(np.concatenate(out).T.copy())


def stepper(lm: nn.Module, settings: DecodeSettings, state: list[StepState], table: bool,
            sampler: str | None = None, temperature: float = 1.0, shared: bool = True,
            ) -> tuple[EagerStepper | OnnxStepper | GraphStepper, Route]:  # fmt: skip
    """The stepper ``settings`` choose for ``lm`` from ``state`` (each layer's (h[, c])), and the route taken.

    ``sampler`` (``"greedy"``, ``"race"`` at temperature 1 or ``"race_tempered"`` at ``temperature``): an onnx
    stepper also picks the next token in its graph (:meth:`OnnxStepper.sample`); an eager one ignores it.
    ``shared`` False: a captured CUDA graph of its own, where by default one is kept per model, batch size and
    sampler and restarted by the next call (a caller that keeps several steppers open at once needs its own)."""
    device = lm.head.weight.device
    if settings.route == "graph" or (settings.route == "auto" and device.type == "cuda" and not settings.quantize):
        graph_step = _graph_stepper(lm, state, sampler, temperature) if shared else GraphStepper(lm, state, sampler, temperature)
        note = None if graph_step.captured else f"on {device.type} there is no CUDA graph to capture"
        return graph_step, Route("graph", note=note)
    why = _no_onnx(lm) if settings.route != "eager" else "route='eager'"
    if why is None:
        session, names, seconds = _session(lm, settings.quantize, sampler)
        # the loop's session is fetched within this generate call, right after the step's compared the weights
        loop = (lambda: _loop_session(lm, settings.quantize, sampler, checked=True)) if sampler else None
        onnx_step = OnnxStepper(session, names, state, lm.vocab_size, sampler, temperature, loop)
        return onnx_step, Route("onnx", settings.quantize, seconds)
    if settings.route == "onnx" or settings.quantize:
        what = "int8 weights need" if settings.quantize else "route='onnx' needs"
        raise SeqtkError(f"{what} the onnxruntime step, which this model cannot take: {why}",
                         fix=fallback_fix(why, settings.quantize))  # fmt: skip
    if settings.route == "auto":
        warn_once(lm, why)
    return EagerStepper(lm, state, table), Route("eager", note=None if settings.route == "eager" else why)


def score_steps(lm: nn.Module, idx: Tensor, state: Sequence[Any] | None, settings: DecodeSettings
                ) -> tuple[Tensor, list[Any]]:  # fmt: skip
    """Teacher-forced logits of ``idx`` through the stepper ``settings`` choose (how a quantized model scores
    text): (B, T) -> (B, T, V), and each layer's final state in the encoder's form (parts of (1, B, H))."""
    if state is None:
        hidden = zero_state(lm, idx.size(0))
    else:
        hidden = step_state(state)
    step, lm.last_route = stepper(lm, settings, hidden, table=True)
    logits = torch.stack([step(idx[:, t]).clone() for t in range(idx.size(1))], dim=1)  # the step reuses its buffer
    final = [tuple(part.unsqueeze(0) for part in layer) for layer in step.state()]
    return logits, [layer if len(layer) > 1 else layer[0] for layer in final]


def zero_state(lm: nn.Module, batch: int) -> list[StepState]:
    """Each layer's initial (h[, c]) for ``batch`` rows, as the steppers take it: zeros (B, H) on the CPU."""
    return [tuple(torch.zeros(batch, _hidden_size(layer)) for _ in range(_parts(layer))) for layer in lm.encoder.layers]


def prompt_by_steps(lm: nn.Module, settings: DecodeSettings, batch: int, length: int) -> bool:
    """Should ``batch`` prompts of ``length`` tokens go through the onnxruntime step rather than the fused
    encoder? Yes for short ones on the CPU: oneDNN's LSTM repacks its weights on every call, so a one-token
    prompt took 0.9 ms there against ~0.1 ms for a step (2x384 LSTM, batch 1, docs/performance.md), and the
    steps stay ahead up to about 128 tokens."""
    if settings.route not in ("auto", "onnx") or batch * length > PROMPT_STEPS_MAX:
        return False
    return _no_onnx(lm) is None


def step_state(state: Sequence[Any]) -> list[StepState]:
    """The encoder's final state (per layer a (1, B, H) tensor or a tuple of them) as the steppers take it:
    per layer a tuple of (B, H) parts."""
    return [tuple(part[0] for part in (layer if isinstance(layer, tuple) else (layer,))) for layer in state]


def cpu_session(model: bytes | str) -> Any:
    """An onnxruntime session on the CPU with seqtk's settings: as many threads as torch uses, and no
    busy-waiting (a spinning thread takes a core that other work on a shared machine needs)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _parts(layer: nn.Module) -> int:
    return layer.state_size if isinstance(layer, CellLayer) else 2 if isinstance(layer, nn.LSTM) else 1


def _hidden_size(layer: nn.Module) -> int:
    return layer.directions[0].hidden_size if isinstance(layer, CellLayer) else layer.hidden_size


def _no_onnx(lm: nn.Module) -> str | None:
    """Why the onnx route does not apply to ``lm`` (None when it does)."""
    from seqtk.nn.step_graph import head_unsupported, unsupported

    device = lm.head.weight.device
    if device.type != "cpu":
        return f"the model is on {device.type}, and the onnxruntime step runs on the CPU"
    try:
        import onnx  # noqa: F401 - step_graph builds with it
        import onnxruntime  # noqa: F401 - the session runs on it
    except ImportError as err:
        return f"{err.name} is not installed"
    if lm.head.weight.dtype != torch.float32:
        return f"the model's weights are {lm.head.weight.dtype}, and the step is built from float32 ones"
    why = head_unsupported(lm.head)
    if why:
        return why
    if any(getattr(layer, "proj_size", 0) for layer in lm.encoder.layers):
        return "a projected LSTM layer has no ONNX step"
    for layer in lm.encoder.layers:
        if isinstance(layer, CellLayer):
            why = unsupported(layer.directions[0])
            if why:
                return why
        elif not isinstance(layer, (nn.LSTM, nn.GRU, nn.RNN)):
            return f"the {type(layer).__name__} layer has no ONNX step"
    return None


def _graph_stepper(lm: nn.Module, state: list[StepState], sampler: str | None, temperature: float) -> GraphStepper:
    """A captured step kept per model, batch, sampler, temperature and weights (capturing costs a
    synchronisation, warm-up steps and the capture); a new call starts it from ``state``."""
    slot = ("graph", state[0][0].size(0), sampler, float(temperature), str(state[0][0].device))
    hit = cached(lm, slot)
    if hit is not None:
        hit.reset(state)
        return hit
    graph_step = GraphStepper(lm, state, sampler, temperature)
    return keep(lm, slot, graph_step) if graph_step.captured else graph_step


def _session(lm: nn.Module, quantize: str | None, sampler: str | None = None) -> tuple[Any, list[str], float]:
    """The onnxruntime session of ``lm``'s step: built on first use, kept until a weight or the thread count
    changes."""
    slot = (quantize, sampler, max(1, torch.get_num_threads()))
    hit = cached(lm, slot)
    if hit is not None:
        return hit[0], hit[1], 0.0
    from seqtk.nn.step_graph import step_graph

    start = time.perf_counter()
    graph = step_graph(lm.embedding, layer_cells(lm.encoder.layers), lm.head, quantize, sampler)
    session = cpu_session(graph.model.SerializeToString())
    keep(lm, slot, (session, graph.state_names))
    return session, graph.state_names, time.perf_counter() - start


def _loop_session(lm: nn.Module, quantize: str | None, sampler: str, checked: bool = False) -> Any:
    """The onnxruntime session of ``lm``'s step in a ``Loop`` (:func:`seqtk.nn.step_loop.loop_graph`), built on
    the first run of many steps and kept as :func:`_session` keeps the step's."""
    slot = ("loop", quantize, sampler, max(1, torch.get_num_threads()))
    hit = cached(lm, slot, checked)
    if hit is not None:
        return hit
    from seqtk.nn.step_graph import step_graph
    from seqtk.nn.step_loop import loop_graph

    graph = step_graph(lm.embedding, layer_cells(lm.encoder.layers), lm.head, quantize, sampler)
    return keep(lm, slot, cpu_session(loop_graph(graph).SerializeToString()))
