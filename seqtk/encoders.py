"""Stacks of recurrent layers described by :class:`LayerSpec`.

Every ``rnn``/``lstm``/``gru`` layer is a single fused PyTorch module
(``nn.RNN``/``nn.LSTM``/``nn.GRU`` with ``num_layers=1``), so cuDNN runs it on
GPU and oneDNN runs LSTM on CPU. For GRU/RNN training on CPU, where PyTorch has
no fused kernel, the encoder runs them through :mod:`seqtk.fast_rnn` (same
parameters, hand-written BPTT; a layer's ``LayerSpec.kernel`` picks: ``auto``, ``fused`` or ``fast``). The reference cells of :mod:`seqtk.cells`
(``peephole_lstm``, ``cho_gru``, ...) and the modern cells (``min_gru``, ``ln_lstm``, ``mlstm``, ...) run
as a :class:`~seqtk.cell_kinds.CellLayer`:
a Python scan, slower, with the same padding and bidirectional behaviour.

Padding never changes a result. Unidirectional layers get that for free: a
valid step never sees a later (padding) step. The backward direction of a
bidirectional layer would start inside the padding, so when lengths differ we
run it on each sequence reversed within its own length (a per-row gather).
Measured with ``bench/encoders_padding.py`` (bidirectional, B=64, T=128,
F=H=128, training forward+backward, 2-core AMD EPYC, torch 2.13 CPU; best of
interleaved rounds, the range is over several runs on a shared VM)::

                                         LSTM              GRU
    plain padding (not invariant)        850-1120 ex/s     620-720 ex/s
    pack_padded_sequence                 0.27-0.41x        0.59-0.68x
    reverse within length, two modules   0.99-1.16x        0.96-0.99x
    reverse within length, one module    0.94-1.14x        0.90-0.97x   <- used

All three exact candidates change no valid output (max difference 0.0) when
the batch is padded to 3x. The last two run the same kernels (oneDNN for LSTM);
the gap between them is the output masking and noise. We keep one bidirectional
module per layer, its directions run as two fused calls, so parameter names and
``state_dict`` match ``nn.LSTM(bidirectional=True)`` and batches without
padding stay a single fused (cuDNN-bidirectional) call. Packing is used only
where nothing else is exact: LSTM final states (``return_state=True``) with
ragged lengths, since the padded kernels never expose the cell state at each
sequence's true last step.

On CUDA the same route holds (``bench/gpu_check.sh``, NVIDIA H200, torch 2.11,
2 bidirectional layers, B=64, T=64, H=128, lengths spread over 1..64, training
forward+backward, three runs): all rows full, one fused call, 0.94-1.51 M
tokens/s (LSTM) and 1.15-1.55 M (GRU); ragged, two calls, 0.47-0.71 M and
0.50-0.77 M; ragged, one packed call, 0.08-0.13 M and 0.07-0.12 M. For the
reverse half cuDNN compacts a copy of that direction's weights on every call
(PyTorch warns "not part of single contiguous chunk of memory"; seqtk
silences that one warning there), and the two calls are still 5.6-7.5x
faster than packing.
"""

from __future__ import annotations

import re
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.nn.utils import parametrize
from torch.utils.hooks import RemovableHandle

from seqtk import fast_rnn
from seqtk.awd import LockedDropout, has_weight_drop, weight_drop_
from seqtk.cell_kinds import PYTHON_CELLS, CellLayer
from seqtk.errors import SeqtkValueError
# LayerSpec and check_stack are defined in seqtk.layers; importing them from here keeps working.
from seqtk.layers import CELLS, LayerSpec, check_stack

__all__ = ["CELLS", "LayerSpec", "StackedEncoder", "check_stack"]

# One direction of a fused module, run with the module's own kernels.
_DIRECTION_OPS = {"GRU": torch.gru, "RNN_TANH": torch.rnn_tanh, "RNN_RELU": torch.rnn_relu}

State = Tensor | tuple[Tensor, Tensor]


class StackedEncoder(nn.Module):
    """Recurrent layers run one after another, batch first, robust to right padding.

    >>> enc = StackedEncoder(8, [LayerSpec("lstm", 16, bidirectional=True), {"cell": "gru", "hidden_size": 4}])
    >>> x = torch.randn(3, 5, 8)
    >>> enc(x, lengths=torch.tensor([5, 2, 4])).shape
    torch.Size([3, 5, 4])
    >>> enc.output_dim
    4
    """

    def __init__(self, input_size: int, layers: Sequence[LayerSpec | Mapping[str, Any]]) -> None:
        super().__init__()
        if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
            raise SeqtkValueError(
                f"input_size must be a positive integer, got {input_size!r}",
                fix="pass the feature size of the input, e.g. the embedding dimension",
            )
        specs = tuple(LayerSpec.from_any(spec) for spec in layers)
        check_stack(specs)
        self.input_size = input_size
        self.specs = specs
        sizes = [input_size] + [spec.output_dim for spec in specs[:-1]]
        self.layers = nn.ModuleList(_make_rnn(spec, size) for spec, size in zip(specs, sizes))
        self.dropouts = nn.ModuleList(_dropout(spec) for spec in specs)
        self._weight_drop = has_weight_drop(self.layers)
        self._observers: OrderedDict[int, Callable[[int, Tensor], Tensor | None]] = OrderedDict()

    @property
    def output_dim(self) -> int:
        return self.specs[-1].output_dim

    def forward(
        self,
        x: Tensor,
        lengths: Tensor | None = None,
        state: Sequence[State | None] | None = None,
        return_state: bool = False,
    ) -> Tensor | tuple[Tensor, list[State]]:
        """Encode right-padded sequences.

        ``state`` holds one initial state per layer (``h`` or ``(h, c)``, each
        (D, B, H) with D=2 if bidirectional) or None. With ``return_state`` the
        final states come back in the same form, taken at each sequence's true
        last step (the backward direction's at step 0).
        """
        # (B, T, F) -> (B, T, output_dim) or (B, output_dim)
        self._check_input(x)
        ragged = self._ragged_lengths(lengths, x)
        initial = self._check_state(state, x.size(0))
        if self._weight_drop and self.training:
            with parametrize.cached():  # one weight-drop mask per matrix for this forward (seqtk.awd)
                return self._encode(x, ragged, initial, return_state)
        return self._encode(x, ragged, initial, return_state)

    def _encode(
        self, x: Tensor, ragged: Tensor | None, initial: list[State | None], return_state: bool
    ) -> Tensor | tuple[Tensor, list[State]]:
        # (B, T, F) -> (B, T, output_dim) or (B, output_dim), as forward
        finals: list[State] = []
        h = x
        for n, (spec, rnn, drop, h0) in enumerate(zip(self.specs, self.layers, self.dropouts, initial)):
            for observe in self._observers.values():
                seen = observe(n, h)
                h = h if seen is None else seen
            h, final = _run_layer(rnn, h, ragged, h0, need_state=return_state)  # (B, T, F_i) -> (B, T, D*H)
            finals.append(final)
            if not spec.return_sequences:
                h = _last_step(h, ragged, spec.output_size, spec.bidirectional)  # (B, T, D*H) -> (B, D*H)
            h = drop(h)
        if ragged is not None and h.dim() == 3:
            valid = torch.arange(h.size(1), device=h.device) < ragged.unsqueeze(1)  # (B, T)
            h = h * valid.unsqueeze(-1).to(h.dtype)
        return (h, finals) if return_state else h

    def observe(self, fn: Callable[[int, Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``fn(layer_index, inputs)`` with each layer's input (B, T, F_l) before the layer runs.

        ``fn`` may return a tensor of the same values to use instead (a leaf that
        requires grad, say), or None. A fused kernel keeps its h_t inside, so
        the gradient of its *input* is where back-propagation through time
        shows from outside: :mod:`seqtk.training.gradients` hooks it. ``handle.remove()``
        stops the calls.
        """
        handle = RemovableHandle(self._observers)
        self._observers[handle.id] = fn
        return handle

    def summary_rows(self, keras_style: bool = False) -> list[tuple[str, str, str, int]]:
        """One (name, cell, output shape, parameters) row per layer, for :mod:`seqtk.summary`."""
        from seqtk.summary import count_parameters

        rows = []
        for n, (spec, rnn) in enumerate(zip(self.specs, self.layers), start=1):
            shape = f"(B, T, {spec.output_dim})" if spec.return_sequences else f"(B, {spec.output_dim})"
            extras = [name for name, on in (("bidirectional", spec.bidirectional), (f"proj {spec.proj_size}", spec.proj_size),
                      (f"weight-drop {spec.weight_drop:g}", spec.weight_drop), (f"heads {spec.heads}", spec.heads > 1)) if on]
            kind = spec.cell + (f" ({', '.join(extras)})" if extras else "") + f"; kernel {spec.kernel_name()}"
            rows.append((f"layer {n}", kind, shape, count_parameters(rnn, keras_style).total))
        return rows

    def summary(self, keras_style: bool = False, show: bool = True) -> Any:
        """Return (and by default print) a Keras-like :class:`rich.table.Table` of the layers.

        >>> table = StackedEncoder(1, [LayerSpec("lstm", 50)]).summary(show=False)
        >>> table.row_count, table.caption.splitlines()[0]
        (1, 'Total params: 10,600')
        """
        from seqtk.summary import model_summary

        table = model_summary(self, keras_style=keras_style)
        if show:
            from rich.console import Console

            Console().print(table)
        return table

    def _check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise SeqtkValueError(
                f"StackedEncoder expects a tensor, got {type(x).__name__}",
                fix=f"pass a float tensor of shape (B, T, {self.input_size}), e.g. torch.tensor(x, dtype=torch.float32)",
            )
        expected = f"(B, T, {self.input_size})"
        if x.dim() == 3 and x.size(-1) == self.input_size:
            if not x.is_floating_point():
                raise SeqtkValueError(
                    f"StackedEncoder expects floating-point input, got {x.dtype}",
                    fix="pass token ids through an embedding first, or convert with x.float()",
                )
            return
        fix = f"pass a tensor of shape {expected} (batch, time, features)"
        if x.dim() == 3:
            fix = f"the last dimension holds the features: build the encoder with input_size={x.size(-1)} or {fix}"
        elif x.dim() == 2 and x.size(-1) == self.input_size:
            fix = (
                "add a time dimension with x.unsqueeze(1) if this is a batch of single steps (B, F), "
                "or a batch dimension with x.unsqueeze(0) if it is one sequence (T, F)"
            )
        elif x.dim() == 2 and self.input_size == 1:
            fix = "it looks like a batch of scalar series: add a feature dimension with x.unsqueeze(-1)"
        elif x.dim() == 2:
            fix = f"add a time or feature dimension so that the input becomes {expected}"
        raise SeqtkValueError(f"StackedEncoder expected input of shape {expected}, got {tuple(x.shape)}", fix=fix)

    def _ragged_lengths(self, lengths: Tensor | None, x: Tensor) -> Tensor | None:
        """Validate ``lengths``; return them on x's device, or None if every sequence fills T."""
        if lengths is None:
            return None
        lengths = torch.as_tensor(lengths)
        batch, steps = x.size(0), x.size(1)
        if lengths.shape != (batch,) or lengths.is_floating_point() or lengths.is_complex():
            raise SeqtkValueError(
                f"lengths must be an integer tensor of shape ({batch},), got {lengths.dtype} {tuple(lengths.shape)}",
                fix="pass one length per sequence, e.g. torch.tensor([...], dtype=torch.long)",
            )
        low, high = int(lengths.min()), int(lengths.max())
        if low < 1 or high > steps:
            raise SeqtkValueError(
                f"lengths must lie in 1..{steps} (the padded length T), got values from {low} to {high}",
                fix="drop empty sequences and pad x to at least the longest length",
            )
        if low == steps:
            return None  # nothing is padded: the plain fused call is exact and fastest
        return lengths.to(device=x.device, dtype=torch.long)

    def _check_state(self, state: Sequence[State | None] | None, batch: int) -> list[State | None]:
        if state is None:
            return [None] * len(self.layers)
        if len(state) != len(self.layers):
            raise SeqtkValueError(
                f"state has {len(state)} entries but the encoder has {len(self.layers)} layers",
                fix="pass one initial state (or None) per layer",
            )
        for n, (spec, rnn, s) in enumerate(zip(self.specs, self.layers, state), start=1):
            if s is None:
                continue
            parts = s if isinstance(s, (tuple, list)) else (s,)
            wants = [(2 if spec.bidirectional else 1, batch, *shape) for shape in _state_shapes(rnn)]
            if len(parts) != len(wants) or any(tuple(p.shape) != want for p, want in zip(parts, wants)):
                form = {1: "h", 2: "(h, c)", 4: "(h, c, n, m)"}.get(len(wants), f"{len(wants)} tensors")
                shapes = wants[0] if len(set(wants)) == 1 else ", ".join(map(str, wants))
                raise SeqtkValueError(
                    f"the state for layer {n} {spec.describe()} must be {form} with shape {shapes}",
                    fix="pass the states returned by a call with return_state=True",
                )
        return [tuple(s) if isinstance(s, list) else s for s in state]


def _make_rnn(spec: LayerSpec, input_size: int) -> nn.RNNBase | CellLayer:
    if spec.runs_as in PYTHON_CELLS:
        return CellLayer(
            spec.runs_as, input_size, spec.hidden_size, spec.bidirectional, spec.nonlinearity, heads=spec.heads
        )
    kwargs: dict[str, Any] = {"num_layers": 1, "batch_first": True, "bidirectional": spec.bidirectional}
    if spec.cell == "rnn":
        kwargs["nonlinearity"] = spec.nonlinearity
    if spec.proj_size:
        kwargs["proj_size"] = spec.proj_size
    rnn = CELLS[spec.cell](input_size, spec.hidden_size, **kwargs)
    rnn.seqtk_kernel = spec.kernel  # read by seqtk.fast_rnn.use_fast: the layer, not the process, picks its kernel
    return weight_drop_(rnn, spec.weight_drop)


def _dropout(spec: LayerSpec) -> nn.Module:
    if not spec.dropout:
        return nn.Identity()
    return LockedDropout(spec.dropout) if spec.locked_dropout else nn.Dropout(spec.dropout)


def _state_shapes(rnn: nn.RNNBase | CellLayer) -> list[tuple[int, ...]]:
    """Each state part's shape after the direction and batch dimensions."""
    if isinstance(rnn, CellLayer):
        return list(rnn.directions[0].state_shapes())
    h = (getattr(rnn, "proj_size", 0) or rnn.hidden_size,)
    return [h, (rnn.hidden_size,)] if rnn.mode == "LSTM" else [h]


def _run_layer(
    rnn: nn.RNNBase | CellLayer, x: Tensor, lengths: Tensor | None, h0: State | None, need_state: bool
) -> tuple[Tensor, State | None]:
    # (B, T, F) -> (B, T, D*H), final state (or None when not asked for on the ragged path)
    if isinstance(rnn, CellLayer):
        return _run_cells(rnn, x, lengths, h0)
    if getattr(rnn, "proj_size", 0):
        _expect_no_onednn_projections()
    if parametrize.is_parametrized(rnn):
        rnn._update_flat_weights()  # weight-drop: the kernels below read _flat_weights, not the property
    if lengths is None:
        return _run_module(rnn, x, h0)
    if need_state and rnn.mode == "LSTM":
        return _run_packed(rnn, x, lengths, h0)
    out = _run_bidirectional(rnn, x, lengths, h0) if rnn.bidirectional else _run_module(rnn, x, h0)[0]
    return out, (_final_hidden(out, lengths, rnn) if need_state else None)


def _run_module(rnn: nn.RNNBase, x: Tensor, h0: State | None) -> tuple[Tensor, State]:
    # (B, T, F) -> (B, T, D*H), final state; GRU/RNN training on CPU takes seqtk.fast_rnn where measured faster
    return fast_rnn.run_module(rnn, x, h0) if fast_rnn.use_fast(rnn, x) else rnn(x, h0)


def _run_packed(rnn: nn.RNNBase, x: Tensor, lengths: Tensor, h0: State | None) -> tuple[Tensor, State]:
    # (B, T, F) -> (B, T, D*H); slow, but the only exact route to an LSTM's cell state at ragged ends
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, final = rnn(packed, h0)
    return pad_packed_sequence(out, batch_first=True, total_length=x.size(1))[0], final


def _run_bidirectional(rnn: nn.RNNBase, x: Tensor, lengths: Tensor, h0: State | None) -> Tensor:
    # (B, T, F) -> (B, T, 2H): the backward direction reads each sequence reversed within its length
    if h0 is None:
        h0 = tuple(x.new_zeros(2, x.size(0), *shape) for shape in _state_shapes(rnn))
        h0 = h0 if rnn.mode == "LSTM" else h0[0]
    forward_h0, backward_h0 = _split_directions(h0)
    weights = rnn._flat_weights  # per direction: w_ih, w_hh, b_ih, b_hh
    half = len(weights) // 2
    order = _reverse_within(lengths, x.size(1))  # (B, T)
    ahead = _one_direction(rnn, x, forward_h0, weights[:half])
    back = _one_direction(rnn, _gather_steps(x, order), backward_h0, weights[half:])
    return torch.cat([ahead, _gather_steps(back, order)], dim=-1)


def _one_direction(rnn: nn.RNNBase, x: Tensor, h0: State, weights: list[Tensor]) -> Tensor:
    # (B, T, F) -> (B, T, H) with the fused kernel (oneDNN / cuDNN), not a Python loop
    if rnn.mode != "LSTM" and fast_rnn.use_fast(rnn, x):
        return fast_rnn.run_direction(rnn.mode, x, h0, weights)
    args = (weights, rnn.bias, 1, 0.0, rnn.training, False, True)
    op = (lambda: torch.lstm(x, list(h0), *args)[0]) if rnn.mode == "LSTM" else (
        lambda: _DIRECTION_OPS[rnn.mode](x, h0, *args)[0])
    if x.is_cuda:
        _expect_weight_compaction()
    return op()


_WEIGHT_WARNING = "RNN module weights are not part of single contiguous chunk"
_weight_warning_filtered = False


def _expect_weight_compaction() -> None:
    """Silence PyTorch's weight-compaction warning where seqtk's own call raises it, once per process.

    cuDNN takes a weight buffer only where the module's flat buffer starts, so for the reverse half it
    compacts a copy of that direction's weights per call and PyTorch warns; measured on an H200 this route
    still ran 5.6-7.5x faster than one packed call (module docstring), so the copy is expected. The filter
    names this module, so the same warning from a user's own nn.LSTM still shows; it is added on the first
    CUDA call rather than per call, because ``warnings.catch_warnings`` per call would reset Python's
    once-per-location memory and repeat every other warning at each step.
    """
    global _weight_warning_filtered
    if not _weight_warning_filtered:
        warnings.filterwarnings("ignore", message=_WEIGHT_WARNING, category=UserWarning, module=re.escape(__name__))
        _weight_warning_filtered = True


_PROJECTION_WARNING = "LSTM with projections is not supported with oneDNN"


_projection_warning_filtered = False


def _expect_no_onednn_projections() -> None:
    """PyTorch warns on every process's first LSTM with projections on a CPU that oneDNN cannot run it;
    ``seqtk summary`` says so in the layer's kernel (ATen), so the warning is silenced, once per process
    (adding a filter resets Python's once-per-location memory of every other warning)."""
    global _projection_warning_filtered
    if not _projection_warning_filtered:
        warnings.filterwarnings("ignore", message=_PROJECTION_WARNING, category=UserWarning)
        _projection_warning_filtered = True


def _run_cells(layer: CellLayer, x: Tensor, lengths: Tensor | None, h0: State | None) -> tuple[Tensor, State]:
    # (B, T, F) -> (B, T, D*H), final state (D, B, H) [each of (h, c)]; the reference scan stops each
    # row's state at its length, so final states are exact without packing
    order = _reverse_within(lengths, x.size(1)) if lengths is not None and layer.bidirectional else None
    outputs, finals = [], []
    for d, cell in enumerate(layer.directions):
        start = None if h0 is None else tuple(part[d] for part in (h0 if isinstance(h0, tuple) else (h0,)))
        if d == 1:  # the backward direction reads each sequence reversed (within its length)
            x = x.flip(1) if order is None else _gather_steps(x, order)
        out, final = cell(x, start, lengths)
        outputs.append(out if d == 0 else out.flip(1) if order is None else _gather_steps(out, order))
        finals.append(final)
    stacked = tuple(torch.stack(parts) for parts in zip(*finals))  # each (D, B, ...)
    return torch.cat(outputs, dim=-1), stacked if layer.state_size > 1 else stacked[0]


def _split_directions(h0: State) -> tuple[State, State]:
    if isinstance(h0, tuple):
        return (h0[0][:1], h0[1][:1]), (h0[0][1:], h0[1][1:])
    return h0[:1], h0[1:]


def _final_hidden(out: Tensor, lengths: Tensor, rnn: nn.RNNBase) -> Tensor:
    # (B, T, D*H) -> (D, B, H): forward at the true last step, backward at step 0
    hidden = getattr(rnn, "proj_size", 0) or rnn.hidden_size
    parts = [_at_step(out[..., :hidden], lengths - 1)]
    if rnn.bidirectional:
        parts.append(out[:, 0, hidden:])
    return torch.stack(parts)


def _last_step(out: Tensor, lengths: Tensor | None, hidden: int, bidirectional: bool) -> Tensor:
    # (B, T, D*H) -> (B, D*H)
    if lengths is None:
        ahead = out[:, -1, :hidden]
    else:
        ahead = _at_step(out[..., :hidden], lengths - 1)
    return torch.cat([ahead, out[:, 0, hidden:]], dim=-1) if bidirectional else ahead


def _reverse_within(lengths: Tensor, steps: int) -> Tensor:
    # (B,) -> (B, T) time indices: row b is L_b-1, ..., 0, then L_b, ..., T-1 (padding stays put)
    t = torch.arange(steps, device=lengths.device).unsqueeze(0)
    last = lengths.unsqueeze(1) - 1
    return torch.where(t <= last, last - t, t)


def _gather_steps(x: Tensor, order: Tensor) -> Tensor:
    # (B, T, F), (B, T) -> (B, T, F) with out[b, t] = x[b, order[b, t]]
    return x.gather(1, order.unsqueeze(-1).expand(-1, -1, x.size(-1)))


def _at_step(x: Tensor, step: Tensor) -> Tensor:
    # (B, T, F), (B,) -> (B, F)
    return x.gather(1, step.view(-1, 1, 1).expand(-1, 1, x.size(-1))).squeeze(1)
