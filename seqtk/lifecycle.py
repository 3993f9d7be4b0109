"""The one order in which seqtk drives a task, in every command.

==========================  ======================================================
command                     order
==========================  ======================================================
``seqtk run`` (fresh)       construct -> prepare -> build_model
``seqtk run --resume``      construct -> load_state_dict -> prepare -> build_model
``seqtk eval``              construct -> load_state_dict -> prepare -> build_model
``seqtk predict/generate``  construct -> load_state_dict -> build_model (no data)
``seqtk summary``           construct -> prepare -> build_model
``seqtk.testing``           as run, then as eval
==========================  ======================================================

Restored state always comes before anything derived from it: ``prepare()``
finds the checkpoint's vocabulary and labels already in place and must keep
them, or the model would read ids and labels it was not trained with (a plugin
that rebuilt its label list in ``prepare()`` once made ``seqtk eval`` report
accuracy 0.156 instead of 0.969, silently, after a label was dropped from the
data file). A task names the attributes that hold what it learns from its
training data in ``Task.learned``; after ``prepare()`` the core checks that a
restored one is still the same object or equal, and refuses with the fix if
not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqtk.errors import SeqtkError

if TYPE_CHECKING:
    from seqtk.config import Recipe
    from seqtk.task import Task


def ready_task(task_cls: type[Task], recipe: Recipe, checkpoint: dict[str, Any] | None = None, *,
               data: bool = True) -> Task:
    """A task driven through the lifecycle: a checkpoint's learned attributes (:mod:`seqtk.learned`) and
    ``task_state`` restored (if one is given), then data prepared (if ``data``)."""
    from seqtk import learned

    task = task_cls(recipe)
    if checkpoint is not None:
        learned.restore(task, checkpoint.get("learned"))
        task.load_state_dict(checkpoint["task_state"])
    if data:
        prepare_keeping_state(task, restored=checkpoint is not None)
    return task


def prepare_keeping_state(task: Task, restored: bool) -> None:
    """``task.prepare()``; when state was restored, check that ``prepare()`` kept every learned attribute."""
    if not restored:
        task.prepare()
        return
    before = {name: getattr(task, name, None) for name in type(task).learned}
    task.prepare()
    changed = [name for name, value in before.items() if not _kept(value, getattr(task, name, None))]
    if changed:
        from seqtk.contract import where

        names = ", ".join(f"self.{name}" for name in changed)
        raise SeqtkError(
            f"task '{task.name}'{where(type(task))}: prepare() replaced {names} after seqtk restored "
            f"{'it' if len(changed) == 1 else 'them'} from the checkpoint, so the model would read ids or labels "
            "it was not trained with",
            fix=f"in prepare(), build {names} only while it is None (a restored one is kept); "
            "docs/plugins.md, 'The lifecycle'",
        )


def _kept(before: Any, after: Any) -> bool:
    if before is None or after is before:
        return True
    try:
        return bool(before == after)
    except Exception:  # tensors and other values without a plain ==: only the same object counts
        return False
