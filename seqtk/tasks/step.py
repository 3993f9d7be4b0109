"""The boundary between a task and the trainer: what ``Task.step`` returns, checked.

:class:`StepOutput` is what a task's ``step()`` hands the trainer, which owns
backward, the scaler and the optimiser. :func:`check_step_output` checks
every one the trainer and the evaluation loop use, and
:func:`check_predictions` what ``predict()`` returns; each error names the
task, where it came from (:func:`where`) and the fix. This module imports
nothing else of seqtk's, so every layer above may use it.
"""

from __future__ import annotations

import math
import numbers
import weakref
from dataclasses import dataclass, field
from typing import Any

import torch

from seqtk.errors import SeqtkError

_STEP_FIX = "return seqtk.tasks.task.StepOutput(loss=<the batch's mean loss, a 0-d tensor>, count=<items it averages over>, metrics={...})"
#: where each registered task class came from ("seqtk 0.1.0 (textgen = ...)"), filled by seqtk.tasks.registry
_SOURCES: weakref.WeakKeyDictionary[type, str] = weakref.WeakKeyDictionary()


@dataclass
class StepOutput:
    """What :meth:`Task.step` returns for one batch.

    ``metrics`` hold per-batch *means*; ``count`` is the number of items
    (tokens or examples) they average over (or their total weight), used to
    weight them across batches and to measure throughput.
    """

    loss: torch.Tensor
    count: int | float
    metrics: dict[str, float] = field(default_factory=dict)
    #: per-batch outputs for the task's evaluation reducer (logits, predictions); never averaged
    outputs: dict[str, Any] = field(default_factory=dict)
    #: the multiple of the scheduled learning rate this batch's optimiser step uses (AWD-LSTM's variable-length
    #: BPTT: the batch's length over the nominal one, seqtk.data.lm_batches.bptt_lr_scale); 1 leaves it alone
    lr_scale: float = 1.0


def record_source(task_cls: type, source: str) -> None:
    """Remember where a registered task class came from, for :func:`where` (the registry calls this)."""
    _SOURCES[task_cls] = source


def where(task_cls: type) -> str:
    """`` (from SOURCE)`` for a registered task class, else an empty string."""
    source = _SOURCES.get(task_cls)
    return f" (from {source})" if source else ""


def check_predictions(task: Any, predictions: Any, n_inputs: int) -> list[dict[str, Any]]:
    """What :meth:`Task.predict` returned, if it is one dict per input in order; else a clear error.

    ``seqtk predict`` and :func:`seqtk.testing.check_task` both apply it.
    """
    if not isinstance(predictions, list) or len(predictions) != n_inputs or not all(isinstance(p, dict) for p in predictions):
        got = f"{len(predictions)} results" if isinstance(predictions, list) else type(predictions).__name__
        if isinstance(predictions, list) and len(predictions) == n_inputs:
            got = "a list whose items are not all dicts"
        raise SeqtkError(
            f"task '{task.name}'.predict(){where(type(task))} returned {got} for {n_inputs} inputs",
            fix="return a list with one dict per input, in order (docs/plugins.md)",
        )
    return predictions


def check_step_output(task: Any, out: Any, train: bool) -> StepOutput:
    """``out`` as :meth:`Task.step` must return it, with metrics as plain floats; else a clear error."""
    if not isinstance(out, StepOutput):
        raise SeqtkError(f"{_step_of(task)} returned {type(out).__name__}, not a StepOutput", fix=_STEP_FIX)
    loss = out.loss
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        got = f"a tensor of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise SeqtkError(
            f"{_step_of(task)} returned StepOutput.loss as {got}; the trainer needs the batch's mean loss, "
            "a one-element tensor",
            fix="return the loss tensor itself (not loss.item()), reduced to its mean (e.g. F.cross_entropy's default)",
        )
    if train and not loss.requires_grad:
        raise SeqtkError(
            f"{_step_of(task)} returned a loss that does not require grad at train=True, so nothing can learn",
            fix="compute the loss from the model's output without .detach() or torch.no_grad() when train is True",
        )
    count = out.count.item() if isinstance(out.count, torch.Tensor) and out.count.numel() == 1 else out.count
    if isinstance(count, bool) or not isinstance(count, numbers.Real) or not 0 <= count < math.inf:
        raise SeqtkError(
            f"{_step_of(task)} returned StepOutput.count = {out.count!r}; it must be a number >= 0",
            fix="set count to the number of items (examples or tokens) the loss averages over",
        )
    metrics = {key: _metric(task, key, value) for key, value in out.metrics.items()}
    lr_scale = getattr(out, "lr_scale", 1.0)
    if isinstance(lr_scale, bool) or not isinstance(lr_scale, numbers.Real) or not 0 < lr_scale < math.inf:
        raise SeqtkError(
            f"{_step_of(task)} returned StepOutput.lr_scale = {lr_scale!r}; it must be a number > 0",
            fix="leave lr_scale at 1.0, or set it to the batch's length over the nominal one",
        )
    return StepOutput(loss, count, metrics, getattr(out, "outputs", None) or {}, float(lr_scale))


def _metric(task: Any, key: str, value: Any) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise SeqtkError(
        f"{_step_of(task)} returned metric '{key}' = {value!r}; metrics must be numbers (a batch mean each)",
        fix=f"set metrics['{key}'] to a float or a one-element tensor",
    )


def _step_of(task: Any) -> str:
    return f"task '{task.name}'.step(){where(type(task))}"
