"""Keras-style model summaries (layer, type, output shape, parameters) as rich tables.

Any ``nn.Module`` works. A module may describe itself by defining
``summary_rows(keras_style: bool) -> list[Row]``; otherwise its direct children
are listed, with output shapes shown as ``-`` since they are not known without
running the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.table import Table
from torch import nn

Row = tuple[str, str, str, int]  # (name, kind, output shape such as "(B, T, 256)", parameter count)

KERAS_FOOTNOTE = (
    "* Counted as Keras does: LSTM and SimpleRNN layers keep one bias vector per gate set, while "
    "PyTorch keeps two (b_ih and b_hh, whose sum is all that matters). GRU keeps both in either "
    "library (Keras' default reset_after=True)."
)


@dataclass(frozen=True)
class ParamCount:
    """Trainable and frozen parameter counts; shared (tied) tensors are counted once."""

    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable


def count_parameters(module: nn.Module, keras_style: bool = False) -> ParamCount:
    """Count the parameters of ``module``.

    >>> count_parameters(nn.LSTM(1, 50)).total
    10600
    >>> count_parameters(nn.LSTM(1, 50), keras_style=True).total
    10400
    """
    skip = _keras_redundant(module) if keras_style else set()
    trainable = frozen = 0
    for param in module.parameters():
        if id(param) in skip:
            continue
        if param.requires_grad:
            trainable += param.numel()
        else:
            frozen += param.numel()
    return ParamCount(trainable, frozen)


def summary_rows(model: nn.Module, keras_style: bool = False) -> list[Row]:
    """Rows for :func:`model_summary`: the model's own ``summary_rows`` or one row per child."""
    own = getattr(model, "summary_rows", None)
    if callable(own):
        return list(own(keras_style))
    rows: list[Row] = []
    for name, child in model.named_children():
        nested = getattr(child, "summary_rows", None)
        if callable(nested):
            rows.extend((f"{name} {n}", kind, shape, count) for n, kind, shape, count in nested(keras_style))
        else:
            rows.append((name, type(child).__name__, "-", count_parameters(child, keras_style).total))
    if not rows:  # a leaf module such as a bare nn.LSTM
        rows.append((type(model).__name__, type(model).__name__, "-", count_parameters(model, keras_style).total))
    return rows


def model_summary(
    model: nn.Module,
    rows: Sequence[Row] | None = None,
    *,
    keras_style: bool = False,
    title: str | None = None,
) -> Table:
    """Build a Keras ``model.summary()``-like table; print it with ``rich.console.Console().print``.

    >>> table = model_summary(nn.Sequential(nn.Linear(4, 8), nn.ReLU()))
    >>> table.row_count, table.caption.splitlines()[0]
    (2, 'Total params: 40')
    """
    if rows is None:
        rows = summary_rows(model, keras_style)
    counts = count_parameters(model, keras_style)
    star = " *" if keras_style else ""
    table = Table(title=title or type(model).__name__, caption=_caption(model, counts, keras_style))
    table.caption_justify = "left"
    table.add_column("Layer")
    table.add_column("Type")
    table.add_column("Output shape")
    table.add_column(f"Param #{star}", justify="right")
    for name, kind, shape, count in rows:
        table.add_row(name, kind, shape, f"{count:,}")
    return table


def _caption(model: nn.Module, counts: ParamCount, keras_style: bool) -> str:
    lines = [
        f"Total params: {counts.total:,}",
        f"Trainable params: {counts.trainable:,}",
        f"Non-trainable params: {counts.non_trainable:,}",
    ]
    if keras_style:
        pytorch = count_parameters(model).total
        lines.append(f"{KERAS_FOOTNOTE} PyTorch's own total: {pytorch:,}.")
    return "\n".join(lines)


def _keras_redundant(module: nn.Module) -> set[int]:
    """Ids of the bias tensors Keras does not have: ``bias_hh*`` of LSTM and plain RNN layers and cells."""
    redundant: set[int] = set()
    for sub in module.modules():
        recurrent = isinstance(sub, (nn.RNNBase, nn.RNNCellBase))
        if not recurrent or getattr(sub, "mode", "") == "GRU" or isinstance(sub, nn.GRUCell):
            continue
        redundant.update(id(p) for name, p in sub.named_parameters(recurse=False) if name.startswith("bias_hh"))
    return redundant
