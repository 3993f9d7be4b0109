"""Stacks of recurrent layers described by :class:`LayerSpec`.

Every ``rnn``/``lstm``/``gru`` layer is a single fused PyTorch module
(``nn.RNN``/``nn.LSTM``/``nn.GRU`` with ``num_layers=1``), so cuDNN runs it on
GPU and oneDNN runs LSTM on CPU. For GRU/RNN training on CPU, where PyTorch has
no fused kernel, the encoder runs them through :mod:`seqtk.nn.fast_rnn` (same
parameters, hand-written BPTT; a layer's ``LayerSpec.kernel`` picks: ``auto``, ``fused`` or ``fast``). The reference cells of :mod:`seqtk.nn.cells`
(``peephole_lstm``, ``cho_gru``, ...) and the modern cells (``min_gru``, ``ln_lstm``, ``mlstm``, ...) run
as a :class:`~seqtk.nn.cell_kinds.CellLayer`:
a Python scan, slower, with the same padding and bidirectional behaviour.

Padding never changes a result: :mod:`seqtk.nn.ragged` runs each layer over the right-padded batch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.utils.hooks import RemovableHandle

from seqtk.errors import SeqtkValueError
from seqtk.nn.awd import LockedDropout, has_weight_drop, weight_drop_
from seqtk.nn.cell_kinds import PYTHON_CELLS, CellLayer
# LayerSpec and check_stack are defined in seqtk.nn.layers; importing them from here keeps working.
from seqtk.nn.layers import CELLS, LayerSpec, check_stack
from seqtk.nn.ragged import State, last_step, run_layer, state_shapes

__all__ = ["CELLS", "LayerSpec", "StackedEncoder", "check_stack", "irnn_init"]


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
            with parametrize.cached():  # one weight-drop mask per matrix for this forward (seqtk.nn.awd)
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
            h, final = run_layer(rnn, h, ragged, h0, need_state=return_state)  # (B, T, F_i) -> (B, T, D*H)
            finals.append(final)
            if not spec.return_sequences:
                h = last_step(h, ragged, spec.output_size, spec.bidirectional)  # (B, T, D*H) -> (B, D*H)
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
        """One (name, cell, output shape, parameters) row per layer, for :mod:`seqtk.runtime.summary`."""
        from seqtk.runtime.summary import count_parameters

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
        from seqtk.runtime.summary import model_summary

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
            wants = [(2 if spec.bidirectional else 1, batch, *shape) for shape in state_shapes(rnn)]
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
    rnn.seqtk_kernel = spec.kernel  # read by seqtk.nn.fast_rnn.use_fast: the layer, not the process, picks its kernel
    if spec.init == "irnn":
        irnn_init(rnn)
    return weight_drop_(rnn, spec.weight_drop)


def irnn_init(rnn: nn.RNNBase) -> None:
    """Identity recurrent weights and zero biases, in every direction of ``rnn`` (IRNN: Le, Jaitly and
    Hinton 2015). At initialisation a ReLU RNN's state then carries each input forward unchanged, so
    gradients neither vanish nor explode over hundreds of steps. It draws no random numbers.

    >>> rnn = nn.RNN(3, 4, nonlinearity="relu", bidirectional=True)
    >>> irnn_init(rnn)
    >>> torch.equal(rnn.weight_hh_l0_reverse, torch.eye(4)), float(rnn.bias_ih_l0.detach().abs().sum())
    (True, 0.0)
    """
    with torch.no_grad():
        for name, param in rnn.named_parameters():
            if name.startswith("weight_hh"):
                param.copy_(torch.eye(param.size(0), param.size(1)))
            elif name.startswith("bias"):
                param.zero_()


def _dropout(spec: LayerSpec) -> nn.Module:
    if not spec.dropout:
        return nn.Identity()
    return LockedDropout(spec.dropout) if spec.locked_dropout else nn.Dropout(spec.dropout)
