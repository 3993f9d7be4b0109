"""The checks a recipe passes before any data is read: value checks with one wording, and the whole recipe's.

:func:`check_recipe` runs every check that needs no data (the run settings,
the device name, the model's layer stacks, the task's own ``validate``, the
``[data]`` keys the chosen source reads); the value checks below are what every
task's ``validate`` uses.

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
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from seqtk.errors import SeqtkError

if TYPE_CHECKING:
    from seqtk.config.schema import LogConfig, ModelConfig, Recipe, TrainConfig


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


def check_recipe(recipe: Recipe, task_cls: Any, given: tuple[str, ...] = (), written: Any = None) -> None:
    """Everything that can be checked without data: the run settings, the device name, the task's own checks,
    and that no ``[data]`` key in ``given`` (those the recipe and its overrides set) goes unread
    (``written``: the file's ``[data]`` before overrides, :func:`seqtk.config.source_keys.check_source_keys`)."""
    from seqtk.config.source_keys import check_source_keys
    from seqtk.runtime.device import check_device_name

    check_train_and_log(recipe.train, recipe.log)
    check_device_name(recipe.train.device)
    recipe.model.check()
    check_layer_stacks(recipe.model)
    task_cls.validate(recipe)
    check_source_keys(recipe.data, given, written)


def check_layer_stacks(model: ModelConfig) -> None:
    """Every ``[model]`` key that holds a stack of LayerSpecs must stack (any task's, a plugin's too), but for
    those the section's own ``check()`` stacked (``ModelConfig.stacks_checked``)."""
    from seqtk.nn.layers import LayerSpec, check_stack

    for f in fields(model):
        if f.name in type(model).stacks_checked:
            continue
        value = getattr(model, f.name)
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, LayerSpec) for v in value):
            try:
                check_stack(value)
            except SeqtkError as exc:
                raise SeqtkError(f"model.{f.name}: {exc.problem}", fix=exc.fix) from None


def check_train_and_log(train: TrainConfig, log: LogConfig) -> None:
    """Every check of the ``[train]`` and ``[log]`` sections, run wherever a recipe is resolved.

    ``seqtk recipes validate``, ``seqtk run`` and the library's ``run_training``
    all pass here (through :func:`check_recipe`) before any data is read, so
    each refuses the same values with the same words.
    """
    for key in ("max_steps", "batch_size", "eval_every", "step_every"):
        at_least(f"train.{key}", getattr(train, key), 1, fix=f"set train.{key} to a positive integer")
    for key in ("warmup_steps", "eval_batches", "patience", "num_threads", "nt_asgd_nonmono"):
        at_least(f"train.{key}", getattr(train, key), 0)
    finite("train.lr", train.lr, fix="set train.lr to e.g. 1e-3")
    if train.lr <= 0:
        raise SeqtkError(f"train.lr must be positive, not {train.lr}", fix="set train.lr to e.g. 1e-3")
    finite("train.weight_decay", train.weight_decay, fix="set train.weight_decay to e.g. 0.01, or 0")
    at_least("train.weight_decay", train.weight_decay, 0, fix="set train.weight_decay to e.g. 0.01, or 0")
    if not 0 <= train.momentum < 1:
        raise SeqtkError(f"train.momentum must be in [0, 1), not {train.momentum}", fix="set train.momentum to e.g. 0.9")
    if not 0 <= train.min_lr_ratio <= 1:
        raise SeqtkError(f"train.min_lr_ratio must be in [0, 1], not {train.min_lr_ratio}",
                         fix="set train.min_lr_ratio to e.g. 0.1 (the cosine floor as a fraction of train.lr)")
    if not 0 < train.gamma <= 1:
        raise SeqtkError(f"train.gamma must be in (0, 1], not {train.gamma}", fix="set train.gamma to e.g. 0.5")
    finite("train.grad_clip", train.grad_clip, fix="set train.grad_clip = 1.0, or 0 to turn clipping off")
    at_least("train.grad_clip", train.grad_clip, 0, fix="set train.grad_clip = 1.0, or 0 to turn clipping off")
    for key in ("time_budget", "checkpoint_every"):
        duration(f"train.{key}", getattr(train, key))
    if not (train.ema_decay == 0 or 0 < train.ema_decay < 1):
        raise SeqtkError(f"train.ema_decay must be 0 (off) or in (0, 1), not {train.ema_decay}",
                         fix="set train.ema_decay = 0.99 (about the last 100 steps' weights), or 0")
    if train.nt_asgd_nonmono and (train.optimizer != "sgd" or train.ema_decay):
        why = f"train.optimizer = {train.optimizer!r}" if train.optimizer != "sgd" else "train.ema_decay, another average"
        raise SeqtkError(f"train.nt_asgd_nonmono switches SGD to averaged SGD, which does not go with {why}",
                         fix='set train.optimizer = "sgd" (AWD-LSTM: train.momentum = 0) and train.ema_decay = 0, '
                         "or train.nt_asgd_nonmono = 0")  # fmt: skip
    for key in ("every", "grad_every"):
        at_least(f"log.{key}", getattr(log, key), 1, fix=f"set log.{key} = 10")
