"""Static checks of a forecast recipe (before any data is loaded)."""

from __future__ import annotations

from seqtk.config import checks
from seqtk.config.schema import Recipe
from seqtk.errors import SeqtkError


def check_recipe(recipe: Recipe) -> None:
    """Raise :class:`SeqtkError` for ``[data]`` values the task cannot use (the core checks ``[model]``)."""
    data = recipe.data
    for key in ("window", "horizon", "stride", "season"):
        checks.at_least(f"data.{key}", getattr(data, key), 1)
    if data.season > data.window:
        raise SeqtkError(
            f"data.season ({data.season}) is longer than data.window ({data.window}), so the seasonal-naive "
            "baseline has no value one season back inside the window",
            fix=f"set data.window to at least {data.season}",
        )
    checks.split_fractions(data.val_fraction, data.test_fraction, max_held=0.8, example=(0.15, 0.15))

