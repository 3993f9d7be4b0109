"""One decoding step of an :class:`~seqtk.nn.encoder_decoder.EncoderDecoder` as an ONNX graph, from its weights.

The eager step (:meth:`EncoderDecoder.step`) calls the fused recurrent module for one time step, which on a CPU
repacks its weights on every call (~0.2 ms of a G2P model's ~0.4 ms step), then ~15 small ops. Here the whole
step is one onnxruntime call built from the same equations as the language model's step
(:mod:`seqtk.nn.step_graph`'s cell builders), float32 or int8: the previous token in; every decoder layer; the
attention over the prepared memory (``dot``, ``general``, ``additive``, padded positions at weight 0); the
attentional vector; the next token's logits out.

Inputs: ``tokens`` (N,) int64; the state ``h`` (L, N, H) (and ``c`` (L, N, H) for an LSTM decoder, ``feed``
(N, H) with input feeding); the memory ``keys`` (N, S, K), ``projected`` (N, S, A), ``mask`` (N, S) bool.
Outputs: ``logits`` (N, V), ``h_out`` (``c_out``, ``feed_out``) and ``weights`` (N, S).

>>> from seqtk.config.model_config import EncoderDecoderConfig
>>> from seqtk.nn.encoder_decoder import EncoderDecoder
>>> model = EncoderDecoder(10, 12, EncoderDecoderConfig(hidden_size=8, embedding_dim=6)).eval()
>>> graph = decoder_step_graph(model)
>>> [i.name for i in graph.graph.input], [o.name for o in graph.graph.output]  # an LSTM with input feeding
(['tokens', 'h', 'c', 'feed', 'keys', 'projected', 'mask'], ['logits', 'h_out', 'c_out', 'feed_out', 'weights'])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from seqtk.nn.cells import GRUCell, LSTMCell
from seqtk.nn.recurrent_cell import RecurrentCell
from seqtk.nn.step_graph import _IFOG, OPSET, TABLE_MAX_FLOATS, _Builder, builder_for


def state_parts(model: nn.Module) -> tuple[str, ...]:
    """The state's inputs in order: ``h``, ``c`` for an LSTM decoder, ``feed`` with input feeding."""
    return ("h", *(("c",) if model.cfg.decoder_cell == "lstm" else ()), *(("feed",) if model.cfg.input_feeding else ()))


def decoder_cells(rnn: nn.LSTM | nn.GRU) -> list[RecurrentCell]:
    """One reference cell per layer of the (unidirectional, batch-first) fused decoder, with its weights."""
    kind = LSTMCell if isinstance(rnn, nn.LSTM) else GRUCell
    cells = []
    for k in range(rnn.num_layers):
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{k}"), getattr(rnn, f"weight_hh_l{k}")
        with torch.device("meta"):  # every parameter is overwritten below
            cell = kind(w_ih.size(1), w_hh.size(1))
        cell = cell.to_empty(device="cpu").float()
        with torch.no_grad():
            cell._load_torch(*(getattr(rnn, f"{name}_l{k}").detach().float().cpu()
                               for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))  # fmt: skip
        cells.append(cell)
    return cells


def decoder_step_graph(model: nn.Module, quantize: str | None = None) -> Any:
    """The ONNX model of ``model``'s decoding step (see the module's docstring); ``quantize="int8"`` stores the
    matrices as int8 (the embedding table, biases and the memory stay float32)."""
    import onnx
    from onnx import TensorProto, helper

    g = _Builder(quantize)
    parts = state_parts(model)
    cells = decoder_cells(model.decoder)
    layers, hidden = len(cells), model.cfg.decoder_dim
    with torch.no_grad():
        x, x_proj = _first_input(g, model, cells[0], "feed" in parts)
        state_in = {name: [_layer(g, name, k, layers) for k in range(layers)] for name in parts if name != "feed"}
        new: dict[str, list[str]] = {name: [] for name in state_in}
        for k, cell in enumerate(cells):
            build = builder_for(cell)
            assert build is not None
            state = [state_in[name][k] for name in state_in]
            x, out = build(g, cell, f"dec{k}", x, x_proj if k == 0 else None, state)
            for name, value in zip(state_in, out, strict=True):
                new[name].append(g.op("Unsqueeze", [value, g.const(f"axis0_{len(g.nodes)}", np.array([0]))]))
        for name, values in new.items():
            g.op("Concat", values, f"{name}_out", axis=0)  # (L, N, H)
        context = _attention(g, model.attention, x)  # (N, K), and "weights" (N, S)
        both = g.op("Concat", [context, x], axis=1)
        attentional = g.op("Tanh", [g.linear(both, model.combine.weight, None, "combine")],
                           "feed_out" if "feed" in parts else None)  # fmt: skip
        g.op("Identity", [g.linear(attentional, model.output.weight, model.output.bias, "output")], "logits")
    sizes = {"h": ["L", "N", hidden], "c": ["L", "N", hidden], "feed": ["N", hidden]}
    keys, projected = model.attention.key_dim, _projected_dim(model.attention)
    inputs = [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["N"])]
    inputs += [helper.make_tensor_value_info(name, TensorProto.FLOAT, sizes[name]) for name in parts]
    inputs += [helper.make_tensor_value_info("keys", TensorProto.FLOAT, ["N", "S", keys]),
               helper.make_tensor_value_info("projected", TensorProto.FLOAT, ["N", "S", projected]),
               helper.make_tensor_value_info("mask", TensorProto.BOOL, ["N", "S"])]  # fmt: skip
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", model.output.out_features])]
    outputs += [helper.make_tensor_value_info(f"{name}_out", TensorProto.FLOAT, sizes[name]) for name in parts]
    outputs.append(helper.make_tensor_value_info("weights", TensorProto.FLOAT, ["N", "S"]))
    graph = helper.make_graph(_without_identities(g.nodes), "seqtk_decoder_step", inputs, outputs, g.initializers)
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    onnx_model = helper.make_model(graph, opset_imports=opsets, producer_name="seqtk")
    onnx_model.ir_version = min(onnx_model.ir_version, 10)
    onnx.checker.check_model(onnx_model)
    return onnx_model


def _first_input(g: _Builder, model: nn.Module, cell: RecurrentCell, feed: bool) -> tuple[str | None, str | None]:
    """The first layer's input: a row of the projected embedding table when the token is all it reads (no input
    feeding) and the table is small, else the embedding (with the last attentional vector)."""
    table = model.target_embedding.weight
    if not feed and table.numel() // table.size(1) * cell.weight_ih.size(0) <= TABLE_MAX_FLOATS:
        gates = _IFOG(cell) if isinstance(cell, LSTMCell) else cell  # in the order its builder reads
        return None, g.op("Gather", [g.const("table", gates.project(table.detach().float())), "tokens"])
    y = g.op("Gather", [g.const("embedding", table), "tokens"])  # (N, E_t)
    return (g.op("Concat", [y, "feed"], axis=1) if feed else y), None


def _attention(g: _Builder, attention: nn.Module, query: str) -> str:
    """``Attention.forward`` for one query per row: (N, Q) -> context (N, K); the weights go to ``weights``."""
    if attention.kind == "additive":
        q = g.linear(query, attention.query_proj.weight, attention.query_proj.bias, "attn_query")  # (N, A)
        hidden = g.op("Tanh", [g.op("Add", ["projected", _unsqueeze(g, q, 1)])])  # (N, S, A)
        v = g.const("attn_v", attention.v.weight.detach().float().t())  # (A, 1)
        scores = g.op("Squeeze", [g.op("MatMul", [hidden, v]), g.const("attn_last", np.array([2]))])  # (N, S)
    else:  # q . projected_s, as one batched product: (N, 1, Q) @ (N, Q, S)
        keys_t = g.op("Transpose", ["projected"], perm=[0, 2, 1])
        scores = _squeeze(g, g.op("MatMul", [_unsqueeze(g, query, 1), keys_t]), 1)  # (N, S)
    masked = g.op("Where", ["mask", scores, g.const("minus_inf", np.array(-np.inf, dtype=np.float32))])
    weights = g.op("Softmax", [masked], "weights", axis=-1)  # (N, S): 0 on padding
    return _squeeze(g, g.op("MatMul", [_unsqueeze(g, weights, 1), "keys"]), 1)  # (N, 1, S) @ (N, S, K) -> (N, K)


def _layer(g: _Builder, name: str, k: int, layers: int) -> str:
    """Layer ``k``'s part of the state input ``name``: (L, N, H) -> (N, H)."""
    part = name if layers == 1 else g.op("Gather", [name, g.const(f"{name}_layer{k}", np.array([k]))], axis=0)
    return _squeeze(g, part, 0)


def _unsqueeze(g: _Builder, x: str, axis: int) -> str:
    return g.op("Unsqueeze", [x, g.const(f"axis{axis}_{len(g.nodes)}", np.array([axis]))])


def _squeeze(g: _Builder, x: str, axis: int) -> str:
    return g.op("Squeeze", [x, g.const(f"axis{axis}_{len(g.nodes)}", np.array([axis]))])


def _projected_dim(attention: nn.Module) -> int:
    if attention.kind == "additive":
        return attention.key_proj.out_features
    return attention.query_dim if attention.kind == "general" else attention.key_dim


def _without_identities(nodes: list[Any]) -> list[Any]:
    from seqtk.nn.step_graph import _fold_identities

    return _fold_identities(nodes)
