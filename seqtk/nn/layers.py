"""What one recurrent layer of a stack is: :class:`LayerSpec`, and :func:`check_stack` for a list of them.

Recipes describe encoders as ``[[model.layers]]`` tables; each becomes a
frozen, validated :class:`LayerSpec` before any module is built, so a bad
cell name or an impossible stack is reported at ``seqtk recipes validate``.
:class:`seqtk.nn.encoders.StackedEncoder` builds and runs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from torch import nn

from seqtk.errors import SeqtkValueError, suggest
from seqtk.nn.cell_kinds import PYTHON_CELLS
from seqtk.nn.cells import REFERENCE_CELLS
from seqtk.nn.recurrent_cell import NONLINEARITIES

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
#: every cell name a LayerSpec accepts: the fused kernels, then the Python cells (seqtk.nn.cell_kinds)
KNOWN_CELLS = (*CELLS, *PYTHON_CELLS)
#: how a fused cell runs (LayerSpec.kernel)
KERNELS = ("auto", "fused", "fast", "reference")
#: the reference cell with a fused cell's equations: what kernel = "reference" runs
REFERENCE_OF = {"rnn": "elman", "lstm": "ref_lstm", "gru": "ref_gru"}
#: how a layer's weights start (LayerSpec.init)
INITS = ("default", "irnn")


@dataclass(frozen=True)
class LayerSpec:
    """One recurrent layer of a :class:`StackedEncoder`.

    >>> LayerSpec("gru", 64).output_dim
    64
    >>> LayerSpec.from_any({"cell": "lstm", "hidden_size": 32, "bidirectional": True}).output_dim
    64
    """

    cell: str = field(
        default="lstm",
        metadata={
            "help": "recurrent cell: rnn, lstm or gru (fused kernels); a reference cell (seqtk.nn.cells, "
            "docs/cells.md): elman, irnn, ref_lstm, peephole_lstm, coupled_lstm, ref_gru, cho_gru; or a modern "
            "one: ln_lstm (layer-normalised LSTM), min_gru, min_lstm (parallel-scan minimal RNNs), slstm, "
            "mlstm (xLSTM)"
        },
    )
    hidden_size: int = field(default=128, metadata={"help": "size of the hidden state (per direction)"})
    bidirectional: bool = field(
        default=False, metadata={"help": "also read the sequence backwards; doubles the output size"}
    )
    dropout: float = field(
        default=0.0, metadata={"help": "dropout probability applied to this layer's output while training"}
    )
    return_sequences: bool = field(
        default=True,
        metadata={"help": "output every step (B, T, H); false outputs each sequence's last step (B, H)"},
    )
    nonlinearity: str = field(
        default="tanh",
        metadata={
            "help": "tanh or relu, for rnn and the reference cells (in LSTMs and GRUs it replaces tanh on the "
            "candidate and the cell output, like Keras' activation=); irnn is always relu"
        },
    )
    kernel: str = field(
        default="auto",
        metadata={
            "help": "how rnn, lstm and gru run: auto (cuDNN on a GPU; on a CPU oneDNN for lstm, and for gru/rnn "
            "training seqtk's hand-written BPTT where measured faster), fused (PyTorch's kernels only), fast "
            "(seqtk's BPTT for every gru/rnn CPU training shape), or reference (the same equations as a Python "
            "cell from seqtk.nn.cells, step by step: slow, readable, and it takes nonlinearity = relu); reference "
            "cells always run as Python cells"
        },
    )

    proj_size: int = field(
        default=0,
        metadata={
            "help": "lstm only: project h_t to this many features (nn.LSTM's proj_size, cuDNN's LSTMP); the "
            "layer then outputs proj_size per direction; 0 = no projection"
        },
    )
    weight_drop: float = field(
        default=0.0,
        metadata={
            "help": "DropConnect on the hidden-to-hidden weights while training (AWD-LSTM's weight-drop), "
            "for rnn, lstm and gru: one mask per batch, the fused kernel still runs"
        },
    )
    locked_dropout: bool = field(
        default=False,
        metadata={
            "help": "apply this layer's dropout with one mask per sequence, the same at every step "
            "(variational / locked dropout, Gal & Ghahramani 2016; AWD-LSTM)"
        },
    )
    heads: int = field(
        default=1,
        metadata={"help": "slstm and mlstm: split the hidden state into this many heads (hidden_size divisible)"},
    )
    init: str = field(
        default="default",
        metadata={
            "help": 'how the weights start: default (PyTorch\'s), or irnn (cell = "rnn" with nonlinearity = "relu" '
            "only: identity recurrent weights and zero biases, Le et al. 2015; the fused kernel's form of the "
            "reference cell irnn)"
        },
    )

    def __post_init__(self) -> None:
        if self.cell not in KNOWN_CELLS:
            raise SeqtkValueError(
                f"unknown cell {self.cell!r}.{suggest(str(self.cell), KNOWN_CELLS)} "
                f"Known cells: {', '.join(KNOWN_CELLS)}",
                fix="set cell to one of the known cells",
            )
        if isinstance(self.hidden_size, bool) or not isinstance(self.hidden_size, int) or self.hidden_size < 1:
            raise SeqtkValueError(
                f"hidden_size must be a positive integer, got {self.hidden_size!r}", fix="set e.g. hidden_size: 128"
            )
        if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
            raise SeqtkValueError(f"dropout must be in [0, 1), got {self.dropout!r}", fix="set e.g. dropout: 0.2")
        if self.nonlinearity not in NONLINEARITIES:
            raise SeqtkValueError(
                f"unknown nonlinearity {self.nonlinearity!r}", fix=f"use one of {', '.join(NONLINEARITIES)}"
            )
        if self.kernel not in KERNELS:
            raise SeqtkValueError(
                f"unknown kernel {self.kernel!r}.{suggest(str(self.kernel), KERNELS)}", fix=f"use one of {', '.join(KERNELS)}"
            )
        if self.kernel != "auto" and self.cell not in CELLS:
            raise SeqtkValueError(
                f"kernel={self.kernel!r} applies to the fused cells rnn, lstm and gru, not {self.cell}",
                fix=f"remove kernel ({self.cell} always runs as {PYTHON_CELLS[self.cell].training_form!r})",
            )
        if self.kernel == "fast" and self.cell == "lstm":
            raise SeqtkValueError(
                "kernel='fast' (seqtk's BPTT) exists for gru and rnn; lstm has oneDNN's fused kernel on a CPU",
                fix="use kernel = auto or fused for lstm",
            )
        self._check_modern_options()
        self._check_init()
        if self.nonlinearity != "tanh" and self.cell in ("lstm", "gru") and self.kernel != "reference":
            raise SeqtkValueError(
                f"nonlinearity={self.nonlinearity!r} applies only to rnn cells and the reference cells, "
                f"not {self.cell} (the fused kernel has tanh built in)",
                fix=f"remove nonlinearity, set cell: rnn, or kernel: reference (the reference cell ref_{self.cell})",
            )

    def _check_modern_options(self) -> None:
        _check_count("proj_size", self.proj_size, low=0)
        _check_count("heads", self.heads, low=1)
        if self.proj_size and self.cell != "lstm":
            raise SeqtkValueError(
                f"proj_size applies to lstm layers (nn.LSTM's projections), not {self.cell}",
                fix="remove proj_size, or set cell = \"lstm\"",
            )
        if self.proj_size and self.kernel in ("reference", "fast"):
            raise SeqtkValueError(
                f"proj_size runs on PyTorch's fused LSTM only, not kernel={self.kernel!r}",
                fix="remove kernel (auto), or remove proj_size",
            )
        if self.proj_size >= self.hidden_size:
            raise SeqtkValueError(
                f"proj_size ({self.proj_size}) must be smaller than hidden_size ({self.hidden_size})",
                fix=f"set proj_size below {self.hidden_size}, or remove it",
            )
        if not isinstance(self.weight_drop, (int, float)) or isinstance(self.weight_drop, bool) or not (
            0.0 <= self.weight_drop < 1.0
        ):
            raise SeqtkValueError(f"weight_drop must be in [0, 1), got {self.weight_drop!r}", fix="set e.g. weight_drop = 0.5")
        if self.weight_drop and (self.cell not in CELLS or self.kernel == "reference"):
            raise SeqtkValueError(
                f"weight_drop applies to the fused cells rnn, lstm and gru, not {self.cell}",
                fix="remove weight_drop, or use cell = \"lstm\" (AWD-LSTM)",
            )
        if self.nonlinearity != "tanh" and self.cell in ("min_gru", "min_lstm", "mlstm"):
            raise SeqtkValueError(
                f"nonlinearity={self.nonlinearity!r} does not apply to {self.cell}, whose equations fix their "
                "activations (docs/cells.md)",
                fix="remove nonlinearity",
            )
        if not isinstance(self.locked_dropout, bool):
            raise SeqtkValueError(f"locked_dropout must be true or false, got {self.locked_dropout!r}", fix="set locked_dropout = true")
        takes_heads = "heads" in getattr(PYTHON_CELLS.get(self.cell), "options", ())
        if self.heads != 1 and not takes_heads:
            raise SeqtkValueError(
                f"heads applies to the xLSTM cells slstm and mlstm, not {self.cell}", fix="remove heads"
            )
        if self.hidden_size % self.heads:
            raise SeqtkValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by heads ({self.heads})",
                fix=f"set hidden_size to a multiple of {self.heads}",
            )

    def _check_init(self) -> None:
        if self.init not in INITS:
            raise SeqtkValueError(
                f"unknown layer init {self.init!r}.{suggest(str(self.init), INITS)}",
                fix='use init = "default" or "irnn"',
            )
        if self.init == "irnn" and (self.cell != "rnn" or self.nonlinearity != "relu"):
            raise SeqtkValueError(
                f'init = "irnn" needs cell = "rnn" and nonlinearity = "relu", but this layer has '
                f'cell = "{self.cell}" and nonlinearity = "{self.nonlinearity}"',
                fix='set cell = "rnn" and nonlinearity = "relu" on the layer, or remove init',
            )
        if self.init == "irnn" and self.kernel == "reference":
            raise SeqtkValueError(
                'init = "irnn" sets the fused rnn\'s weights, but kernel = "reference" runs the Python cell elman',
                fix='use cell = "irnn" (the reference IRNN cell) for the step-by-step form, or remove kernel',
            )

    def kernel_name(self) -> str:
        """What runs this layer, for ``seqtk summary``.

        >>> LayerSpec("gru", 8).kernel_name(), LayerSpec("lstm", 8).kernel_name(), LayerSpec("elman", 8).kernel_name()
        ('auto: cuDNN, or seqtk BPTT for CPU training', 'auto: cuDNN / oneDNN', 'reference: Python cell')
        """
        if self.cell in PYTHON_CELLS and self.cell not in REFERENCE_CELLS:
            return PYTHON_CELLS[self.cell].training_form
        if self.cell in REFERENCE_CELLS or self.kernel == "reference":
            return "reference: Python cell"
        if self.kernel == "fast":
            return "fast: seqtk BPTT for CPU training, else cuDNN"
        if self.proj_size:
            return f"{self.kernel}: cuDNN / ATen (oneDNN has no projections)"
        if self.kernel == "fused" or self.cell == "lstm":
            return f"{self.kernel}: cuDNN / {'oneDNN' if self.cell == 'lstm' else 'ATen'}"
        return "auto: cuDNN, or seqtk BPTT for CPU training"

    @classmethod
    def from_any(cls, value: LayerSpec | Mapping[str, Any]) -> LayerSpec:
        """Build a spec from a spec or a dict such as ``{"cell": "gru", "hidden_size": 64}``."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise SeqtkValueError(
                f"a layer must be a LayerSpec or a mapping, got {type(value).__name__}",
                fix="write the layer as e.g. {cell: lstm, hidden_size: 128}",
            )
        known = [f.name for f in fields(cls)]
        for key in value:
            if key not in known:
                raise SeqtkValueError(
                    f"unknown layer option {key!r}.{suggest(str(key), known)} Layer options: {', '.join(known)}",
                    fix=f"remove or rename {key!r}",
                )
        return cls(**value)

    @property
    def output_size(self) -> int:
        """Features of one direction's output: proj_size when the LSTM projects, else hidden_size."""
        return self.proj_size or self.hidden_size

    @property
    def output_dim(self) -> int:
        return self.output_size * (2 if self.bidirectional else 1)

    @property
    def state_size(self) -> int:
        """How many tensors the state has: 1 for h, 2 for (h, c), 4 for sLSTM's (h, c, n, m)."""
        return PYTHON_CELLS[self.cell].state_size if self.cell in PYTHON_CELLS else 1 + (self.cell == "lstm")

    @property
    def runs_as(self) -> str:
        """The cell that runs: ``cell``, or its reference cell when ``kernel = "reference"``.

        >>> LayerSpec("gru", 8, kernel="reference").runs_as
        'ref_gru'
        """
        return REFERENCE_OF[self.cell] if self.kernel == "reference" else self.cell

    def describe(self) -> str:
        """Short name used in messages, e.g. ``(gru, 64)``."""
        return f"({self.cell}, {self.hidden_size}{', bidirectional' if self.bidirectional else ''})"


def check_stack(layers: Sequence[LayerSpec | Mapping[str, Any]]) -> None:
    """Raise :class:`SeqtkValueError` if ``layers`` cannot be stacked; creates no modules.

    Layers are numbered from 1 in messages, as a user counts them in a recipe.

    >>> check_stack([{"cell": "gru", "hidden_size": 64, "return_sequences": False}, {"cell": "gru", "hidden_size": 64}])
    Traceback (most recent call last):
    ...
    seqtk.errors.SeqtkValueError: layer 2 (gru, 64) follows layer 1 (gru, 64), which has return_sequences=false, \
so it receives (B, 64) instead of (B, T, 64). Fix: set return_sequences=true on layer 1 \
(only the last layer may return one vector per sequence).
    """
    specs = [LayerSpec.from_any(spec) for spec in layers]
    if not specs:
        raise SeqtkValueError("the encoder has no layers", fix="add at least one layer, e.g. {cell: lstm}")
    for n, (prev, spec) in enumerate(zip(specs, specs[1:]), start=1):
        if not prev.return_sequences:
            raise SeqtkValueError(
                f"layer {n + 1} {spec.describe()} follows layer {n} {prev.describe()}, which has "
                f"return_sequences=false, so it receives (B, {prev.output_dim}) "
                f"instead of (B, T, {prev.output_dim})",
                fix=f"set return_sequences=true on layer {n} (only the last layer may return one vector per sequence)",
            )


def _check_count(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SeqtkValueError(f"{name} must be an integer >= {low}, got {value!r}", fix=f"set {name} = {max(low, 1)} or more")
