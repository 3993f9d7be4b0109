"""PyTorch's fused-module weights as the Python cells (:mod:`seqtk.nn.recurrent_cell`, :mod:`seqtk.nn.cells`) read them.

``nn.RNN``/``nn.LSTM``/``nn.GRU`` store ``weight_ih_l0``, ``weight_hh_l0`` and
two bias vectors per layer, and PyTorch's GRU update gate is one minus the
lectures'; ``RecurrentCell.from_torch`` and ``to_torch`` convert through here.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from seqtk.errors import SeqtkValueError


def flip_update_gate(t: Tensor, hidden: int) -> Tensor:
    # PyTorch's z is 1 - the lectures' z, and 1 - σ(a) = σ(-a): negate the z block (rows H..2H)
    out = t.detach().clone()
    out[hidden : 2 * hidden] *= -1
    return out


def torch_weights(module: nn.Module, kind: type[nn.RNNBase]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    cell_kind = {nn.RNN: nn.RNNCell, nn.LSTM: nn.LSTMCell, nn.GRU: nn.GRUCell}[kind]
    if isinstance(module, cell_kind):
        suffix = ""
    elif isinstance(module, kind) and module.num_layers == 1 and not module.bidirectional:
        suffix = "_l0"
    else:
        raise SeqtkValueError(
            f"from_torch expects a single-layer unidirectional nn.{kind.__name__} or nn.{cell_kind.__name__}, "
            f"got {module!r}",
            fix="convert one layer and one direction at a time (e.g. nn.LSTM(F, H, num_layers=1))",
        )
    if not module.bias:
        raise SeqtkValueError("from_torch needs a module with biases (bias=True)", fix="build it with bias=True")
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return tuple(getattr(module, n + suffix) for n in names)  # type: ignore[return-value]


def no_torch_form(cls: type[Any], nonlinearity: str = "tanh") -> SeqtkValueError:
    what = f"{cls.__name__} with nonlinearity={nonlinearity!r}" if nonlinearity != "tanh" else cls.__name__
    return SeqtkValueError(
        f"{what} has no exact PyTorch equivalent (nn.RNN, nn.LSTM and nn.GRU have fixed equations)",
        fix="convert only ElmanCell, LSTMCell, PeepholeLSTMCell (zero peepholes) and GRUCell with tanh "
        "(ElmanCell also with relu)",
    )
