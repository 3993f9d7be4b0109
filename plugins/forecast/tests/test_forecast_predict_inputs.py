"""seqtk.load(...).predict on a forecaster: windows as strings, as `seqtk predict` reads them, and as numbers (a list,
a numpy array, a torch tensor; a 2-D one is a batch), each giving the forecast of its string form (issue 32)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from rich.console import Console

from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk.training.train import run_training
from seqtk_plugins.forecast.series import read_csv
from seqtk_plugins.forecast.task import ForecastTask
import seqtk
from test_forecast import seasonal_csv

WINDOW = 12


@pytest.fixture(scope="module")
def forecaster(tmp_path_factory):
    """A GRU(8) trained 6 steps on a seasonal series (windows of 12, forecasts of 3), and the series' last window."""
    tmp = tmp_path_factory.mktemp("fc")
    csv = seasonal_csv(tmp / "s.csv", n=120)
    raw = {"task": {"name": "forecast"}, "data": {"path": str(csv), "window": WINDOW, "horizon": 3},
           "model": {"cell": "gru", "hidden_size": 8},
           "train": {"max_steps": 6, "batch_size": 16, "eval_every": 6, "device": "cpu", "num_threads": 1},
           "log": {"tensorboard": False, "progress": False}}  # fmt: skip
    run_training(resolve(raw, "forecast_test", ForecastTask), out=tmp / "run", console=Console(file=io.StringIO()))
    values = read_csv(csv, "level").values
    return seqtk.load(tmp / "run" / "checkpoints" / "last.pt", device="cpu"), values[-WINDOW:].tolist(), values[-2 * WINDOW : -WINDOW].tolist()


def test_a_window_of_numbers_gives_the_forecast_of_its_string_form(forecaster):
    p, last, _ = forecaster
    [want] = p.predict(" ".join(repr(v) for v in last))
    assert len(want["output"]) == 3 and want["last_input"] == last[-1]
    for given in (last, tuple(last), np.array(last), np.array(last, dtype=np.float32).astype(np.float64),
                  torch.tensor(last, dtype=torch.float64), [int(v) for v in last]):  # fmt: skip
        text = " ".join(repr(float(v)) for v in given)
        assert p.predict(given) == p.predict(text)
    assert p.predict(np.array(last)) == [want]


def test_a_2d_array_is_a_batch_and_a_list_of_windows_may_mix_kinds(forecaster):
    p, last, before = forecaster
    want = p.predict([" ".join(map(repr, before)), " ".join(map(repr, last))])
    assert p.predict(np.array([before, last])) == want
    assert p.predict(torch.tensor([before, last], dtype=torch.float64)) == want
    assert p.predict([before, last]) == want
    assert p.predict([" ".join(map(repr, before)), np.array(last)]) == want


def test_windows_of_the_wrong_size_or_kind_are_refused_saying_what_it_reads(forecaster):
    p, last, _ = forecaster
    with pytest.raises(SeqtkError, match=r"a forecast input needs 12 numbers \(data.window\), got 3\. Fix"):
        p.predict([1.0, 2.0, 3.0])
    with pytest.raises(SeqtkError, match=r"a forecast input needs 12 numbers \(data.window\), got '1 2 3'"):
        p.predict("1 2 3")  # the string's message, as before
    with pytest.raises(SeqtkError, match=r"this one's shape is \(12, 1\)"):
        p.predict(np.array(last).reshape(-1, 1))
    with pytest.raises(SeqtkError) as err:
        p.predict([last, {"values": last}])
    assert "task 'forecast' predict() takes a text (a string) or a window of numbers (a list of floats" in str(err.value)
    assert "input 2 of 2 is a dict" in str(err.value)
    with pytest.raises(SeqtkError, match="the input given is a torch.Tensor of shape"):
        p.predict(torch.ones(WINDOW, dtype=torch.bool))
