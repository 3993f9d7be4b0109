"""Every cell that runs as a Python module, by the name a LayerSpec gives it, and :class:`CellLayer`.

The lectures' reference cells (:mod:`seqtk.nn.cells`), the minimal RNNs
(:mod:`seqtk.nn.min_rnn`), the layer-normalised LSTM (:mod:`seqtk.nn.ln_lstm`) and
xLSTM's cells (:mod:`seqtk.nn.xlstm`) share one interface,
:class:`~seqtk.nn.recurrent_cell.RecurrentCell`: ``project`` and ``recur`` for one step
(generation), ``forward`` for a sequence (training, in the cell's fastest
form) and ``scan_steps`` (the step-by-step reference the tests compare it with).
"""

from __future__ import annotations

from torch import nn

from seqtk.nn.cells import REFERENCE_CELLS
from seqtk.nn.ln_lstm import LayerNormLSTMCell
from seqtk.nn.min_rnn import MinGRUCell, MinLSTMCell
from seqtk.nn.recurrent_cell import RecurrentCell
from seqtk.nn.xlstm import MLSTMCell, SLSTMCell

#: cell name in a LayerSpec -> the Python cell class that runs it
PYTHON_CELLS: dict[str, type[RecurrentCell]] = {
    **REFERENCE_CELLS,
    "ln_lstm": LayerNormLSTMCell,
    "min_gru": MinGRUCell,
    "min_lstm": MinLSTMCell,
    "slstm": SLSTMCell,
    "mlstm": MLSTMCell,
}


class CellLayer(nn.Module):
    """One :class:`~seqtk.nn.encoders.StackedEncoder` layer of Python cells: one cell per direction.

    ``options`` are the LayerSpec fields the cell class names in its ``options`` (e.g. ``heads``).

    >>> CellLayer("peephole_lstm", 3, 4, bidirectional=True).state_size
    2
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, bidirectional: bool = False,
                 nonlinearity: str = "tanh", **options: object) -> None:
        super().__init__()
        kind = PYTHON_CELLS[cell]
        self.cell, self.hidden_size, self.bidirectional = cell, hidden_size, bidirectional
        self.state_size = kind.state_size
        taken = {name: options[name] for name in kind.options if name in options}
        self.directions = nn.ModuleList(
            kind(input_size, hidden_size, nonlinearity, **taken) for _ in range(1 + bidirectional)
        )

    @property
    def output_size(self) -> int:
        """Features of one direction's h_t."""
        return self.directions[0].output_size
