"""Trace-friendly forms of seqtk's recurrent models, for ``seqtk export`` (:mod:`seqtk.inference.export`).

TorchScript tracing and ``torch.export`` record one path through ``forward``:
a Python branch on the data (``if lengths.min() == T``) or a packed sequence
(whose batch sizes are data) is frozen at the example's values. The modules
here compute what :class:`~seqtk.nn.encoders.StackedEncoder` and
:class:`~seqtk.nn.lm.CharLM` compute, with the same weights, on one branch-free
path that is exact for every batch size, padded length and mix of lengths:

- :class:`PaddedEncoder` runs every fused layer on the padded batch (a valid
  step never sees a later one) and the backward direction of a bidirectional
  layer on each row reversed within its own length (the encoder's own route,
  written as two unidirectional modules, so ONNX gets two plain LSTM/GRU
  nodes);
- :class:`WholeEncoder` is the encoder on unpadded batches of one length (an
  image's rows, a forecast window, a toy problem's steps): fused layers as
  :class:`PaddedEncoder` runs them, reference cells as the encoder's own loop,
  which traces as that many steps;
- :class:`StreamingEncoder` is a unidirectional RNN/GRU/LSTM stack that
  returns its final state, from a given initial state to each row's own final
  state, so that a text can be read in pieces;
- :class:`LMStep` is one step of a language model, with the cell equations
  that ``CharLM.generate`` steps with (:class:`~seqtk.nn.lm.CellStep`).

>>> from seqtk.nn.encoders import LayerSpec, StackedEncoder
>>> enc = StackedEncoder(3, [LayerSpec("lstm", 4, bidirectional=True), LayerSpec("gru", 2, return_sequences=False)]).eval()
>>> x, lengths = torch.randn(2, 5, 3), torch.tensor([5, 2])
>>> bool((PaddedEncoder(enc)(x, lengths) - enc(x, lengths)).abs().max() < 1e-6)
True
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkError
from seqtk.nn.cell_kinds import CellLayer
from seqtk.nn.encoders import StackedEncoder
from seqtk.nn.ragged import at_step, gather_steps, reverse_within
from seqtk.nn.recurrent_cell import RecurrentCell


def _refuse_loops(encoder: StackedEncoder) -> None:
    for n, (spec, rnn) in enumerate(zip(encoder.specs, encoder.layers), start=1):
        if isinstance(rnn, CellLayer):
            raise SeqtkError(
                f"layer {n} {spec.describe()} runs as a Python loop over the time steps, which exports only "
                "as a fixed number of steps",
                fix="export a model whose layers use the fused cells (rnn, lstm, gru), or use the checkpoint "
                "from Python with seqtk.load()",
            )


class PaddedEncoder(nn.Module):
    """A :class:`StackedEncoder`'s forward on right-padded batches, without branches on the data.

    # x (B, T, F), lengths (B,) -> (B, T, H) (zero past each row's length) or (B, H)
    """

    def __init__(self, encoder: StackedEncoder) -> None:
        super().__init__()
        _refuse_loops(encoder)
        self.layers = nn.ModuleList(_PaddedLayer(rnn, spec.return_sequences) for spec, rnn in zip(encoder.specs, encoder.layers))
        self.bidirectional = any(spec.bidirectional for spec in encoder.specs)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        # (B, T, F), (B,) -> (B, T, H) or (B, H)
        order = reverse_within(lengths, x.size(1)) if self.bidirectional else None  # (B, T)
        h = x
        for n, layer in enumerate(self.layers):
            if n and self.layers[n - 1].back is None:
                # A copy (x * 1.0 is x): torch 2.13's ONNX exporter otherwise gives a fused layer that reads another
                # unidirectional layer's output the traced batch size for its initial state, refusing any other.
                h = h * 1.0
            h = layer(h, lengths, order)
        if h.dim() == 3:  # as the encoder: padded steps are zero
            valid = torch.arange(h.size(1), device=h.device) < lengths.unsqueeze(1)  # (B, T)
            h = h * valid.unsqueeze(-1).to(h.dtype)
        return h


class WholeEncoder(nn.Module):
    """A :class:`StackedEncoder`'s forward on batches without padding, for tasks that read one length only.

    Fused layers run as :class:`PaddedEncoder` runs them, every row at full length. A stack with a reference
    cell (``ref_lstm``, ``peephole_lstm``, ...) runs the encoder's own Python loop over the steps, which a trace
    records as the example's number of steps: right for a task whose inputs all have that length, which is
    why ``fixed_length`` says so and the export leaves the time axis fixed.

    # x (B, T, F) -> (B, T, H) or (B, H)
    """

    def __init__(self, encoder: StackedEncoder) -> None:
        super().__init__()
        self.fixed_length = any(isinstance(rnn, CellLayer) for rnn in encoder.layers)
        self.padded = None if self.fixed_length else PaddedEncoder(encoder)
        self.loop = encoder if self.fixed_length else None

    def forward(self, x: Tensor) -> Tensor:
        # (B, T, F) -> (B, T, H) or (B, H)
        if self.padded is None:  # a property of the model, not of the data: one path per model
            assert self.loop is not None
            return self.loop(x)
        lengths = torch.ones_like(x[:, 0, 0], dtype=torch.long) * x.size(1)  # (B,): every row is whole
        return self.padded(x, lengths)


class _PaddedLayer(nn.Module):
    """One fused layer as one or two unidirectional modules holding copies of its weights."""

    def __init__(self, rnn: nn.RNNBase, return_sequences: bool) -> None:
        super().__init__()
        self.ahead = _direction(rnn, "")
        self.back = _direction(rnn, "_reverse") if rnn.bidirectional else None
        self.return_sequences, self.hidden_size = return_sequences, rnn.hidden_size

    def forward(self, x: Tensor, lengths: Tensor, order: Tensor | None) -> Tensor:
        # (B, T, F) -> (B, T, D*H), or (B, D*H) without return_sequences
        out = self.ahead(x)[0]  # (B, T, H)
        if self.back is not None:
            assert order is not None
            back = gather_steps(self.back(gather_steps(x, order))[0], order)  # (B, T, H), step t read from L-1 down to t
            if not self.return_sequences:  # forward at the true last step, backward at step 0
                return torch.cat([at_step(out, lengths - 1), back[:, 0]], dim=-1)
            return torch.cat([out, back], dim=-1)
        return out if self.return_sequences else at_step(out, lengths - 1)


def _direction(rnn: nn.RNNBase, suffix: str) -> nn.RNNBase:
    """A unidirectional, batch-first copy of one direction of a single-layer fused module."""
    kwargs = {"nonlinearity": rnn.nonlinearity} if isinstance(rnn, nn.RNN) else {}
    if getattr(rnn, "proj_size", 0):
        kwargs["proj_size"] = rnn.proj_size
    kind = next(k for k in (nn.LSTM, nn.GRU, nn.RNN) if isinstance(rnn, k))  # not a weight-dropped subclass
    copy = kind(rnn.input_size, rnn.hidden_size, batch_first=True, bias=rnn.bias, **kwargs)
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if rnn.bias else []) + (["weight_hr"] if "proj_size" in kwargs else [])
    with torch.no_grad():  # in eval mode a weight-dropped matrix reads as its raw weights (seqtk.nn.awd)
        for name in names:
            getattr(copy, f"{name}_l0").copy_(getattr(rnn, f"{name}_l0{suffix}"))
    return copy.to(rnn.weight_ih_l0.device).eval()


def can_stream(encoder: StackedEncoder) -> bool:
    """Whether :class:`StreamingEncoder` takes ``encoder``: fused RNN, GRU or LSTM layers (without
    projections), unidirectional, the last returning its final state. A backward direction, or pooling over
    every step, needs the whole text at once."""
    return (not encoder.specs[-1].return_sequences
            and all(type(rnn) in (nn.GRU, nn.RNN, nn.LSTM) and not spec.bidirectional
                    and not getattr(rnn, "proj_size", 0) for spec, rnn in zip(encoder.specs, encoder.layers)))


class StreamingEncoder(nn.Module):
    """A unidirectional stack of RNN, GRU or LSTM layers that returns its final state, on right-padded batches,
    from an initial state (``h`` (B, H) per layer, and ``c`` for an LSTM layer) to the state after each row's own
    last step. Reading a text in pieces, each from the state the last one left, gives what reading it whole gives.

    An RNN's or GRU's state is its output, read at each row's last step from the fused layer's outputs. An
    LSTM's cell state ``c`` is no output of the fused kernel, and on a padded batch its final ``c`` is the
    padding's: :class:`_StreamingLSTM` steps the cell and holds each row's state from its length on, and in
    an ONNX export runs the fused layer, whose node then takes ``lengths`` as its ``sequence_lens``
    (``ExportSpec.sequence_lengths``).

    # x (B, T, F), lengths (B,), *state -> (B, H) the last layer's final h, *new state
    """

    def __init__(self, encoder: StackedEncoder) -> None:
        super().__init__()
        if not can_stream(encoder):
            raise ValueError("StreamingEncoder needs fused unidirectional RNN, GRU or LSTM layers, the last returning "
                             "its final state")  # fmt: skip
        self.layers = nn.ModuleList(
            _StreamingLSTM(_direction(rnn, "")) if isinstance(rnn, nn.LSTM) else _direction(rnn, "")
            for rnn in encoder.layers
        )

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """``h0``, ``h1``, ... (and ``c<n>`` after an LSTM layer's ``h<n>``) -> each one's shape after the batch axis."""
        shapes: dict[str, tuple[int, ...]] = {}
        for n, rnn in enumerate(self.layers):
            shapes[f"h{n}"] = (rnn.hidden_size,)
            if isinstance(rnn, _StreamingLSTM):
                shapes[f"c{n}"] = (rnn.hidden_size,)
        return shapes

    def forward(self, x: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        # (B, T, F), (B,), each (B, H_l) -> (B, H), each new (B, H_l)
        h, new, at = x, [], 0
        for n, rnn in enumerate(self.layers):
            if n and torch.compiler.is_exporting():
                h = h * 1.0  # a copy, as in PaddedEncoder: else torch 2.13's ONNX exporter fixes the layer's sizes
            if isinstance(rnn, _StreamingLSTM):
                h, last, cell = rnn(h, lengths, state[at], state[at + 1])  # (B, T, F) -> (B, T, H), (B, H), (B, H)
                new.extend((last, cell))
                at += 2
            else:
                h = rnn(h, state[at].unsqueeze(0))[0]  # (B, T, F) -> (B, T, H); steps past a row's end are never read
                last = at_step(h, lengths - 1)  # (B, H)
                new.append(last)
                at += 1
        return (last, *new)


class _StreamingLSTM(nn.Module):
    """One unidirectional LSTM layer from a given state to each row's state after its own last step.

    # x (B, T, F), lengths (B,), h0 (B, H), c0 (B, H) -> outputs (B, T, H), h (B, H), c (B, H)
    """

    def __init__(self, lstm: nn.LSTM) -> None:
        super().__init__()
        self.lstm, self.hidden_size = lstm, lstm.hidden_size

    def forward(self, x: Tensor, lengths: Tensor, h0: Tensor, c0: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if torch.compiler.is_exporting():  # the ONNX exporter: one LSTM node, given sequence_lens after export
            out, (h, c) = self.lstm(x, (h0.unsqueeze(0), c0.unsqueeze(0)))
            return out, h[0], c[0]
        weights = (self.lstm.weight_ih_l0, self.lstm.weight_hh_l0, getattr(self.lstm, "bias_ih_l0", None),
                   getattr(self.lstm, "bias_hh_l0", None))  # fmt: skip
        loop = _scripted_lstm_loop() if torch.jit.is_tracing() else _lstm_to_lengths  # a trace keeps a script's loop
        return loop(x, lengths, h0, c0, *weights)


def _lstm_to_lengths(
    x: Tensor, lengths: Tensor, h: Tensor, c: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Optional[Tensor],
    b_hh: Optional[Tensor],
) -> tuple[Tensor, Tensor, Tensor]:
    # (B, T, F), (B,), (B, H), (B, H) -> (B, T, H), (B, H), (B, H): a row's state stops changing at its length
    outputs = []
    for t in range(x.size(1)):
        new_h, new_c = torch.lstm_cell(x[:, t], [h, c], w_ih, w_hh, b_ih, b_hh)
        live = (lengths > t).unsqueeze(1)  # (B, 1)
        h, c = torch.where(live, new_h, h), torch.where(live, new_c, c)
        outputs.append(h)
    return torch.stack(outputs, dim=1), h, c


@functools.cache
def _scripted_lstm_loop() -> Any:
    """:func:`_lstm_to_lengths` compiled by TorchScript, once a trace needs it (compiling on import would be an
    import's side effect)."""
    return torch.jit.script(_lstm_to_lengths)


class LMStep(nn.Module):
    """One step of a :class:`~seqtk.nn.lm.CharLM`: a token per row and the state in, next-token logits and the
    new state out, so that an application can generate text.

    The state is one tensor per layer and part: ``h`` (B, H_l) for RNN/GRU layers, ``h`` then ``c`` for
    LSTM layers; zeros start a text. # ids (B,), *state -> logits (B, V), *new state
    """

    def __init__(self, lm: nn.Module) -> None:
        super().__init__()
        from seqtk.nn.cell_step import _cell_of

        self.embedding, self.head = lm.embedding, lm.head
        self.cells = nn.ModuleList(
            rnn.directions[0] if isinstance(rnn, CellLayer) else _cell_of(rnn) for rnn in lm.encoder.layers
        )
        self.state_sizes = [cell.state_size for cell in self.cells]

    def state_names(self) -> list[str]:
        """``h0``, ``c0``, ``h1``, ... in the order forward takes them."""
        parts = [getattr(cell, "state_parts", ("h", "c", "n", "m")[: cell.state_size]) for cell in self.cells]
        return [f"{part}{n}" for n, names in enumerate(parts) for part in names]

    def zero_state(self, batch: int) -> tuple[Tensor, ...]:
        return tuple(part for cell in self.cells for part in cell.zero_state(batch, torch.zeros(())))

    def forward(self, ids: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        # (B,), each (B, H_l) -> logits (B, V), each new (B, H_l)
        x = self.embedding(ids)  # (B,) -> (B, E)
        new: list[Tensor] = []
        at = 0
        for cell in self.cells:
            cell: RecurrentCell
            x, parts = cell.recur(cell.project(x), tuple(state[at : at + cell.state_size]))  # (B, G) -> (B, H)
            new.extend(parts)
            at += cell.state_size
        return (self.head(x), *new)  # (B, H) -> (B, V)
