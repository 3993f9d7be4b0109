"""forecast: splits, windows, baselines, series readers, and training on series made here.

The Mauna Loa recipe needs the statsmodels wheel (10.8 MB from PyPI): its test
is marked slow. Everything else runs offline on CSV files written here.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch
from rich.console import Console

from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk.tasks.loading import load_recipe
from seqtk.testing import check_task
from seqtk.training.train import run_training
from seqtk_plugins.forecast import series as series_mod
from seqtk_plugins.forecast.series import STATSMODELS, co2_monthly, interpolate_gaps, read_csv
from seqtk_plugins.forecast.task import ForecastTask
from seqtk_plugins.forecast.windows import Scaler, make_windows, seasonal_naive, split_points, target_ranges

RECIPES = Path(__file__).resolve().parents[3] / "recipes"


def seasonal_csv(path: Path, n: int = 300, seed: int = 0) -> Path:
    """A monthly series: a rising trend, a 12-step season and noise (like CO2), with one gap."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(n, dtype=torch.float64)
    values = 300 + 0.1 * t + 3 * torch.sin(2 * math.pi * t / 12) + 0.2 * torch.randn(n, generator=gen, dtype=torch.float64)
    rows = ["month,level"] + [f"m{i},{'' if i == 40 else f'{v:.4f}'}" for i, v in enumerate(values.tolist())]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def make_recipe(csv: Path, **data):
    raw = {
        "task": {"name": "forecast"},
        "data": {"path": str(csv), "time_column": "month", "window": 24, "horizon": 6, "season": 12, **data},
        "model": {"cell": "lstm", "hidden_size": 32},
        "train": {"max_steps": 300, "batch_size": 32, "lr": 3e-3, "eval_every": 150, "device": "cpu", "num_threads": 1},
        "log": {"tensorboard": False, "progress": False},
    }
    return resolve(raw, "forecast_test", ForecastTask)


def test_splits_are_chronological_and_windows_keep_targets_inside():
    assert split_points(100, 0.15, 0.15) == (70, 85)
    ranges = target_ranges(100, 0.15, 0.15)
    values = torch.arange(100, dtype=torch.float64)
    scaler = Scaler.fit(values[:70])
    for split, (first, end) in ranges.items():
        w = make_windows(values, scaler, window=10, horizon=3, stride=2, season=5, relative=True, targets=(first, end))
        assert w.truth.min() >= first and w.truth.max() < end  # the truth of a window is its target indices
        assert (w.start[1:] - w.start[:-1]).eq(2).all()
    assert ranges["val"] == (70, 85) and ranges["test"] == (85, 100)


def test_scaler_is_fitted_on_train_only(tmp_path):
    task = ForecastTask(make_recipe(seasonal_csv(tmp_path / "a.csv")))
    task.prepare()
    before = task.scaler
    path = tmp_path / "a.csv"
    lines = path.read_text().splitlines()
    lines[-5:] = [f"{line.split(',')[0]},9999" for line in lines[-5:]]  # wild values in the test split
    path.write_text("\n".join(lines) + "\n")
    task.prepare()
    assert task.scaler == before


def test_baselines():
    window = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    assert seasonal_naive(window, horizon=5, season=3).tolist() == [[4.0, 5.0, 6.0, 4.0, 5.0]]
    values = torch.arange(40, dtype=torch.float64)
    w = make_windows(values, Scaler.fit(values), window=6, horizon=2, stride=1, season=3, relative=False, targets=(30, 40))
    assert w.naive[0].tolist() == [29.0, 29.0] and w.seasonal[0].tolist() == [27.0, 28.0]
    assert w.truth[0].tolist() == [30.0, 31.0]


def test_relative_windows_are_offsets_from_the_last_input():
    values = torch.arange(50, dtype=torch.float64) * 2
    w = make_windows(values, Scaler(0.0, 1.0), window=4, horizon=2, stride=1, season=2, relative=True, targets=(10, 20))
    assert w.x[0, :, 0].tolist() == [-6.0, -4.0, -2.0, 0.0] and w.y[0].tolist() == [2.0, 4.0]


def test_gaps_are_interpolated():
    nan = float("nan")
    assert interpolate_gaps([nan, 1.0, nan, nan, 4.0, nan], "x").tolist() == [1.0, 2.0, 3.0, 4.0]


def test_co2_weeks_become_monthly_means(tmp_path):
    path = tmp_path / "co2.csv"
    path.write_text("date,co2\n19580329,316.0\n19580405,317.0\n19580412,\n19580503,318.0\n19580705,320.0\n")
    s = co2_monthly(path)
    assert s.labels == ["1958-03", "1958-04", "1958-05", "1958-06", "1958-07"]
    assert s.values.tolist() == [316.0, 317.0, 318.0, 319.0, 320.0]  # June had no week: interpolated


def test_csv_errors(tmp_path):
    csv = seasonal_csv(tmp_path / "s.csv")
    with pytest.raises(SeqtkError, match="no column 'levle'. Did you mean 'level'"):
        read_csv(csv, value_column="levle")
    bad = tmp_path / "bad.csv"
    bad.write_text("t,v\n1,2.0\n2,abc\n")
    with pytest.raises(SeqtkError, match="line 3: 'abc' in column 'v' is not a number"):
        read_csv(bad)
    with pytest.raises(SeqtkError, match="does not exist"):
        read_csv(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "data, message",
    [({"season": 30}, "longer than data.window"), ({"val_fraction": 0.6, "test_fraction": 0.5}, "holds out more than 80%"),
     ({"horizon": 0}, "data.horizon must be at least 1")],
)
def test_recipe_errors(tmp_path, data, message):
    with pytest.raises(SeqtkError, match=message):
        make_recipe(tmp_path / "x.csv", **data)


def test_short_series_names_the_split(tmp_path):
    task = ForecastTask(make_recipe(seasonal_csv(tmp_path / "s.csv", n=40)))
    with pytest.raises(SeqtkError, match="the train split has 28 steps, too few for one window"):
        task.prepare()


def test_trains_beats_both_baselines_and_plots(tmp_path):
    recipe = make_recipe(seasonal_csv(tmp_path / "s.csv"))
    result = run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
    m = result.metrics
    assert m["mae"] < 0.6 * m["mae_naive"] and m["mae"] < 0.8 * m["mae_seasonal_naive"], m
    assert m["rmse"] == pytest.approx(math.sqrt(m["mse"])) and m["skill_vs_naive"] > 0.4
    assert "vs seasonal naive" in result.report
    from seqtk_plugins.forecast.plot import forecast_image

    image = forecast_image(result.task, result.model, "val")
    assert image.dtype == torch.uint8 and image.shape[0] == 3
    values = read_csv(tmp_path / "s.csv", "level").values[-24:].tolist()
    [pred] = result.task.predict(result.model, [" ".join(f"{v:.3f}" for v in values)], torch.device("cpu"))
    assert len(pred["output"]) == 6 and abs(pred["output"][0] - values[-1]) < 5
    with pytest.raises(SeqtkError, match="needs 24 numbers"):
        result.task.predict(result.model, ["1 2 3"], torch.device("cpu"))


def test_check_task_harness(tmp_path):
    raw = {"data": {"path": str(seasonal_csv(tmp_path / "s.csv", n=120)), "window": 12, "horizon": 3},
           "model": {"cell": "gru", "hidden_size": 8}, "train": {"lr": 0.01, "batch_size": 16},
           "log": {"tensorboard": False, "progress": False}}
    check_task(ForecastTask, raw, tmp_path, steps=10, predict_inputs=[" ".join(["300"] * 12)])


def test_statsmodels_pin_names_one_wheel():
    assert STATSMODELS.pip_spec == "statsmodels==0.14.4" and STATSMODELS.filename.startswith("statsmodels-0.14.4-cp311")
    assert len(STATSMODELS.sha256) == 64 and series_mod.MEMBERS["co2"].endswith("co2/co2.csv")


@pytest.mark.slow
def test_co2_recipe_beats_both_naive_baselines(tmp_path):
    recipe = load_recipe(str(RECIPES / "forecast_co2.toml"), ["log.tensorboard=false", "log.progress=false"])
    result = run_training(recipe, out=tmp_path / "co2", console=Console(file=io.StringIO()))
    test = result.task.evaluate(result.model, "test", torch.device("cpu"))
    assert test["skill_vs_naive"] > 0.5 and test["skill_vs_seasonal_naive"] > 0.4, test


def test_model_dropout_acts_after_every_layer_even_a_single_one(tmp_path):
    # "Dropout after each recurrent layer": with one layer (every bundled recipe) that is the final state
    for layers in (1, 2):
        raw = make_recipe(seasonal_csv(tmp_path / "a.csv")).to_dict()
        raw["model"].update(num_layers=layers, dropout=0.3)
        task = ForecastTask(resolve(raw, "forecast_test", ForecastTask))
        task.prepare()
        assert [spec.dropout for spec in task.build_model().encoder.specs] == [0.3] * layers


# -- the lifecycle: load_data -> learn -> encode_data ------------------------------------------------------


def test_the_core_restores_the_scaler_or_learns_it(tmp_path):
    """No prepare() of its own: learn() fits the scaler on a fresh run; a checkpoint's (Task.learned, or the
    state_dict of a checkpoint from before it) is kept, and the windows are scaled by it."""
    from seqtk.tasks.lifecycle import ready_task

    assert "prepare" not in vars(ForecastTask)
    recipe = make_recipe(seasonal_csv(tmp_path / "a.csv"))
    fresh = ready_task(ForecastTask, recipe)
    values = fresh.series.values
    assert fresh.scaler == Scaler.fit(values[: target_ranges(len(values), 0.15, 0.15)["train"][1]])
    saved = Scaler(mean=300.0, std=2.0)
    for checkpoint in ({"learned": {"scaler": {"object": "seqtk_plugins.forecast.windows:Scaler",
                                                "data": saved.to_dict()}}, "task_state": {}},
                       {"task_state": saved.to_dict()}):  # before seqtk saved Task.learned
        task = ready_task(ForecastTask, recipe, checkpoint)
        assert task.scaler == saved
        x = task.windows["train"].x[0, :, 0]  # relative windows: offsets from the last input, in saved's units
        assert torch.allclose(x, (values[:24] - values[23]).float() / saved.std, atol=1e-5)


def test_a_resumed_run_is_bit_identical(tmp_path):
    csv = seasonal_csv(tmp_path / "s.csv", n=120)
    quiet = Console(file=io.StringIO())
    for name, steps, resume in (("straight", 16, False), ("resumed", 8, False), ("resumed", 16, True)):
        raw = {"task": {"name": "forecast"}, "data": {"path": str(csv), "window": 12, "horizon": 3},
               "model": {"cell": "gru", "hidden_size": 8},
               "train": {"max_steps": steps, "batch_size": 16, "eval_every": 4, "device": "cpu"},
               "log": {"tensorboard": False, "progress": False}}
        run_training(resolve(raw, "forecast_test", ForecastTask), out=tmp_path / name, resume=resume, console=quiet)
    from seqtk.inference.checkpoint import load_checkpoint

    a, b = (load_checkpoint(tmp_path / n / "checkpoints" / "last.pt") for n in ("straight", "resumed"))
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"]) and a["learned"] == b["learned"]


def test_log_eval_and_final_report_take_the_evaluation_result(tmp_path):
    """The one signature every task has: log_eval(model, logger, step, result), final_report(model, device, result)."""
    from seqtk.tasks.evaluation import evaluate

    task = ForecastTask(make_recipe(seasonal_csv(tmp_path / "a.csv", n=120), window=12, horizon=3))
    task.console = Console(file=io.StringIO())
    task.prepare()
    model, images = task.build_model(), {}

    class Images:
        def log_image(self, tag, image, step):
            images[tag, step] = image

    result = evaluate(task, model, "val", torch.device("cpu"))
    task.log_eval(model, Images(), 7, result=result)
    assert images[("forecast/val", 7)].dtype == torch.uint8
    report = task.final_report(model, torch.device("cpu"), result=result)
    assert report.startswith("val: MAE") and "test: MAE" in report
