"""Recipe value checks that every task's ``validate`` uses, with one wording.

Each raises :class:`~seqtk.errors.SeqtkError` naming the recipe key, the
value given and what to set instead; none touches data or the file system, so
a recipe validates on a machine without its data.

>>> at_least("data.seq_len", 64, 1)
>>> at_least("data.seq_len", 0, 1)
Traceback (most recent call last):
...
seqtk.errors.SeqtkError: data.seq_len must be at least 1, not 0. Fix: set data.seq_len >= 1.
>>> split_fractions(0.1, 0.1)
>>> split_fractions(0.4, 0.3)
Traceback (most recent call last):
...
seqtk.errors.SeqtkError: data.val_fraction + data.test_fraction = 0.7 holds out more than 50% of the data, leaving too little to train on. Fix: hold out at most 50%, e.g. val_fraction = 0.1 and test_fraction = 0.1.
"""

from __future__ import annotations

import math
import re

from seqtk.errors import SeqtkError


def at_least(key: str, value: int | float, low: int | float, fix: str | None = None) -> None:
    """``key`` (a dotted recipe path) must be ``>= low`` (and a number: NaN is refused).

    >>> at_least("train.grad_clip", float("nan"), 0)
    Traceback (most recent call last):
    ...
    seqtk.errors.SeqtkError: train.grad_clip must be at least 0, not nan. Fix: set train.grad_clip >= 0.
    """
    if isinstance(value, bool) or not value >= low:
        raise SeqtkError(f"{key} must be at least {low}, not {value}", fix=fix or f"set {key} >= {low}")


def finite(key: str, value: float, fix: str) -> None:
    """``key`` must be a finite number (TOML and overrides accept nan and inf)."""
    if not math.isfinite(value):
        raise SeqtkError(f"{key} must be a finite number, not {value}", fix=fix)


def dropout(key: str, value: float, example: float = 0.1) -> None:
    """A dropout probability: in [0, 1)."""
    if not 0 <= value < 1:
        name = key.rsplit(".", 1)[-1]
        raise SeqtkError(f"{key} must be in [0, 1), not {value}", fix=f"use e.g. {name} = {example}")


def split_fractions(
    val: float, test: float, *, max_held: float = 0.5, example: tuple[float, float] = (0.1, 0.1)
) -> None:
    """``data.val_fraction`` in (0, 1), ``data.test_fraction`` in [0, 1), together at most ``max_held``."""
    hint = f"val_fraction = {example[0]} and test_fraction = {example[1]}"
    if not 0 < val < 1 or not 0 <= test < 1:
        raise SeqtkError(
            f"data.val_fraction ({val}) must be in (0, 1) and data.test_fraction ({test}) in [0, 1)",
            fix=f"use e.g. {hint}",
        )
    if val + test > max_held:
        raise SeqtkError(
            f"data.val_fraction + data.test_fraction = {val + test:g} holds out more than {max_held:.0%} of the "
            "data, leaving too little to train on",
            fix=f"hold out at most {max_held:.0%}, e.g. {hint}",
        )


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(h|m|s)")


def duration(key: str, text: str) -> float:
    """A duration such as ``"90s"``, ``"8m"``, ``"1h30m"`` or ``"1.5h"`` in seconds; ``""`` and ``"0"`` are 0.

    >>> duration("train.time_budget", "1h30m"), duration("train.time_budget", "90s"), duration("x", "")
    (5400.0, 90.0, 0.0)
    >>> duration("train.time_budget", "8 minutes")
    Traceback (most recent call last):
    ...
    seqtk.errors.SeqtkError: train.time_budget = '8 minutes' is not a duration. Fix: write it as a number with h, m or s, e.g. "8m", "90s" or "1h30m"; "" (or "0") turns it off.
    """
    compact = text.strip().lower().replace(" ", "")
    if compact in ("", "0"):
        return 0.0
    parts = _DURATION.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise SeqtkError(
            f"{key} = {text!r} is not a duration",
            fix='write it as a number with h, m or s, e.g. "8m", "90s" or "1h30m"; "" (or "0") turns it off',
        )
    seconds = sum(float(number) * {"h": 3600, "m": 60, "s": 1}[unit] for number, unit in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise SeqtkError(f"{key} = {text!r} is not a positive duration", fix='use e.g. "8m", or "" to turn it off')
    return seconds
