"""Chronological splits, normalisation fitted on train, sliding windows and the naive baselines.

The series is cut in time order: train, then validation, then test. The
scaler sees only the train part. A window reads ``window`` past values and is
scored on the next ``horizon``; validation and test windows may read inputs
from before their split (the past is known at forecast time), but all their
targets lie inside it.

Two baselines come with every window, computed from its inputs alone:
*naive* repeats the last value; *seasonal naive* repeats the value one season
earlier (``ŷ_{t+k} = y_{t+k-s·⌈k/s⌉}``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seqtk.errors import SeqtkError


@dataclass(frozen=True)
class Scaler:
    """z-scores with the train part's mean and standard deviation."""

    mean: float
    std: float

    @classmethod
    def fit(cls, values: Tensor) -> Scaler:
        std = float(values.std()) if len(values) > 1 else 1.0
        return cls(float(values.mean()), std if std > 0 else 1.0)

    def transform(self, values: Tensor) -> Tensor:
        return (values - self.mean) / self.std

    def inverse(self, values: Tensor) -> Tensor:
        return values * self.std + self.mean

    def to_dict(self) -> dict[str, float]:
        """Plain data for checkpoints (seqtk.tasks.learned saves what Task.learned names)."""
        return {"mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Scaler:
        return cls(float(data["mean"]), float(data["std"]))


@dataclass
class Windows:
    """N windows: ``x`` (N, W, 1) and ``y`` (N, H) as the model sees them; ``base`` (N,) the offset to add
    back (the last input, normalised, when relative); ``truth``, ``naive``, ``seasonal`` (N, H) in the
    series' units; ``start`` (N,) each window's first index in the series."""

    x: Tensor
    y: Tensor
    base: Tensor
    truth: Tensor
    naive: Tensor
    seasonal: Tensor
    start: Tensor

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, idx: list[int]) -> tuple[Tensor, ...]:
        return self.x[idx], self.y[idx], self.base[idx], self.truth[idx], self.naive[idx], self.seasonal[idx]


def split_points(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(end of train, end of val) for a series of ``n`` steps.

    >>> split_points(100, 0.15, 0.15)
    (70, 85)
    """
    test = round(n * test_fraction)
    val = round(n * val_fraction)
    return n - val - test, n - test


def target_ranges(n: int, val_fraction: float, test_fraction: float) -> dict[str, tuple[int, int]]:
    """Each split's [first, end) range of target indices."""
    train_end, val_end = split_points(n, val_fraction, test_fraction)
    ranges = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, n)}
    return {k: v for k, v in ranges.items() if v[1] > v[0]}


def make_windows(values: Tensor, scaler: Scaler, *, window: int, horizon: int, stride: int, season: int,
                 relative: bool, targets: tuple[int, int], split: str = "") -> Windows:
    """Every window whose ``horizon`` targets lie in ``targets`` = [first, end), ``stride`` apart."""
    first, last = max(targets[0] - window, 0), targets[1] - window - horizon  # first and last window start
    if last < first:
        raise SeqtkError(
            f"the {split or 'data'} split has {targets[1] - targets[0]} steps, too few for one window of "
            f"{window} inputs and {horizon} targets",
            fix="use a longer series, larger split fractions, or a smaller data.window / data.horizon",
        )
    return windows_at(values, scaler, torch.arange(first, last + 1, stride), window, horizon, season, relative)


def windows_at(values: Tensor, scaler: Scaler, starts: Tensor, window: int, horizon: int, season: int,
               relative: bool) -> Windows:
    # (N,) series, (M,) starts -> M windows
    segment = values[starts.unsqueeze(1) + torch.arange(window + horizon)]  # (M, W+H) in series units
    z = scaler.transform(segment).float()
    base = z[:, window - 1] if relative else torch.zeros(len(starts))
    x = (z[:, :window] - base.unsqueeze(1)).unsqueeze(-1)  # (M, W, 1)
    y = z[:, window:] - base.unsqueeze(1)  # (M, H)
    inputs, truth = segment[:, :window].float(), segment[:, window:].float()
    return Windows(x, y, base, truth, naive_forecast(inputs, horizon), seasonal_naive(inputs, horizon, season), starts)


def naive_forecast(inputs: Tensor, horizon: int) -> Tensor:
    """The last value, repeated: (M, W) -> (M, H)."""
    return inputs[:, -1:].expand(-1, horizon).clone()


def seasonal_naive(inputs: Tensor, horizon: int, season: int) -> Tensor:
    """The value one season before each target: (M, W) -> (M, H); needs season <= W.

    >>> seasonal_naive(torch.tensor([[1.0, 2.0, 3.0, 4.0]]), horizon=3, season=2).tolist()
    [[3.0, 4.0, 3.0]]
    """
    width = inputs.size(1)
    picks = width - season + torch.arange(horizon) % season
    return inputs[:, picks]


def model_inputs(values: Tensor, scaler: Scaler, relative: bool) -> tuple[Tensor, Tensor]:
    """A window of raw values (W,) -> model input (1, W, 1) and the base to add back (1,)."""
    z = scaler.transform(values.double()).float()
    base = z[-1:] if relative else torch.zeros(1)
    return (z - base).view(1, -1, 1), base
