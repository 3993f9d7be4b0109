"""One time step of a fused single-layer module (or a unidirectional layer of reference cells), on the
reference cell's written-out equations: what the eager and CUDA-graph decoding routes step with."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkValueError
from seqtk.nn.cell_kinds import CellLayer
from seqtk.nn.cells import ElmanCell, GRUCell, LSTMCell
from seqtk.nn.projected_lstm import ProjectedLSTMCell
from seqtk.nn.recurrent_cell import RecurrentCell

StepState = tuple[Tensor, ...]  # (h,) or (h, c), each (B, H)


class CellStep:
    """One time step of a single-layer, unidirectional fused ``nn.RNN``/``nn.LSTM``/``nn.GRU``
    (or of a unidirectional :class:`~seqtk.nn.cell_kinds.CellLayer` of reference cells).

    A fused module steps through the reference cell with its equations
    (:meth:`seqtk.nn.recurrent_cell.RecurrentCell.from_torch` copies its weights once), so
    there is one written-out form of each recurrence: the cell's own
    ``project``/``recur``, which docs/cells.md shows. Stepping a sequence
    reproduces the fused module's outputs. ``calls`` counts steps taken.

    >>> rnn = nn.GRU(3, 4, batch_first=True)
    >>> step, x = CellStep(rnn), torch.randn(2, 1, 3)
    >>> h, state = step(step.project(x[:, 0]), (torch.zeros(2, 4),))
    >>> torch.allclose(h, rnn(x)[0][:, 0], atol=1e-6)
    True
    """

    def __init__(self, rnn: nn.RNNBase | CellLayer) -> None:
        self.calls = 0
        if rnn.bidirectional:
            raise SeqtkValueError("CellStep needs a unidirectional layer", fix="build the layer with bidirectional=False")
        self.cell: RecurrentCell = rnn.directions[0] if isinstance(rnn, CellLayer) else _cell_of(rnn)
        self._recur = self.cell.stepper()
        self._w_ih_t, self._bias = self.cell.weight_ih.t(), self.cell.bias
        if type(self.cell).project is not RecurrentCell.project:  # e.g. the layer-normalised LSTM's
            self.project = self.cell.project  # type: ignore[method-assign]

    def project(self, x: Tensor) -> Tensor:
        # (N, F) -> (N, G): the input half of every gate, independent of the state (the cell's project())
        return torch.addmm(self._bias, x, self._w_ih_t)

    def __call__(self, gates_in: Tensor, state: StepState) -> tuple[Tensor, StepState]:
        # (B, G), ((B, H)[, (B, H)]) -> (B, H), new state
        self.calls += 1
        return self._recur(gates_in, state)


def _cell_of(rnn: nn.RNNBase) -> RecurrentCell:
    """The reference cell with ``rnn``'s equations and weights (a copy, made without autograd)."""
    if not isinstance(rnn, (nn.RNN, nn.LSTM, nn.GRU)) or rnn.num_layers != 1 or not rnn.bias:
        raise SeqtkValueError(
            "CellStep needs a single-layer unidirectional module with biases",
            fix="build each layer as nn.LSTM/nn.GRU/nn.RNN(num_layers=1, bidirectional=False, bias=True)",
        )
    kind = LSTMCell if isinstance(rnn, nn.LSTM) else GRUCell if isinstance(rnn, nn.GRU) else ElmanCell
    if isinstance(rnn, nn.LSTM) and rnn.proj_size:
        kind = ProjectedLSTMCell
    with torch.no_grad():
        return kind.from_torch(rnn)
