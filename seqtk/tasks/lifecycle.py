"""The one order in which seqtk drives a task, in every command.

==========================  ==========================================================================
command                     order
==========================  ==========================================================================
``seqtk run`` (fresh)       construct -> fetch_pretrained -> prepare -> build_model -> init_model
``seqtk run --resume``      construct -> restore -> load_state_dict -> prepare -> build_model
``seqtk eval``              construct -> restore -> load_state_dict -> prepare -> build_model
``seqtk predict/generate``  construct -> restore -> load_state_dict -> build_model (no data)
``seqtk summary``           construct -> prepare -> build_model
``seqtk.testing``           as run, then as eval
==========================  ==========================================================================

A fresh run's initialisation is the task's :meth:`Task.init_model`, called
once on the built model (:func:`built_model`), never when a checkpoint's
weights follow: a task that copied pretrained vectors in ``build_model()``
would have to know whether a checkpoint is coming, which only the core does.
What it reads is found or fetched by :meth:`Task.fetch_pretrained` before the
data, so a misspelt set or a missing file stops the run before a large corpus
is read (:func:`ready_task` with ``fresh=True``).

Restored state always comes before anything derived from it: ``prepare()``
finds the checkpoint's vocabulary and labels already in place and must keep
them, or the model would read ids and labels it was not trained with (a plugin
that rebuilt its label list in ``prepare()`` once made ``seqtk eval`` report
accuracy 0.156 instead of 0.969, silently, after a label was dropped from the
data file). A task names the attributes that hold what it learns from its
training data in ``Task.learned`` ("restore" above puts the checkpoint's
back). ``Task.prepare`` is ``load_data -> learn -> encode_data``, with
``learn()``'s result setting only what was not restored
(:func:`seqtk.tasks.learned.fill`); a task that overrides ``prepare()`` instead is
checked afterwards: a restored attribute (or, for a task that declares no
``learned``, each entry of its ``state_dict()``) must still be the same
object or equal, or the command stops with the fix before it prints a
figure. ``Task.rebuilt_by_prepare`` names state rebuilt from the data on
purpose, which is exempt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from seqtk.errors import SeqtkError

if TYPE_CHECKING:
    from rich.console import Console
    from torch import nn

    from seqtk.config.schema import Recipe
    from seqtk.tasks.task import Task


def ready_task(task_cls: type[Task], recipe: Recipe, checkpoint: dict[str, Any] | None = None, *,
               data: bool = True, fresh: bool = False, console: Console | None = None) -> Task:
    """A task driven through the lifecycle: a checkpoint's learned attributes (:mod:`seqtk.tasks.learned`) and
    ``task_state`` restored (if one is given), then data prepared (if ``data``). ``fresh`` (a fresh
    ``seqtk run``, no checkpoint): :meth:`Task.fetch_pretrained` first. ``console``, when given, receives
    the task's data reports (a quiet one on every process but the first of a distributed run)."""
    from seqtk.tasks import learned

    task = task_cls(recipe)
    if console is not None:
        task.console = console
    if checkpoint is not None:
        learned.restore(task, checkpoint.get("learned"))
        task.load_state_dict(checkpoint["task_state"])
    if fresh:
        task.fetch_pretrained()
    if data:
        prepare_keeping_state(task, checkpoint is not None, checkpoint["task_state"] if checkpoint else None)
    return task


def built_model(task: Task, *, fresh: bool) -> nn.Module:
    """``task.build_model()``; on a fresh run (``fresh``) initialised by ``task.init_model`` too.

    Everything else (resume, eval, predict, generate, ``seqtk.load``) loads a checkpoint's weights into
    the model next, so its initialisation would be work thrown away, and a file it reads may be gone.
    """
    model = task.build_model()
    if fresh:
        task.init_model(model)
    return model


def prepare_keeping_state(task: Task, restored: bool, task_state: dict[str, Any] | None = None) -> None:
    """``task.prepare()``; when state was restored, stop if ``prepare()`` replaced any of it.

    A task with ``Task.learned`` is checked attribute by attribute; a plugin written before ``learned``
    existed declares none, so what its ``state_dict()`` returns is compared before and after. Either way
    a change means the data were encoded with ids or labels the model was not trained with, so every
    figure computed from them would be wrong (a legacy plugin once printed test accuracy 0.25 for a
    checkpoint that scored 0.95): the command stops instead. State that ``prepare()`` rebuilds from the
    data on purpose is named in ``Task.rebuilt_by_prepare`` and kept as ``prepare()`` made it.
    ``task_state`` is accepted for callers of earlier versions and not used.
    """
    del task_state
    if not restored:
        task.prepare()
        return
    if not type(task).learned:
        _prepare_legacy(task)
        return
    before = {name: getattr(task, name, None) for name in type(task).learned}
    task.prepare()
    changed = [name for name, value in before.items() if not _kept(value, getattr(task, name, None))]
    _refuse_changes(task, changed, "replaced", lambda names: f"self.{', self.'.join(names)}",
                    lambda shown: f"in prepare(), build {shown} only while it is None (a restored one is kept)")


def _prepare_legacy(task: Task) -> None:
    try:  # an old plugin's state_dict() may need prepared data: then there is nothing to compare
        before: dict[str, Any] | None = task.state_dict()
    except Exception:
        before = None
    task.prepare()
    if before is None:
        return
    after = task.state_dict()
    changed = sorted(key for key in before.keys() | after.keys() if not same(before.get(key), after.get(key)))
    _refuse_changes(task, changed, "changed", lambda names: "the state_dict() " + ", ".join(repr(n) for n in names),
                    lambda shown: "name the attributes that hold what it learns from the data in Task.learned and "
                    "build them in learn() instead of prepare() (seqtk restores them before the data are read)")


def _refuse_changes(task: Task, changed: list[str], verb: str, show: Callable[[list[str]], str],
                    how: Callable[[str], str]) -> None:
    """Raise the one paragraph for state ``prepare()`` changed after a checkpoint restored it, less the
    names the task rebuilds on purpose (``Task.rebuilt_by_prepare``); ``show`` words the names."""
    changed = [name for name in changed if name not in type(task).rebuilt_by_prepare]
    if not changed:
        return
    from seqtk.tasks.step import where

    them = "it" if len(changed) == 1 else "them"
    raise SeqtkError(
        f"task '{task.name}'{where(type(task))}: prepare() {verb} {show(changed)} after seqtk restored {them} "
        "from the checkpoint, so the data would be read with ids or labels the model was not trained with and "
        "every figure computed from them would be wrong; nothing was evaluated or trained",
        fix=f"{how(show(changed))}; or, if prepare() rebuilds {them} from the data on purpose, declare "
        f"rebuilt_by_prepare = {tuple(changed)!r} on the task class "
        "(docs/plugins.md, 'The lifecycle')",
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
