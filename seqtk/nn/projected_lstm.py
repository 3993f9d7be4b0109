"""The LSTM with a projection of its output (Sak et al. 2014; ``nn.LSTM(proj_size=P)``, cuDNN's LSTMP).

Training runs PyTorch's fused module (``LayerSpec(proj_size=P)``); this cell is its step form, which
generation (:class:`seqtk.nn.lm.CellStep`) and export use.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkValueError
from seqtk.nn.cell_weights import no_torch_form
from seqtk.nn.cells import LSTMCell
from seqtk.nn.recurrent_cell import ACTIVATIONS, RecurrentCell, State, lstm_step


class ProjectedLSTMCell(LSTMCell):
    """LSTM with a projection of its output (Sak et al. 2014; ``nn.LSTM(proj_size=P)``, cuDNN's LSTMP).

    ``h_t = W_hr (o ⊙ act(c_t))``: h has P < H features, the gates read it
    through ``weight_hh`` (4H, P), and the cell state keeps H. This is the
    step form generation uses for a fused LSTM layer with ``proj_size``.

    >>> cell = ProjectedLSTMCell(3, 8, proj_size=2)
    >>> [tuple(t.shape) for t in cell.zero_state(5, torch.zeros(1))]
    [(5, 2), (5, 8)]
    """

    options = ("proj_size",)

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh", proj_size: int = 1) -> None:
        self.proj_size = proj_size  # read by recurrent_width() while the base builds weight_hh
        super().__init__(input_size, hidden_size, nonlinearity)
        self.weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)
        nn.init.uniform_(self.weight_hr, -bound, bound)

    def recurrent_width(self) -> int:
        return self.proj_size

    @property
    def output_size(self) -> int:
        return self.proj_size

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.proj_size,), (self.hidden_size,))

    def stepper(self) -> Callable[[Tensor, State], tuple[Tensor, State]]:
        return self.recur

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        # (B, 4H), ((B, P), (B, H)) -> (B, P)
        r, (_, c) = lstm_step(xp, state, self.weight_hh.t(), ACTIVATIONS[self.nonlinearity])
        h = r @ self.weight_hr.t()  # (B, H) -> (B, P)
        return h, (h, c)

    @classmethod
    def from_torch(cls, module: nn.Module) -> RecurrentCell:
        """The cell of a single-layer, unidirectional ``nn.LSTM`` with ``proj_size``."""
        if not isinstance(module, nn.LSTM) or not module.proj_size or module.num_layers != 1 or module.bidirectional:
            raise SeqtkValueError(
                f"ProjectedLSTMCell.from_torch expects a single-layer unidirectional nn.LSTM with proj_size, got {module!r}",
                fix="convert one layer and one direction at a time",
            )
        w_ih = module.weight_ih_l0
        cell = cls(w_ih.size(1), module.hidden_size, proj_size=module.proj_size).to(device=w_ih.device, dtype=w_ih.dtype)
        with torch.no_grad():
            cell.weight_ih.copy_(w_ih)
            cell.weight_hh.copy_(module.weight_hh_l0)
            cell.bias.copy_(module.bias_ih_l0 + module.bias_hh_l0)
            cell.weight_hr.copy_(module.weight_hr_l0)
        return cell

    def to_torch(self) -> nn.RNNBase:
        raise no_torch_form(type(self))
