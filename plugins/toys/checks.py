"""Static checks of a toy_sequences recipe (before any data is generated)."""

from __future__ import annotations

from seqtk.config.schema import Recipe
from seqtk.errors import SeqtkError


def check_recipe(recipe: Recipe) -> None:
    """Raise :class:`SeqtkError` for ``[data]`` values the task cannot use (the core checks ``[model]``)."""
    data = recipe.data
    if data.path:
        raise SeqtkError("toy_sequences generates its data, so data.path is not used", fix="remove data.path")
    if not 0.0 < data.val_fraction < 1.0:
        raise SeqtkError(f"data.val_fraction must lie in (0, 1), not {data.val_fraction}", fix="set data.val_fraction = 0.2")
    for key, low, high in (("examples", 4, 10**7), ("bits", 1, 30), ("delay", 0, 100), ("length", 1, 100_000)):
        value = getattr(data, key)
        if not low <= value <= high:
            raise SeqtkError(f"data.{key} must lie in {low}..{high}, not {value}", fix=f"set data.{key} within that range")
    if data.problem == "binary_addition":
        from seqtk_plugins.toys.problems import check_addition_room

        check_addition_room(data.bits, 2 * max(1, data.examples // 4))  # held-out pairs are distinct
