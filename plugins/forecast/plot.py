"""The forecast plotted against the truth (and the seasonal-naive baseline), as a TensorBoard image."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:  # pragma: no cover
    from seqtk_plugins.forecast.task import ForecastTask


def forecast_image(task: ForecastTask, model: nn.Module, split: str) -> Tensor:
    """Back-to-back forecasts over ``split`` (windows ``horizon`` apart): uint8 (3, H, W)."""
    from seqtk.runtime.plots import image_tensor, line_plot

    cfg, series = task.recipe.data, task._series()
    starts = task._split(split).start
    starts = torch.arange(int(starts[0]), int(starts[-1]) + 1, cfg.horizon)  # one forecast per horizon
    windows, forecast = task.forecast_windows(model, starts)
    first = int(starts[0]) + cfg.window  # the first forecast step
    times = series.times[first : first + forecast.numel()]
    image = line_plot(
        {"truth": windows.truth.flatten().tolist(), "forecast": forecast.flatten().tolist(),
         "seasonal naive": windows.seasonal.flatten().tolist()},
        x=times, title=f"{series.name}: {split} forecasts, {cfg.horizon} steps from {cfg.window}",
        xlabel="time", ylabel=series.unit,
    )
    return image_tensor(image)
