"""The Task contract, checked: a plugin's mistake reads as the plugin's, with its fix.

Without these checks a task that returns a tuple from ``step()`` or sets
``self.splits = {...}`` fails deep inside the trainer with an internal
error that blames seqtk. Each check here names the task, the member and
what the plugin must change; ``docs/plugins.md`` lists the contract.

- :func:`check_task_class`: before a run, and by ``seqtk recipes validate``;
- :func:`check_step_output`: every ``step()`` result the trainer and
  :meth:`Task.evaluate` use;
- instance attributes that would hide a Task method are refused by
  ``Task.__setattr__`` itself.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

from seqtk.errors import SeqtkError
from seqtk.task import TASK_METHODS, StepOutput, Task

_TRAINING_METHODS = ("prepare", "train_loader", "eval_batches", "build_model", "step")
_STEP_FIX = "return seqtk.task.StepOutput(loss=<the batch's mean loss, a 0-d tensor>, count=<items it averages over>, metrics={...})"


def check_task_class(task_cls: type[Task]) -> None:
    """A plugin's task class implements what training calls and declares its recipe sections as dataclasses."""
    source = where(task_cls)
    missing = [name for name in _TRAINING_METHODS if getattr(task_cls, name, None) is getattr(Task, name)]
    if missing:
        raise SeqtkError(
            f"the task '{task_cls.name}'{source} cannot train: its class {task_cls.__qualname__} does not "
            f"implement {', '.join(missing)}",
            fix="implement them in the plugin (docs/plugins.md lists what a task needs), or update the plugin",
        )
    hidden = sorted(name for name in TASK_METHODS | {"validate"} if not callable(getattr(task_cls, name)))
    if hidden:
        raise SeqtkError(
            f"the task '{task_cls.name}'{source}: class {task_cls.__qualname__} sets {', '.join(hidden)} to a value, "
            f"which hides the Task method{'s' if len(hidden) > 1 else ''} seqtk calls",
            fix=f"rename the class attribute (_{hidden[0]}, say); docs/plugins.md lists the Task members",
        )
    for attr in ("data_config", "vocab_config", "model_config"):
        _check_config_class(task_cls, attr, source)


def _check_config_class(task_cls: type[Task], attr: str, source: str) -> None:
    cls, base = getattr(task_cls, attr), getattr(Task, attr)
    section = attr.split("_")[0]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise SeqtkError(
            f"the task '{task_cls.name}'{source}: {attr} is {cls!r}, not a subclass of seqtk.config.{base.__name__}",
            fix=f"declare @dataclass(frozen=True) class My{base.__name__}({base.__name__}) and set {attr} = My{base.__name__}",
        )
    declared = [name for name in vars(cls).get("__annotations__", {}) if not name.startswith("_")]
    if declared and "__dataclass_fields__" not in vars(cls):
        raise SeqtkError(
            f"the task '{task_cls.name}'{source}: {cls.__qualname__} declares {', '.join(declared)} but is not a "
            f"dataclass, so a recipe's [{section}] section cannot set them",
            fix=f"decorate {cls.__qualname__} with @dataclass(frozen=True)",
        )


def check_predictions(task: Task, predictions: Any, n_inputs: int) -> list[dict[str, Any]]:
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


def check_step_output(task: Task, out: Any, train: bool) -> StepOutput:
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
    return StepOutput(loss, count, metrics, getattr(out, "outputs", None) or {})


def _metric(task: Task, key: str, value: Any) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.detach())
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise SeqtkError(
        f"{_step_of(task)} returned metric '{key}' = {value!r}; metrics must be numbers (a batch mean each)",
        fix=f"set metrics['{key}'] to a float or a one-element tensor",
    )


def _step_of(task: Task) -> str:
    return f"task '{task.name}'.step(){where(type(task))}"


def where(task_cls: type) -> str:
    from seqtk.registry import default_registry

    entry = default_registry().tasks.get(getattr(task_cls, "name", ""))
    return f" (from {entry.source})" if entry and entry.cls is task_cls else ""

