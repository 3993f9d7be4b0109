"""What a task learns from its training data, saved in checkpoints and restored by the core.

A task names the attributes in ``Task.learned`` (its vocabulary, label names,
normalisation statistics); seqtk writes them into every checkpoint under
``"learned"`` and puts them back before ``load_state_dict`` and ``prepare()``
(:mod:`seqtk.tasks.lifecycle`), so a plugin writes no ``state_dict`` code for them
(AllenNLP builds the vocabulary for its models the same way). A value may be
plain data (numbers, strings, None, and lists, tuples and dicts of them), a
tensor, or an object with ``to_dict()`` and a classmethod ``from_dict(data)``
(a :class:`~seqtk.text.vocab.Vocab`, say).

>>> from seqtk.text.vocab import Vocab
>>> class Demo:
...     learned = ("vocab", "labels")
...     name = "demo"
>>> task = Demo()
>>> task.vocab, task.labels = Vocab.build([["a", "b"]]), ("neg", "pos")
>>> saved = save(task)
>>> other = Demo()
>>> restore(other, saved)
>>> other.vocab == task.vocab, other.labels
(True, ('neg', 'pos'))
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any

import torch

from seqtk.errors import SeqtkError

_PLAIN = (bool, int, float, str, type(None))
RESTORED = "_seqtk_restored_from_checkpoint"  # set on a task by restore()


def save(task: Any) -> dict[str, Any]:
    """The learned attributes that are set, encoded as plain data for a checkpoint."""
    out = {}
    for name in type(task).learned:
        value = getattr(task, name, None)
        if value is not None:
            out[name] = _encode(task, name, value)
    return out


def restore(task: Any, saved: dict[str, Any] | None) -> None:
    """Set each saved attribute that ``task`` names in ``learned`` (a checkpoint without ``"learned"``
    restores nothing; names the task does not declare are ignored, so a checkpoint sets nothing else)."""
    object.__setattr__(task, RESTORED, True)  # fill() then learns only what is still None
    for name in type(task).learned:
        if saved and name in saved:
            setattr(task, name, _decode(task, name, saved[name]))


def fill(task: Any, learn: Callable[[], dict[str, Any]]) -> None:
    """Set the learned attributes from ``learn()``: all of them on a fresh run (a default the task set in
    ``__init__`` is replaced), and on a task restored from a checkpoint only those still None (an old
    checkpoint may restore them through ``load_state_dict``).

    ``learn`` is called only if something is missing, and must return every name that is.
    """
    names = type(task).learned
    restored = getattr(task, RESTORED, False)
    missing = [name for name in names if not restored or getattr(task, name, None) is None]
    if not missing:
        return
    values = learn()
    if not isinstance(values, dict):
        raise SeqtkError(
            f"task '{task.name}': learn() returned a {type(values).__name__}, not a dict",
            fix="return {name: value} for each name in Task.learned, e.g. {'vocab': Vocab.build(...)}",
        )
    unknown = sorted(set(values) - set(names))
    absent = [name for name in missing if values.get(name) is None]
    if unknown or absent:
        problem = f"returned {', '.join(unknown)}, which Task.learned does not list" if unknown else (
            f"did not return {', '.join(absent)}")
        raise SeqtkError(
            f"task '{task.name}': learn() {problem} (learned = {tuple(names)})",
            fix="return a value for each name in Task.learned, and list every name learn() returns there",
        )
    for name in missing:
        setattr(task, name, values[name])


def describe(task: Any) -> str:
    """One line naming what the task learned, e.g. ``vocab (79 ids), labels (4)``."""
    parts = []
    for name in type(task).learned:
        value = getattr(task, name, None)
        if value is not None:
            try:
                size = f" ({len(value)}{' ids' if hasattr(value, 'to_dict') else ''})"
            except TypeError:  # no length: a number, a 0-d tensor
                size = ""
            parts.append(f"{name}{size}")
    return ", ".join(parts)


def _encode(task: Any, name: str, value: Any) -> Any:
    if isinstance(value, _PLAIN) or isinstance(value, torch.Tensor):
        return {"plain": value}
    if isinstance(value, (list, tuple)) and _plain_tree(value):
        return {"tuple" if isinstance(value, tuple) else "plain": list(value)}
    if isinstance(value, dict) and _plain_tree(value):
        return {"plain": value}
    cls = type(value)
    if callable(getattr(value, "to_dict", None)) and callable(getattr(cls, "from_dict", None)):
        return {"object": f"{cls.__module__}:{cls.__qualname__}", "data": value.to_dict()}
    raise SeqtkError(
        f"task '{task.name}' lists '{name}' in Task.learned, but self.{name} is a {cls.__name__}, which seqtk "
        "cannot save in a checkpoint",
        fix=f"make self.{name} plain data (numbers, strings, lists, dicts), a tensor, or an object with "
        "to_dict() and a classmethod from_dict(data); or drop it from learned and save it in state_dict()",
    )


def _plain_tree(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_tree(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain_tree(v) for v in value)
    return isinstance(value, _PLAIN) or isinstance(value, torch.Tensor)


def _decode(task: Any, name: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise _bad(name, "is not what seqtk writes")
    if "plain" in value:
        return value["plain"]
    if "tuple" in value:
        return tuple(value["tuple"])
    return _from_dict(task, name, str(value.get("object", "")), value.get("data"))


def _from_dict(task: Any, name: str, path: str, data: Any) -> Any:
    """``cls.from_dict(data)`` for a class of seqtk's or of the task's own package, never anything else:
    a checkpoint must not choose which code runs."""
    module, _, qualname = path.partition(":")
    own = type(task).__module__.split(".")[0]
    if module.split(".")[0] not in ("seqtk", "seqtk_plugins", own) or not qualname or any(
        part.startswith("_") for part in qualname.split(".")
    ):
        raise _bad(name, f"names the class '{path}', which is neither seqtk's nor task '{task.name}''s own")
    try:
        cls: Any = import_module(module) if module not in sys.modules else sys.modules[module]
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError) as exc:
        raise _bad(name, f"names the class '{path}', which cannot be found ({exc})") from None
    if not isinstance(cls, type) or not callable(getattr(cls, "from_dict", None)):
        raise _bad(name, f"names '{path}', which is not a class with from_dict()")
    return cls.from_dict(data)


def _bad(name: str, problem: str) -> SeqtkError:
    return SeqtkError(
        f"the checkpoint's learned state '{name}' {problem}",
        fix="load it with the task plugin (and version) that wrote it, or train again",
    )
