"""What ``seqtk export`` writes for the forecaster.

The exported model is :class:`.task.ForecastNet` as the task calls it: a
window of ``data.window`` normalised values (B, W, 1) in, the next
``data.horizon`` values (B, H) out, normalised the same way. ``scaler.json``
holds what the task learned from its training split (the mean and standard
deviation) and whether windows are read relative to their last value, so the
README's numpy normalises a window and turns the output back into the
series' units as ``seqtk predict`` does (:func:`.windows.model_inputs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from seqtk.nn.traceable import WholeEncoder
from seqtk.tasks.task import ExportSpec

if TYPE_CHECKING:  # pragma: no cover
    from seqtk_plugins.forecast.task import ForecastNet, ForecastTask


class ExportedForecaster(nn.Module):
    """:class:`ForecastNet`'s forward, branch-free.

    # x (B, W, 1) normalised window -> forecast (B, H) normalised
    """

    def __init__(self, model: ForecastNet) -> None:
        super().__init__()
        self.encoder, self.head = WholeEncoder(model.encoder), model.head

    def forward(self, x: Tensor) -> tuple[Tensor]:
        return (self.head(self.encoder(x)),)  # (B, W, 1) -> (B, hidden) -> (B, H)


def export_spec(task: ForecastTask, model: ForecastNet) -> ExportSpec:
    """The forecaster, the learned normalisation, and the README's text and code."""
    cfg, scaler = task.recipe.data, task.need("scaler")
    files = {
        "scaler.json": {
            "mean": scaler.mean, "std": scaler.std, "relative": cfg.relative, "window": cfg.window,
            "horizon": cfg.horizon,
        }
    }
    return ExportSpec(
        module=ExportedForecaster(model).eval(),
        example_inputs=(torch.randn(3, cfg.window, 1),), check_inputs=(torch.randn(5, cfg.window, 1),),
        input_names=("x",), output_names=("forecast",), input_axes={"x": {0: "batch"}},
        files=files, signature=_signature(cfg.window, cfg.horizon, cfg.relative), usage=USAGE, model_output=_forecast,
    )


def _forecast(outputs: tuple[Tensor, ...]) -> Tensor:
    return outputs[0]  # (B, H): what the model's forward returns


def _signature(window: int, horizon: int, relative: bool) -> str:
    base = ("then subtract the window's last normalised value from every value (`relative`: the model reads "
            "changes), and add it back to the output" if relative else "(`relative` is false: nothing more)")
    return f"""\
Inputs: `x` (B, {window}, 1) float32: B windows of the last {window} values of the series, oldest first, normalised.
The model reads no other length.

Outputs: `forecast` (B, {horizon}) float32: the next {horizon} values, normalised as the inputs were.

Normalising, as seqtk does it (`scaler.json`, learned from the training split): `z = (value - mean) / std`, in
float64 and then rounded to float32; {base}. Back to the series' units: `value = z * std + mean`, in float32."""


USAGE = '''\
import json

SCALER = json.load(open(f"{FOLDER}/scaler.json", encoding="utf-8"))


def forecast(windows):
    """(B, window) values in the series' units, oldest first -> (B, horizon) forecasts, as `seqtk predict`."""
    z = ((np.asarray(windows, dtype=np.float64) - SCALER["mean"]) / SCALER["std"]).astype(np.float32)
    base = z[:, -1:] if SCALER["relative"] else np.zeros((len(z), 1), dtype=np.float32)
    out = run(x=(z - base)[:, :, None])["forecast"]  # (B, horizon), normalised
    return (out + base) * np.float32(SCALER["std"]) + np.float32(SCALER["mean"])


print(forecast([[SCALER["mean"]] * SCALER["window"]])[0])
'''
