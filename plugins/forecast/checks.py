"""Static checks of a forecast recipe (before any data is loaded)."""

from __future__ import annotations

from seqtk.config import Recipe
from seqtk.errors import SeqtkError


def check_recipe(recipe: Recipe) -> None:
    """Raise :class:`SeqtkError` for values the task cannot use."""
    from seqtk.encoders import LayerSpec

    data, model = recipe.data, recipe.model
    for key in ("window", "horizon", "stride", "season"):
        if getattr(data, key) < 1:
            raise SeqtkError(f"data.{key} must be at least 1, not {getattr(data, key)}", fix=f"set data.{key} >= 1")
    if data.season > data.window:
        raise SeqtkError(
            f"data.season ({data.season}) is longer than data.window ({data.window}), so the seasonal-naive "
            "baseline has no value one season back inside the window",
            fix=f"set data.window to at least {data.season}",
        )
    if not 0 < data.val_fraction < 1 or not 0 <= data.test_fraction < 1 or data.val_fraction + data.test_fraction >= 1:
        raise SeqtkError(
            f"data.val_fraction ({data.val_fraction}) and data.test_fraction ({data.test_fraction}) must be in "
            "(0, 1) and [0, 1) and leave room for training",
            fix="use e.g. val_fraction = 0.15 and test_fraction = 0.15",
        )
    for key in ("hidden_size", "num_layers"):
        if getattr(model, key) < 1:
            raise SeqtkError(f"model.{key} must be at least 1, not {getattr(model, key)}", fix=f"set model.{key} >= 1")
    LayerSpec(model.cell, model.hidden_size, dropout=model.dropout, nonlinearity=model.nonlinearity)
