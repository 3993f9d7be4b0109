"""What one recurrent layer of a stack is: :class:`LayerSpec`, and :func:`check_stack` for a list of them.

Recipes describe encoders as ``[[model.layers]]`` tables; each becomes a
frozen, validated :class:`LayerSpec` before any module is built, so a bad
cell name or an impossible stack is reported at ``seqtk recipes validate``.
:class:`seqtk.encoders.StackedEncoder` builds and runs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from torch import nn

from seqtk.cells import NONLINEARITIES, REFERENCE_CELLS
from seqtk.errors import SeqtkValueError, suggest

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
#: every cell name a LayerSpec accepts: the fused kernels, then the reference cells of seqtk.cells
KNOWN_CELLS = (*CELLS, *REFERENCE_CELLS)
#: how a fused cell runs (LayerSpec.kernel)
KERNELS = ("auto", "fused", "fast", "reference")
#: the reference cell with a fused cell's equations: what kernel = "reference" runs
REFERENCE_OF = {"rnn": "elman", "lstm": "ref_lstm", "gru": "ref_gru"}


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
            "help": "recurrent cell: rnn, lstm or gru (fused kernels), or a reference cell (seqtk.cells, "
            "docs/cells.md): elman, irnn, ref_lstm, peephole_lstm, coupled_lstm, ref_gru, cho_gru"
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
            "cell from seqtk.cells, step by step: slow, readable, and it takes nonlinearity = relu); reference "
            "cells always run as Python cells"
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
                f"kernel={self.kernel!r} applies to the fused cells rnn, lstm and gru, not the reference cell {self.cell}",
                fix="remove kernel (a reference cell always runs as a Python cell)",
            )
        if self.kernel == "fast" and self.cell == "lstm":
            raise SeqtkValueError(
                "kernel='fast' (seqtk's BPTT) exists for gru and rnn; lstm has oneDNN's fused kernel on a CPU",
                fix="use kernel = auto or fused for lstm",
            )
        if self.nonlinearity != "tanh" and self.cell in ("lstm", "gru") and self.kernel != "reference":
            raise SeqtkValueError(
                f"nonlinearity={self.nonlinearity!r} applies only to rnn cells and the reference cells, "
                f"not {self.cell} (the fused kernel has tanh built in)",
                fix=f"remove nonlinearity, set cell: rnn, or kernel: reference (the reference cell ref_{self.cell})",
            )

    def kernel_name(self) -> str:
        """What runs this layer, for ``seqtk summary``.

        >>> LayerSpec("gru", 8).kernel_name(), LayerSpec("lstm", 8).kernel_name(), LayerSpec("elman", 8).kernel_name()
        ('auto: cuDNN, or seqtk BPTT for CPU training', 'auto: cuDNN / oneDNN', 'reference: Python cell')
        """
        if self.cell in REFERENCE_CELLS or self.kernel == "reference":
            return "reference: Python cell"
        if self.kernel == "fast":
            return "fast: seqtk BPTT for CPU training, else cuDNN"
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
    def output_dim(self) -> int:
        return self.hidden_size * (2 if self.bidirectional else 1)

    @property
    def state_size(self) -> int:
        """1 if the state is h, 2 if it is (h, c)."""
        return REFERENCE_CELLS[self.cell].state_size if self.cell in REFERENCE_CELLS else 1 + (self.cell == "lstm")

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
