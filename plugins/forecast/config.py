"""The forecast task's recipe sections: ``[data]`` and ``[model]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqtk.config.model_config import StackConfig
from seqtk.config.schema import DataConfig, hfield


@dataclass(frozen=True)
class ForecastData(DataConfig):
    """The series, its chronological split and its windows. ``path`` (a CSV) wins over ``source``."""

    source: Literal["co2", "sunspots"] = hfield(
        "co2",
        help="Built-in series from the statsmodels 0.14.4 wheel (fetched once, SHA-256 checked): co2 (Mauna Loa, "
        "weekly 1958-2001, averaged to 526 months, gaps interpolated) or sunspots (yearly 1700-2008).",
        sources=("co2", "sunspots"),
    )
    value_column: str = hfield("", help="CSV (data.path): the column to forecast; empty: the last column.", sources=("path",))
    time_column: str = hfield("", help="CSV (data.path): the column of time labels, for plots; empty: row numbers.", sources=("path",))
    window: int = hfield(24, help="Past values the model reads (time steps per input window).")
    horizon: int = hfield(12, help="Future values it predicts from each window.")
    stride: int = hfield(1, help="Steps between the starts of consecutive windows.")
    season: int = hfield(12, help="Season length for the seasonal-naive baseline (12 for monthly data, 7 for daily).")
    val_fraction: float = hfield(0.15, help="The validation split: this fraction of the series after the train part.")
    test_fraction: float = hfield(0.15, help="The test split: this fraction at the end of the series.")
    relative: bool = hfield(
        True,
        help="Express each window relative to its last value, so a trend that leaves the training range needs "
        "no extrapolation (the model predicts changes).",
    )

    def chosen_source(self) -> str:
        """``path`` when it is set (it wins over ``source``), else the built-in series ``source``."""
        return "path" if self.path else self.source

    def source_choice(self, source: str) -> str:
        return "data.path=FILE.csv" if source == "path" else f"data.source={source} without data.path"

    def describe_source(self, source: str) -> str:
        if source == "path":
            return f"data.path = '{self.path}' (a CSV, which wins over data.source)"
        return f'the series data.source = "{source}"'


@dataclass(frozen=True)
class ForecastModel(StackConfig):
    """A recurrent stack reading the window (the core's StackConfig), then a linear head with one output per
    future step; the head reads the last layer's final step."""

    hidden_size: int = hfield(64, help="Hidden units per layer.")
