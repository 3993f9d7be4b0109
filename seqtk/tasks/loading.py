"""Loading a recipe for a run: find its file, apply the overrides, look its task up, resolve and check it.

It sits with the task API because resolving needs the task's config classes
(:mod:`seqtk.tasks.registry`); finding recipe files is :mod:`seqtk.config.recipes`.
"""

from __future__ import annotations

from seqtk.config.conversion import resolve, task_name
from seqtk.config.recipe_io import apply_overrides, read_toml
from seqtk.config.recipes import locate
from seqtk.config.schema import Recipe
from seqtk.tasks.registry import get_task


def load_recipe(spec: str, overrides: list[str] | None = None) -> Recipe:
    """Read, override and validate a recipe; nothing is built or loaded yet."""
    path = locate(spec)
    written = read_toml(path)
    raw = apply_overrides(written, list(overrides or []))
    task_cls = get_task(task_name(raw, f"recipe '{path}'"))
    return resolve(raw, path.stem, task_cls, written=written)
