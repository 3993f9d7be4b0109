"""The ``forecast`` task: read ``window`` past values, predict the next ``horizon``.

Metrics are in the series' own units: ``mae``, ``rmse``, the same for the
naive (last value) and seasonal-naive baselines, and ``skill_vs_naive`` /
``skill_vs_seasonal_naive`` = 1 - MAE / baseline MAE (above 0: better than
the baseline; 0.6: 60% less error). At every evaluation the validation
forecast is plotted against the truth as a TensorBoard image. ``seqtk export``
writes the forecaster and the learned normalisation (:mod:`.export`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqtk.data.batches import ResumableLoader, epoch_generator, sequential_batches, shuffled_batches
from seqtk.errors import SeqtkError
from seqtk.tasks.task import ExportSpec, StepOutput, Task
from seqtk_plugins.forecast.config import ForecastData, ForecastModel
from seqtk_plugins.forecast.inputs import EXAMPLE, TAKES, window_items, window_values
from seqtk_plugins.forecast.windows import Scaler, Windows, make_windows, model_inputs, target_ranges, windows_at

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.config.schema import Recipe
    from seqtk.runtime.loggers import Logger
    from seqtk.tasks.evaluation import EvalResult
    from seqtk_plugins.forecast.series import Series

BASELINES = {"": "forecast", "_naive": "naive", "_seasonal_naive": "seasonal_naive"}


class ForecastNet(nn.Module):
    """A recurrent stack over the window and a linear head: (B, W, 1) -> (B, H)."""

    def __init__(self, layers: list[Any], horizon: int) -> None:
        super().__init__()
        from seqtk.nn.encoders import StackedEncoder

        self.encoder = StackedEncoder(1, layers)
        self.head = nn.Linear(self.encoder.output_dim, horizon)

    def forward(self, x: Tensor) -> Tensor:
        # (B, W, 1) -> (B, H)
        return self.head(self.encoder(x))  # (B, W, 1) -> (B, hidden) -> (B, H)


class ForecastTask(Task):
    """Sliding-window forecasting of one series: Mauna Loa CO2, sunspots, or a CSV of your own."""

    name = "forecast"
    description = "Time-series forecasting with sliding windows (Mauna Loa CO2, sunspots or your CSV)"
    data_config = ForecastData
    model_config = ForecastModel
    learned = ("scaler",)  # the training split's normalisation: built by learn(), or restored from a checkpoint
    main_metric = "mae"
    main_metric_mode = "min"
    predict_takes = TAKES  # from Python, a window may also be numbers: a list, an array, a tensor (.inputs)
    predict_example = EXAMPLE

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.series: Series | None = None
        self.scaler: Scaler | None = None
        self.windows: dict[str, Windows] = {}
        self._ranges: dict[str, tuple[int, int]] = {}  # split -> its targets' range in the series, by load_data()

    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        from seqtk_plugins.forecast.checks import check_recipe

        check_recipe(recipe)

    # -- data -------------------------------------------------------------------------
    def load_data(self) -> None:
        """Read the series and cut it in time: train, then val, then test."""
        from seqtk_plugins.forecast.series import load_series

        cfg = self.recipe.data
        self.series = load_series(cfg.source, cfg.path, cfg.value_column, cfg.time_column)
        self._ranges = target_ranges(len(self.series.values), cfg.val_fraction, cfg.test_fraction)

    def learn(self) -> dict[str, Any]:
        """The scaler of the training part only: nothing leaks from the future. A checkpoint's is restored
        instead (eval, resume): the model learned on its scale."""
        return {"scaler": Scaler.fit(self._series().values[: self._ranges["train"][1]])}

    def encode_data(self) -> None:
        """The windows of every split, scaled by the learned (or restored) scaler."""
        cfg, values = self.recipe.data, self._series().values
        self.windows = {
            split: make_windows(values, self._scaler(), window=cfg.window, horizon=cfg.horizon, stride=cfg.stride,
                                season=cfg.season, relative=cfg.relative, targets=r, split=split)
            for split, r in self._ranges.items()
        }

    def splits(self) -> list[str]:
        return ["val", "test"] if self.recipe.data.test_fraction > 0 else ["val"]

    def train_loader(self) -> ResumableLoader:
        train, bs, seed = self._split("train"), self.recipe.train.batch_size, self.recipe.train.seed
        return ResumableLoader(lambda e: shuffled_batches(len(train), bs, epoch_generator(seed, e)), train.batch)

    def eval_batches(self, split: str) -> list[tuple[Tensor, ...]]:
        data = self._split(split)
        return [data.batch(idx) for idx in sequential_batches(len(data), self.recipe.train.batch_size)]

    def _split(self, split: str) -> Windows:
        if split not in self.windows:
            raise SeqtkError(f"task 'forecast' has no prepared split '{split}'",
                             fix=f"call prepare() first; use one of {', '.join(self.splits())}")
        return self.windows[split]

    # -- model ---------------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        from dataclasses import replace

        layers = self.recipe.model.stack()  # every layer's dropout, the last one's included: it drops the
        layers[-1] = replace(layers[-1], return_sequences=False)  # final state, which the head reads
        return ForecastNet(layers, self.recipe.data.horizon)

    def step(self, model: nn.Module, batch: Any, *, train: bool) -> StepOutput:
        x, y, base, truth, naive, seasonal = batch  # (B, W, 1), (B, H), (B,), then (B, H) x 3
        out = model(x)  # (B, W, 1) -> (B, H)
        loss = F.mse_loss(out, y)  # in normalised units
        forecast = self._scaler().inverse(out.detach() + base.unsqueeze(1))  # back to the series' units
        metrics = {}
        for suffix, guess in (("", forecast), ("_naive", naive), ("_seasonal_naive", seasonal)):
            err = guess - truth
            metrics[f"mae{suffix}"] = float(err.abs().mean())
            metrics[f"mse{suffix}"] = float(err.square().mean())
        return StepOutput(loss, len(x), metrics)

    def finish_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        out = dict(metrics)
        for suffix in BASELINES:
            out[f"rmse{suffix}"] = math.sqrt(metrics[f"mse{suffix}"])
        for suffix in ("_naive", "_seasonal_naive"):
            out[f"skill_vs{suffix}"] = 1.0 - metrics["mae"] / metrics[f"mae{suffix}"] if metrics[f"mae{suffix}"] else 0.0
        return out

    # -- reporting -----------------------------------------------------------------------------
    def log_eval(self, model: nn.Module, logger: Logger, step: int, result: EvalResult | None = None) -> None:
        """The validation forecast against the truth, one horizon after another."""
        from seqtk_plugins.forecast.plot import forecast_image

        logger.log_image("forecast/val", forecast_image(self, model, "val"), step)

    def final_report(self, model: nn.Module, device: torch.device, result: EvalResult | None = None) -> str | None:
        """MAE, RMSE and skill against both baselines on every held-out split."""
        unit = f" {self.series.unit}" if self.series and self.series.unit else ""
        lines = []
        for split in self.splits():
            m = self.evaluate(model, split, device)
            lines.append(
                f"{split}: MAE {m['mae']:.4g}{unit} (naive {m['mae_naive']:.4g}, seasonal naive "
                f"{m['mae_seasonal_naive']:.4g}); RMSE {m['rmse']:.4g}; skill vs naive {m['skill_vs_naive']:.1%}, "
                f"vs seasonal naive {m['skill_vs_seasonal_naive']:.1%}"
            )
        return "\n".join(lines)

    def forecast_windows(self, model: nn.Module, starts: Tensor) -> tuple[Windows, Tensor]:
        """Windows at ``starts`` and the model's forecasts for them (series units), for plots."""
        cfg, values = self.recipe.data, self._series().values
        win = windows_at(values, self._scaler(), starts, cfg.window, cfg.horizon, cfg.season, cfg.relative)
        device = next(model.parameters()).device
        with torch.no_grad():
            out = model(win.x.to(device)).cpu()
        return win, self._scaler().inverse(out + win.base.unsqueeze(1))

    # -- checkpoint state and inference ----------------------------------------------------------
    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "mean" in state:  # a checkpoint from before seqtk saved Task.learned itself
            self.scaler = Scaler.from_dict(state)

    def predict_inputs(self, value: Any) -> list[Any] | None:
        """Windows of numbers: a list, a 1-D array or tensor, or an N x window batch (:mod:`.inputs`)."""
        return window_items(value, self.recipe.data.window)

    def predict(self, model: nn.Module, inputs: list[Any], device: torch.device) -> list[dict[str, Any]]:
        """Each input: the last ``data.window`` values of the series, oldest first, separated by spaces or commas
        (or a window of numbers that :meth:`predict_inputs` read)."""
        cfg, out = self.recipe.data, []
        for item in inputs:
            values = window_values(item, cfg.window)
            x, base = model_inputs(torch.tensor(values), self._scaler(), cfg.relative)
            with torch.no_grad():
                forecast = self._scaler().inverse(model(x.to(device)).cpu() + base.unsqueeze(1))
            out.append({"last_input": values[-1], "output": [float(v) for v in forecast[0]]})
        return out

    def export_spec(self, model: nn.Module) -> ExportSpec:
        """The forecaster on normalised windows (x (B, W, 1) in, forecast (B, H) out) and the learned scaler."""
        from seqtk_plugins.forecast.export import export_spec

        return export_spec(self, model)

    def _scaler(self) -> Scaler:
        if self.scaler is None:
            raise SeqtkError("the forecast task has no scaler yet", fix="call prepare() or load a checkpoint first")
        return self.scaler

    def _series(self) -> Series:
        if self.series is None:
            raise SeqtkError("the forecast task has no series loaded", fix="call prepare() first")
        return self.series
