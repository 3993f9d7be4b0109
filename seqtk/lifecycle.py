"""The one order in which seqtk drives a task, in every command.

==========================  ======================================================
command                     order
==========================  ======================================================
``seqtk run`` (fresh)       construct -> prepare -> build_model
``seqtk run --resume``      construct -> restore -> load_state_dict -> prepare -> build_model
``seqtk eval``              construct -> restore -> load_state_dict -> prepare -> build_model
``seqtk predict/generate``  construct -> restore -> load_state_dict -> build_model (no data)
``seqtk summary``           construct -> prepare -> build_model
``seqtk.testing``           as run, then as eval
==========================  ======================================================

Restored state always comes before anything derived from it: ``prepare()``
finds the checkpoint's vocabulary and labels already in place and must keep
them, or the model would read ids and labels it was not trained with (a plugin
that rebuilt its label list in ``prepare()`` once made ``seqtk eval`` report
accuracy 0.156 instead of 0.969, silently, after a label was dropped from the
data file). A task names the attributes that hold what it learns from its
training data in ``Task.learned`` ("restore" above puts the checkpoint's
back). ``Task.prepare`` is ``load_data -> learn -> encode_data``, with
``learn()``'s result setting only what was not restored
(:func:`seqtk.learned.fill`); a task that overrides ``prepare()`` instead is
checked afterwards: a restored attribute must still be the same object or
equal, or the command stops with the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from seqtk.errors import SeqtkError

if TYPE_CHECKING:
    from rich.console import Console

    from seqtk.config import Recipe
    from seqtk.task import Task


def ready_task(task_cls: type[Task], recipe: Recipe, checkpoint: dict[str, Any] | None = None, *,
               data: bool = True, console: Console | None = None) -> Task:
    """A task driven through the lifecycle: a checkpoint's learned attributes (:mod:`seqtk.learned`) and
    ``task_state`` restored (if one is given), then data prepared (if ``data``). ``console``, when given,
    receives the task's data reports (a quiet one on every process but the first of a distributed run)."""
    from seqtk import learned

    task = task_cls(recipe)
    if console is not None:
        task.console = console
    if checkpoint is not None:
        learned.restore(task, checkpoint.get("learned"))
        task.load_state_dict(checkpoint["task_state"])
    if data:
        prepare_keeping_state(task, checkpoint is not None, checkpoint["task_state"] if checkpoint else None)
    return task


def prepare_keeping_state(task: Task, restored: bool, task_state: dict[str, Any] | None = None) -> None:
    """``task.prepare()``; when state was restored, check that ``prepare()`` kept every learned attribute.

    A plugin written before ``Task.learned`` existed declares none; if its ``prepare()`` changes what its
    ``state_dict()`` returns, the checkpoint's ``task_state`` is loaded again after it (as resuming once
    did) and seqtk says how to declare the state instead.
    """
    if not restored:
        task.prepare()
        return
    if not type(task).learned:
        _prepare_legacy(task, task_state)
        return
    before = {name: getattr(task, name, None) for name in type(task).learned}
    task.prepare()
    changed = [name for name, value in before.items() if not _kept(value, getattr(task, name, None))]
    if changed:
        from seqtk.step import where

        names = ", ".join(f"self.{name}" for name in changed)
        raise SeqtkError(
            f"task '{task.name}'{where(type(task))}: prepare() replaced {names} after seqtk restored "
            f"{'it' if len(changed) == 1 else 'them'} from the checkpoint, so the model would read ids or labels "
            "it was not trained with",
            fix=f"in prepare(), build {names} only while it is None (a restored one is kept); "
            "docs/plugins.md, 'The lifecycle'",
        )


def _prepare_legacy(task: Task, task_state: dict[str, Any] | None) -> None:
    try:  # an old plugin's state_dict() may need prepared data: then there is nothing to compare
        before: dict[str, Any] | None = task.state_dict()
    except Exception:
        before = None
    task.prepare()
    if before is None:
        return
    after = task.state_dict()
    changed = sorted(key for key in before.keys() | after.keys() if not same(before.get(key), after.get(key)))
    if not changed:
        return
    if task_state is not None:
        task.load_state_dict(task_state)
    task.report_console().print(
        f"note: task '{task.name}': prepare() changed {', '.join(changed)} of the state restored from the "
        "checkpoint, so seqtk loaded the checkpoint's again. If that is a vocabulary or label list, list its "
        "attribute in Task.learned and build it in prepare() only while it is None (docs/plugins.md, "
        "'The lifecycle'), or the data may be encoded with the wrong ids.",
        highlight=False, markup=False,
    )


def same(a: Any, b: Any) -> bool:
    """Equal as checkpoint data: tensors by value, containers item by item.

    >>> same({"w": torch.ones(2), "n": [1, 2]}, {"w": torch.ones(2), "n": [1, 2]}), same(torch.ones(2), torch.zeros(2))
    (True, False)
    """
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b)
    except Exception:  # values without a plain ==: only the same object counts
        return a is b


def _kept(before: Any, after: Any) -> bool:
    return before is None or after is before or same(before, after)
