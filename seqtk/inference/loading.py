"""A model back from its checkpoint: the task rebuilt through the lifecycle, the weights loaded and fitted.

:func:`load_for_inference` is what ``seqtk predict``, ``seqtk eval``,
``seqtk.load`` and export use; ``--resume`` uses :func:`load_weights` with
:func:`recipe_changes`, so a misfit names the recipe setting that differs
rather than tensor shapes. The file format itself is :mod:`seqtk.inference.checkpoint`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqtk.config.schema import Recipe
from seqtk.errors import SeqtkError
from seqtk.inference.checkpoint import FOR_INFERENCE, load_checkpoint, require
@dataclass
class Loaded:
    """A checkpoint made ready for inference."""

    task: Any  # seqtk.tasks.task.Task
    model: nn.Module
    recipe: Recipe
    payload: dict[str, Any]
    device: torch.device


def load_for_inference(path: str | Path, device: str | torch.device | None = None) -> Loaded:
    """Rebuild task and model from a checkpoint, on ``device`` (None: auto), in eval mode."""
    from seqtk.config.conversion import resolve
    from seqtk.runtime.device import select_device
    from seqtk.tasks.lifecycle import ready_task
    from seqtk.tasks.registry import get_task

    payload = load_checkpoint(path)
    require(payload, Path(path), FOR_INFERENCE, "loading it for inference")
    task_cls = get_task(payload["task"])
    recipe = resolve(payload["recipe"], payload["recipe_name"], task_cls, stored=True)
    task = ready_task(task_cls, recipe, payload, data=False)  # prepare() comes later, if at all
    model = task.build_model()
    load_weights(model, payload["model"], Path(path), payload["task"])
    target = select_device(device)
    model.to(target)
    model.eval()
    return Loaded(task=task, model=model, recipe=recipe, payload=payload, device=target)


Changed = tuple[str, Any, Any]


_UNSET = object()


_SHAPING = (("model",), ("data", "vocab"))


def load_weights(
    model: nn.Module, state: dict[str, Any], path: Path, task_name: str, changed: list[Changed] | None = None
) -> None:
    """``model.load_state_dict(state)``, with mismatches reported as a :class:`SeqtkError`.

    ``changed`` (from :func:`recipe_changes`, on ``--resume``) names the recipe settings that differ from the
    checkpoint's: the key to undo is what the user needs, and tensor shapes only hint at it. Without one
    the message lists the tensors that do not fit.
    """
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        if changed:
            raise _changed_recipe(path, changed) from exc
        details = "; ".join(line.strip() for line in str(exc).splitlines()[1:4] if line.strip())
        raise SeqtkError(
            f"the weights in '{path}' do not fit the model task '{task_name}' builds from its recipe: {details}",
            fix="use the task plugin version (and recipe) that wrote the checkpoint, or train again",
        ) from exc


def recipe_changes(saved: dict[str, Any] | None, recipe: Recipe) -> list[Changed]:
    """The settings that can shape the weights and differ between the checkpoint's recipe and ``recipe``.

    [model] settings when any differ, since they are what sizes the weights; else those of [data] and
    [vocab], which shape them only in some tasks (a forecast horizon, an image view) and change harmlessly
    in the rest (a longer data.seq_len), so they are named only when no [model] setting explains a misfit.
    """
    here = recipe.to_dict()
    for sections in _SHAPING:
        old = {k: v for s in sections for k, v in _dotted(s, (saved or {}).get(s) or {}).items()}
        new = {k: v for s in sections for k, v in _dotted(s, here.get(s) or {}).items()}
        changes = [(key, new.get(key, _UNSET), old.get(key, _UNSET)) for key in sorted(old.keys() | new.keys())
                   if new.get(key, _UNSET) != old.get(key, _UNSET)]
        if changes:
            return changes
    return []


def _dotted(prefix: str, value: Any) -> dict[str, Any]:
    """A section as ``{"model.hidden_size": 64, ...}``; nested tables get longer keys."""
    if not isinstance(value, dict):
        return {prefix: value}
    return {k: v for key, item in value.items() for k, v in _dotted(f"{prefix}.{key}", item).items()}


def _changed_recipe(path: Path, changed: list[Changed]) -> SeqtkError:
    """The misfit worded as the settings to put back (at most four: the first is usually the one)."""
    shown = changed[:4]
    said = "; ".join(f"{key} is {_setting(now)} here but {_setting(was)} in the checkpoint" for key, now, was in shown)
    more = f" (and {len(changed) - 4} more)" if len(changed) > 4 else ""
    back = " ".join(f"{key}={_setting(was)}" for key, _, was in shown if isinstance(was, (str, int, float, bool)))
    them = "them" if len(changed) > 1 else "it"
    undo = f"drop the override{'s' if len(changed) > 1 else ''} or set {them} back" + (f" ({back})" if back else "")
    return SeqtkError(
        f"the weights in '{path}' do not fit the model this recipe builds, whose settings differ from the "
        f"checkpoint's: {said}{more}",
        fix=f"{undo} to go on from the checkpoint, or start a fresh run without --resume to train the changed model",
    )


def _setting(value: Any) -> str:
    """A recipe value as an override writes it: ``lstm``, ``16``, ``true``, ``[1, 2]``."""
    if value is _UNSET or value is None:
        return "not set"
    return value if isinstance(value, str) else json.dumps(value)
