"""Windows given to ``seqtk.load(...).predict`` as numbers rather than text.

A window is the last ``data.window`` values of the series, oldest first. ``seqtk predict`` reads it as a string
of numbers separated by spaces or commas, and so does ``predict()``; from Python it may also be a list or tuple
of numbers, or a 1-D numpy array or torch tensor, and a 2-D array or tensor (N x window) is a batch of N
windows, one forecast each. A list of lists is a list of windows::

    p.predict([301.2, 302.5, 303.1])          # one window (data.window = 3)
    p.predict(np.stack([w1, w2]))             # two windows, two forecasts
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import torch

from seqtk.errors import SeqtkError
from seqtk.tasks.predict_inputs import as_tensor

#: for ForecastTask.predict_takes and predict_example
TAKES = "a window of numbers (a list of floats, or a 1-D numpy array or torch tensor; N x window for a batch)"
EXAMPLE = '["301.2 302.5 303.1", [301.2, 302.5, 303.1]]'


def window_items(value: Any, window: int) -> list[tuple[float, ...]] | None:
    """The windows ``value`` holds (one for a list or 1-D array of numbers, N for an N x window array); None
    when it holds no numbers."""
    if isinstance(value, (list, tuple)):
        return [tuple(float(v) for v in value)] if all(is_number(v) for v in value) else None
    tensor = as_tensor(value)
    if tensor is None or tensor.dtype == torch.bool:
        return None
    if tensor.dim() == 1:
        return [tuple(tensor.double().tolist())]
    if tensor.dim() == 2 and tensor.size(1) == window:
        return [tuple(row) for row in tensor.double().tolist()]
    raise SeqtkError(
        f"task 'forecast' reads a window of {window} values (data.window) as a 1-D array or tensor, or a batch of "
        f"windows as a 2-D one of shape (N, {window}); this one's shape is {tuple(tensor.shape)}",
        fix=f"pass the last {window} values of the series, oldest first: one window as a 1-D array, N of them as "
        f"an (N, {window}) array (a column of shape ({window}, 1) is a window: flatten it, .reshape(-1))",
    )


def window_values(item: str | tuple[float, ...], window: int) -> list[float]:
    """One input of predict() as its ``window`` values: a string of numbers is parsed, a window of numbers kept."""
    if isinstance(item, tuple):
        values, shown = list(item), f"{len(item)}"
    else:
        try:
            values = [float(v) for v in item.replace(",", " ").split()]
        except ValueError:
            values = []
        shown = f"'{item[:60]}'"
    if len(values) != window:
        raise SeqtkError(f"a forecast input needs {window} numbers (data.window), got {shown}",
                         fix=f"pass the last {window} values of the series, oldest first")  # fmt: skip
    return values


def is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)
