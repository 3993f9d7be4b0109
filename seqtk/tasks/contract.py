"""The Task contract, checked: a plugin's mistake reads as the plugin's, with its fix.

Without these checks a task that returns a tuple from ``step()`` or sets
``self.splits = {...}`` fails deep inside the trainer with an internal
error that blames seqtk. Each check here names the task, the member and
what the plugin must change; ``docs/plugins.md`` lists the contract.

- :func:`check_task_class`: before a run, and by ``seqtk recipes validate``;
- :func:`check_step_output` and :func:`check_predictions` (in
  :mod:`seqtk.tasks.step`, the task/trainer boundary; re-exported here): every
  ``step()`` result the trainer and the evaluation loop use, and what
  ``predict()`` returns;
- instance attributes that would hide a Task method are refused by
  ``Task.__setattr__`` itself.
"""

from __future__ import annotations

from seqtk.errors import SeqtkError
from seqtk.tasks.step import check_predictions, check_step_output, where
from seqtk.tasks.task import TASK_METHODS, Task

__all__ = ["check_predictions", "check_step_output", "check_task_class", "where"]

_TRAINING_METHODS = ("prepare", "train_loader", "eval_batches", "build_model", "step")


def check_task_class(task_cls: type[Task]) -> None:
    """A plugin's task class implements what training calls and declares its recipe sections as dataclasses."""
    source = where(task_cls)
    missing = [name for name in _TRAINING_METHODS if not _implements(task_cls, name)]
    if missing:
        raise SeqtkError(
            f"the task '{task_cls.name}'{source} cannot train: its class {task_cls.__qualname__} does not "
            f"implement {', '.join(_missing_name(task_cls, name) for name in missing)}",
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
    _check_predict_options(task_cls, source)


def _check_predict_options(task_cls: type[Task], source: str) -> None:
    """Each name in ``predict_options`` must be a keyword that ``predict()`` takes."""
    import inspect

    params = inspect.signature(task_cls.predict).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    missing = sorted(name for name in task_cls.predict_options if name not in params)
    if missing:
        raise SeqtkError(
            f"the task '{task_cls.name}'{source} names {', '.join(missing)} in predict_options, but its predict() "
            "takes no such keyword, so `seqtk predict` would fail when the option is given",
            fix=f"add {', '.join(f'{m}=...' for m in missing)} to predict()'s parameters, or drop "
            f"{'it' if len(missing) == 1 else 'them'} from predict_options",
        )


def _implements(task_cls: type[Task], name: str) -> bool:
    """``prepare`` counts as implemented through its hooks: ``load_data``, and ``learn`` when learned is set."""
    if getattr(task_cls, name, None) is not getattr(Task, name):
        return True
    if name != "prepare":
        return False
    hooks = ("load_data", "learn") if task_cls.learned else ("load_data",)
    return all(getattr(task_cls, hook) is not getattr(Task, hook) for hook in hooks)


def _missing_name(task_cls: type[Task], name: str) -> str:
    if name != "prepare":
        return name
    return f"prepare (or its hooks load_data{' and learn' if task_cls.learned else ''})"


def _check_config_class(task_cls: type[Task], attr: str, source: str) -> None:
    cls, base = getattr(task_cls, attr), getattr(Task, attr)
    section = attr.split("_")[0]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise SeqtkError(
            f"the task '{task_cls.name}'{source}: {attr} is {cls!r}, not a subclass of seqtk.config.schema.{base.__name__}",
            fix=f"declare @dataclass(frozen=True) class My{base.__name__}({base.__name__}) and set {attr} = My{base.__name__}",
        )
    declared = [name for name in vars(cls).get("__annotations__", {}) if not name.startswith("_")]
    if declared and "__dataclass_fields__" not in vars(cls):
        raise SeqtkError(
            f"the task '{task_cls.name}'{source}: {cls.__qualname__} declares {', '.join(declared)} but is not a "
            f"dataclass, so a recipe's [{section}] section cannot set them",
            fix=f"decorate {cls.__qualname__} with @dataclass(frozen=True)",
        )
