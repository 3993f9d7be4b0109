"""What a task learns from its training data, saved in checkpoints and restored by the core.

A task names the attributes in ``Task.learned`` (its vocabulary, label names,
normalisation statistics); seqtk writes them into every checkpoint under
``"learned"`` and puts them back before ``load_state_dict`` and ``prepare()``
(:mod:`seqtk.lifecycle`), so a plugin writes no ``state_dict`` code for them
(AllenNLP builds the vocabulary for its models the same way). A value may be
plain data (numbers, strings, None, and lists, tuples and dicts of them), a
tensor, or an object with ``to_dict()`` and a classmethod ``from_dict(data)``
(a :class:`~seqtk.vocab.Vocab`, say).

>>> from seqtk.vocab import Vocab
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
from importlib import import_module
from typing import Any

import torch

from seqtk.errors import SeqtkError

_PLAIN = (bool, int, float, str, type(None))


def save(task: Any) -> dict[str, Any]:
    """The learned attributes that are set, encoded as plain data for a checkpoint."""
    out = {}
    for name in type(task).learned:
        value = getattr(task, name, None)
        if value is not None:
            out[name] = _encode(task, name, value)
    return out


def restore(task: Any, saved: dict[str, Any] | None) -> None:
    """Set each saved attribute on ``task`` (a checkpoint without ``"learned"`` restores nothing)."""
    for name, value in (saved or {}).items():
        setattr(task, name, _decode(name, value))


def describe(task: Any) -> str:
    """One line naming what the task learned, e.g. ``vocab (79 ids), labels (4)``."""
    parts = []
    for name in type(task).learned:
        value = getattr(task, name, None)
        if value is not None:
            size = f" ({len(value)}{' ids' if hasattr(value, 'to_dict') else ''})" if hasattr(value, "__len__") else ""
            parts.append(f"{name}{size}")
    return ", ".join(parts)


def _encode(task: Any, name: str, value: Any) -> Any:
    if isinstance(value, _PLAIN) or isinstance(value, torch.Tensor):
        return {"plain": value}
    if isinstance(value, (list, tuple)) and all(isinstance(v, _PLAIN) for v in value):
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


def _decode(name: str, value: Any) -> Any:
    if "plain" in value:
        return value["plain"]
    if "tuple" in value:
        return tuple(value["tuple"])
    module, _, qualname = value["object"].partition(":")
    # only classes of modules already loaded (the task's plugin) or seqtk's own: a checkpoint names no new code
    if module not in sys.modules and not module.split(".")[0] in ("seqtk", "seqtk_plugins"):
        raise SeqtkError(
            f"the checkpoint's learned '{name}' is a {value['object']}, whose module is not loaded",
            fix="load the task plugin that wrote the checkpoint (pip install it, or pass --plugin-dir)",
        )
    cls: Any = import_module(module)
    for part in qualname.split("."):
        cls = getattr(cls, part)
    return cls.from_dict(value["data"])
