"""One step of a :class:`~seqtk.nn.lm.CharLM` as an ONNX graph, written from its cells' equations.

Generation at batch 1 is a chain of small matrix-vector products, and on a
CPU the time goes to PyTorch's per-op dispatch and to a matrix-vector kernel
that reads the weights slower than the cache delivers them (see
docs/performance.md). onnxruntime runs the same step as one call, with
kernels made for this shape, and can run it on int8 weights.

The graph is built here from the weights, node by node, in milliseconds and
without ``torch.onnx``; each supported cell has a builder that writes out its
own ``project``/``recur`` (the equations in :mod:`seqtk.nn.recurrent_cell`).
A cell whose class overrides those methods is not built: it has equations
this module does not know, and the caller steps it eagerly.

``quantize="int8"``: every weight matrix becomes int8 with one scale per
output column (symmetric, in [-63, 63]: seven bits, so that the u8 x s8 products
of x86 kernels without VNNI cannot saturate), and each product quantizes its
input on the fly (``com.microsoft.DynamicQuantizeMatMul``). Biases, layer
norms and the table of projected embeddings stay float32.

>>> from seqtk.nn.cells import GRUCell
>>> emb, head = torch.nn.Embedding(5, 3), torch.nn.Linear(4, 5)
>>> graph = step_graph(emb, [GRUCell(3, 4)], head)
>>> graph.state_names, [i.name for i in graph.model.graph.input]
(['h0'], ['token', 'h0'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from seqtk.nn.cells import ElmanCell, GRUCell, LSTMCell
from seqtk.nn.ln_lstm import EPS as LN_EPS
from seqtk.nn.ln_lstm import LayerNormLSTMCell
from seqtk.nn.recurrent_cell import RecurrentCell

QUANTIZE = (None, "int8")
SAMPLERS = (None, "greedy", "race", "race_tempered")
INT8_MAX = 63  # seven bits: 2 x 255 x 63 fits the int16 pair sums of VPMADDUBSW (AVX2 without VNNI)
TABLE_MAX_FLOATS = 16 * 2**20  # project the whole vocabulary once when the table stays under 64 MB
OPSET = 18


@dataclass
class StepGraph:
    """An ONNX model of one step: inputs ``token`` (B,) int64 and the state; outputs ``logits`` (B, V) and the
    new state, each state part (B, H_l) float32 named ``h0``, ``c0``, ``h1``, ... (outputs: ``h0_out``, ...)."""

    model: Any  # onnx.ModelProto
    state_names: list[str]
    state_sizes: list[int]
    nodes: list[Any] = field(default_factory=list, repr=False)
    initializers: list[Any] = field(default_factory=list, repr=False)


def unsupported(cell: RecurrentCell) -> str | None:
    """Why ``cell`` has no graph builder (None when it has one)."""
    if builder_for(cell) is not None:
        return None
    return f"the {type(cell).__name__} cell has no ONNX step"


def builder_for(cell: RecurrentCell) -> Callable[..., tuple[str, list[str]]] | None:
    """The builder whose equations ``cell`` runs: its class, or a subclass that keeps the equations (IRNN)."""
    for base, build in BUILDERS.items():
        kind = type(cell)
        if isinstance(cell, base) and kind.recur is base.recur and kind.project is base.project:
            return build
    return None


def head_unsupported(head: nn.Module) -> str | None:
    """Why the step graph cannot compute ``head`` (None when it can): see :func:`step_graph`."""
    if isinstance(head, nn.Linear) or isinstance(getattr(head, "proj", None), nn.Linear):
        return None
    if isinstance(getattr(head, "softmax", None), nn.AdaptiveLogSoftmaxWithLoss):
        return None
    return f"the {type(head).__name__} head has no ONNX step"


def _head(g: _Builder, head: nn.Module, x: str) -> str:
    """(B, H) -> (B, V): a linear head, a projected one (``proj`` to the embedding size, then ``out``), or an
    adaptive softmax's log-probabilities."""
    if isinstance(getattr(head, "softmax", None), nn.AdaptiveLogSoftmaxWithLoss):
        return _adaptive_log_prob(g, head.softmax, x)
    proj = getattr(head, "proj", None)
    if proj is not None:
        x, head = g.linear(x, proj.weight, proj.bias, "head_proj"), head.out
    return g.linear(x, head.weight, head.bias, "head")


def _adaptive_log_prob(g: _Builder, asm: nn.AdaptiveLogSoftmaxWithLoss, x: str) -> str:
    """``asm.log_prob``: (B, H) -> (B, V). The head's log-softmax gives the shortlist's log-probabilities and
    each cluster's; a word in cluster i adds its log-probability within the cluster (tail i's log-softmax)."""
    top = g.op("LogSoftmax", [g.linear(x, asm.head.weight, asm.head.bias, "asm_head")], axis=1)  # (B, S + C)
    short = asm.shortlist_size
    parts = [_columns(g, top, 0, short, "asm_short")]
    for i, (down, up) in enumerate(asm.tail):
        within = g.op("LogSoftmax", [g.linear(g.linear(x, down.weight, None, f"asm_tail{i}_down"),
                                              up.weight, None, f"asm_tail{i}_up")], axis=1)  # fmt: skip
        parts.append(g.op("Add", [within, _columns(g, top, short + i, short + i + 1, f"asm_cluster{i}")]))
    return g.op("Concat", parts, axis=1)


def _columns(g: _Builder, x: str, start: int, end: int, name: str) -> str:
    """Columns ``start:end`` of a (B, N) tensor."""
    bounds = [g.const(f"{name}_{part}", np.array([value], dtype=np.int64))
              for part, value in (("start", start), ("end", end), ("axis", 1))]  # fmt: skip
    return g.op("Slice", [x, *bounds])


def step_graph(
    embedding: nn.Embedding, cells: Sequence[RecurrentCell], head: nn.Module, quantize: str | None = None,
    sampler: str | None = None,
) -> StepGraph:
    """The step of embedding -> ``cells`` (one per layer, unidirectional) -> head, as an ONNX model.

    ``head`` is an ``nn.Linear``, a :class:`~seqtk.nn.lm.ProjectedHead` (its ``proj``, then its ``out``) or a
    :class:`~seqtk.nn.lm.AdaptiveHead` (its ``softmax``'s ``log_prob``: the "logits" are log-probabilities).

    ``sampler`` also picks the next token in the graph, output ``next_token`` (B,) int64: ``"greedy"`` (argmax);
    ``"race"``: input ``noise`` (B, V) of Exp(1) draws, and the token wins ``softmax(logits) / noise``, as
    :func:`seqtk.nn.lm.sample_next` picks it at temperature 1; ``"race_tempered"``: input ``temperature`` (1,)
    too, and ``softmax((logits - max) / temperature)`` races."""
    import onnx
    from onnx import TensorProto, helper

    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {QUANTIZE}, got {quantize!r}")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    g = _Builder(quantize)
    with torch.no_grad():
        first = cells[0]
        rows = embedding.num_embeddings * first.weight_ih.size(0)
        if rows <= TABLE_MAX_FLOATS:  # the first layer's input projection becomes a row lookup
            gates = _IFOG(first) if isinstance(first, LSTMCell) else first  # in the order its builder reads
            x_proj: str | None = g.op("Gather", [g.const("table", gates.project(embedding.weight)), "token"])
            x = None
        else:
            x_proj, x = None, g.op("Gather", [g.const("embedding", embedding.weight), "token"])
        names, sizes = [], []
        for n, cell in enumerate(cells):
            state = [f"{part}{n}" for part in "hc"[: cell.state_size]]
            build = builder_for(cell)
            assert build is not None, unsupported(cell)
            x, new = build(g, cell, f"l{n}", x, x_proj if n == 0 else None, state)
            for name, out in zip(state, new, strict=True):
                g.op("Identity", [out], f"{name}_out")
            names += state
            sizes += [cell.hidden_size] * cell.state_size
        logits = g.op("Identity", [_head(g, head, x)], "logits")
        if sampler == "greedy":
            g.op("ArgMax", [logits], "next_token", axis=1, keepdims=0)
        elif sampler:
            scaled = logits
            if sampler == "race_tempered":  # the maximum shifted to 0 first, as sample_next does
                top = g.op("ReduceMax", [logits, g.const("class_axis", np.array([1]))], keepdims=1)
                scaled = g.op("Div", [g.op("Sub", [logits, top]), "temperature"])
            race = g.op("Div", [g.op("Softmax", [scaled], axis=1), "noise"])
            g.op("ArgMax", [race], "next_token", axis=1, keepdims=0)
    inputs = [helper.make_tensor_value_info("token", TensorProto.INT64, ["B"])]
    inputs += [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["B", size]) for name, size in zip(names, sizes)]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B", head.out_features])]
    outputs += [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, ["B", size])
                for name, size in zip(names, sizes)]  # fmt: skip
    if sampler:
        outputs.append(helper.make_tensor_value_info("next_token", TensorProto.INT64, ["B"]))
    if sampler and sampler.startswith("race"):
        inputs.append(helper.make_tensor_value_info("noise", TensorProto.FLOAT, ["B", head.out_features]))
    if sampler == "race_tempered":
        inputs.append(helper.make_tensor_value_info("temperature", TensorProto.FLOAT, [1]))
    graph = helper.make_graph(_fold_identities(g.nodes), "seqtk_lm_step", inputs, outputs, g.initializers)
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="seqtk")
    model.ir_version = min(model.ir_version, 10)  # what onnxruntime 1.2x reads
    onnx.checker.check_model(model)
    return StepGraph(model, names, sizes, g.nodes, g.initializers)


def _fold_identities(nodes: list[Any]) -> list[Any]:
    """The graph without its Identity nodes: each one's producer writes the output name directly (a graph
    output may feed other nodes too). Every node costs onnxruntime about a microsecond per step."""
    renamed = {node.input[0]: node.output[0] for node in nodes if node.op_type == "Identity"}
    kept = [node for node in nodes if node.op_type != "Identity"]
    for node in kept:
        for i, name in enumerate(node.input):
            node.input[i] = renamed.get(name, name)
        for i, name in enumerate(node.output):
            node.output[i] = renamed.get(name, name)
    return kept


def quantize_columns(weight_t: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(K, N) float -> (K, N) int8 in [-INT8_MAX, INT8_MAX] and (N,) float32 scales, one per column.

    >>> q, s = quantize_columns(torch.tensor([[1.0, -1.0], [0.4, 4.0]]))
    >>> q.tolist(), np.allclose(s, [1 / 63, 4 / 63])
    ([[63, -16], [25, 63]], True)
    """
    w = weight_t.detach().float().cpu().numpy()
    scale = np.abs(w).max(axis=0) / INT8_MAX
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(w / scale), -INT8_MAX, INT8_MAX).astype(np.int8)
    return q, scale.astype(np.float32)


class _Builder:
    """Nodes and initializers of one graph, with names made unique."""

    def __init__(self, quantize: str | None) -> None:
        self.quantize = quantize
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def const(self, name: str, value: Tensor | np.ndarray) -> str:
        from onnx import numpy_helper

        array = value.detach().float().cpu().numpy() if isinstance(value, Tensor) else value
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, kind: str, inputs: list[str], output: str | None = None, n_out: int = 1,
           domain: str = "", **attrs: Any) -> Any:  # fmt: skip
        from onnx import helper

        outs = [output] if output else [f"{kind.lower()}_{len(self.nodes)}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(kind, inputs, outs, domain=domain, **attrs))
        return outs[0] if n_out == 1 else outs

    def linear(self, x: str, weight: Tensor, bias: Tensor | None, name: str) -> str:
        """``x @ weight.T + bias``: (B, K) -> (B, N), on int8 weights when quantizing."""
        bias_name = None if bias is None else self.const(f"{name}_b", bias)
        if self.quantize == "int8":
            q, scale = quantize_columns(weight.t())
            zero = np.zeros_like(q[0])
            ins = [x, self.const(f"{name}_q", q), self.const(f"{name}_s", scale), self.const(f"{name}_z", zero)]
            return self.op("DynamicQuantizeMatMul", ins + ([bias_name] if bias_name else []), domain="com.microsoft")
        out = self.op("MatMul", [x, self.const(f"{name}_w", weight.t())])
        return out if bias_name is None else self.op("Add", [out, bias_name])

    def split(self, x: str, parts: int) -> list[str]:
        return self.op("Split", [x], n_out=parts, axis=1, num_outputs=parts)

    def act(self, cell: RecurrentCell, x: str) -> str:
        return self.op("Tanh" if cell.nonlinearity == "tanh" else "Relu", [x])

    def sigmoid(self, x: str) -> str:
        return self.op("Sigmoid", [x])

    def layer_norm(self, x: str, gain: Tensor, shift: Tensor | None, name: str) -> str:
        shift = torch.zeros_like(gain) if shift is None else shift
        ins = [x, self.const(f"{name}_g", gain), self.const(f"{name}_s", shift)]
        return self.op("LayerNormalization", ins, axis=-1, epsilon=LN_EPS)


# -- one builder per cell: (graph, cell, name, x, projected x or None, state names) -> (h, new state names)
def _gates(g: _Builder, cell: RecurrentCell, name: str, x: str | None, x_proj: str | None, h: str) -> str:
    """``project(x) + h @ W_hh^T``: one product over [x, h] when the input is not a table row."""
    if x_proj is not None:
        return g.op("Add", [x_proj, g.linear(h, cell.weight_hh, None, f"{name}_hh")])
    both = g.op("Concat", [x, h], axis=1)
    return g.linear(both, torch.cat([cell.weight_ih, cell.weight_hh], dim=1), cell.bias, f"{name}_ihh")


def _elman(g: _Builder, cell: ElmanCell, name: str, x: str | None, x_proj: str | None,
           state: list[str]) -> tuple[str, list[str]]:  # fmt: skip
    h = g.act(cell, _gates(g, cell, name, x, x_proj, state[0]))
    return h, [h]


def _lstm(g: _Builder, cell: LSTMCell, name: str, x: str | None, x_proj: str | None,
          state: list[str]) -> tuple[str, list[str]]:  # fmt: skip
    gates = _gates(g, _IFOG(cell), name, x, x_proj, state[0])
    return _lstm_tail(g, cell, gates, state[1], lambda c: c)


def _lstm_tail(g: _Builder, cell: RecurrentCell, gates: str, c_prev: str,
               norm: Callable[[str], str]) -> tuple[str, list[str]]:  # fmt: skip
    """Gates in the order i, f, o, g: ``c = σ(f) c_prev + σ(i) act(g)``, ``h = σ(o) act(norm(c))``."""
    size = cell.hidden_size
    sig, c_in = g.op("Split", [gates, g.const(f"split_{len(g.nodes)}", np.array([3 * size, size]))], n_out=2, axis=1)
    i, f, o = g.split(g.sigmoid(sig), 3)  # one Sigmoid for three gates
    keep = g.op("Mul", [f, c_prev])
    c = g.op("Add", [keep, g.op("Mul", [i, g.act(cell, c_in)])])
    h = g.op("Mul", [o, g.act(cell, norm(c))])
    return h, [h, c]


class _IFOG:
    """An LSTM cell's weights with the gate blocks reordered from i, f, g, o to i, f, o, g, so that one
    Sigmoid covers the first three (a view for the builders; the cell is not changed)."""

    def __init__(self, cell: RecurrentCell) -> None:
        size = cell.hidden_size
        self.order = torch.cat([torch.arange(0, 2 * size), torch.arange(3 * size, 4 * size),
                                torch.arange(2 * size, 3 * size)])  # fmt: skip
        self.cell, self.hidden_size = cell, size

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.cell, name)
        if name in ("weight_ih", "weight_hh", "bias", "ln_x_gain", "ln_h_gain"):
            return value[self.order]
        return value

    def project(self, x: Tensor) -> Tensor:
        return self.cell.project(x)[..., self.order]


def _ln_lstm(g: _Builder, cell: LayerNormLSTMCell, name: str, x: str | None, x_proj: str | None,
             state: list[str]) -> tuple[str, list[str]]:  # fmt: skip
    lnc_gain, lnc_shift = cell.ln_c_gain, cell.ln_c_shift
    cell = _IFOG(cell)  # layer norm over all gates is the same in any order, with its gains reordered too
    if x_proj is None:
        wx = g.linear(x, cell.weight_ih, None, f"{name}_ih")
        x_proj = g.op("Add", [g.layer_norm(wx, cell.ln_x_gain, None, f"{name}_lnx"), g.const(f"{name}_b", cell.bias)])
    wh = g.layer_norm(g.linear(state[0], cell.weight_hh, None, f"{name}_hh"), cell.ln_h_gain, None, f"{name}_lnh")
    return _lstm_tail(g, cell, g.op("Add", [x_proj, wh]), state[1],
                      lambda c: g.layer_norm(c, lnc_gain, lnc_shift, f"{name}_lnc"))  # fmt: skip


def _gru(g: _Builder, cell: GRUCell, name: str, x: str | None, x_proj: str | None,
         state: list[str]) -> tuple[str, list[str]]:  # fmt: skip
    if x_proj is None:
        x_proj = g.linear(x, cell.weight_ih, cell.bias, f"{name}_ih")
    rec = g.linear(state[0], cell.weight_hh, cell.bias_hh, f"{name}_hh")
    x_rz, x_g = g.op("Split", [x_proj, g.const(f"{name}_xs", np.array([2 * cell.hidden_size, cell.hidden_size]))],
                     n_out=2, axis=1)  # fmt: skip
    r_rz, r_g = g.op("Split", [rec, g.const(f"{name}_rs", np.array([2 * cell.hidden_size, cell.hidden_size]))],
                     n_out=2, axis=1)  # fmt: skip
    r, z = g.split(g.sigmoid(g.op("Add", [x_rz, r_rz])), 2)
    cand = g.act(cell, g.op("Add", [x_g, g.op("Mul", [r, r_g])]))
    h = g.op("Add", [state[0], g.op("Mul", [z, g.op("Sub", [cand, state[0]])])])  # lerp(h, g, z)
    return h, [h]


BUILDERS: dict[type[RecurrentCell], Callable[..., tuple[str, list[str]]]] = {
    LayerNormLSTMCell: _ln_lstm,  # before LSTMCell: it subclasses it with its own equations
    LSTMCell: _lstm,
    GRUCell: _gru,
    ElmanCell: _elman,
}
