"""seqtk export for forecast: the folder's README code, run where seqtk cannot be imported, normalises windows
with the learned scaler, runs the model and gives seqtk's forecasts. Every window has the recipe's one length,
so a batch has no padding to get wrong; the normalisation is what the README must redo."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest
import torch

import seqtk
from seqtk.testing import export_in_new_process, run_exported_readme, train_recipe
from seqtk_plugins.forecast.windows import model_inputs

HAS_ONNX = all(importlib.util.find_spec(name) for name in ("onnx", "onnxscript", "onnxruntime"))
FORMATS = ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(not HAS_ONNX, reason="pip install 'seqtk[export]'"))]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Windows of 10 relative to their last value, a GRU under a bidirectional LSTM, 3 steps ahead."""
    folder = tmp_path_factory.mktemp("fc_export")
    values = [300 + 0.1 * t + 3 * math.sin(2 * math.pi * t / 12) for t in range(90)]
    (folder / "s.csv").write_text("level\n" + "\n".join(f"{v:.4f}" for v in values) + "\n", encoding="utf-8")
    return train_recipe(folder, "fc", f'[task]\nname = "forecast"\n[data]\npath = "{folder / "s.csv"}"\nwindow = 10\n'
                        'horizon = 3\nseason = 6\n[[model.layers]]\ncell = "gru"\nhidden_size = 6\n'
                        '[[model.layers]]\ncell = "lstm"\nhidden_size = 5\nbidirectional = true\n'
                        '[train]\nmax_steps = 4\neval_every = 4\nbatch_size = 16\ndevice = "cpu"\n[log]\nprogress = false\n')


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_exported_forecaster_gives_seqtks_forecasts_without_seqtk(checkpoint, tmp_path, fmt):
    out = tmp_path / fmt
    assert "README.md shows how to run it" in export_in_new_process(checkpoint, fmt, out)
    p = seqtk.load(checkpoint, device="cpu")
    g = torch.Generator().manual_seed(0)
    windows = (290 + 20 * torch.rand(4, 10, generator=g, dtype=torch.float64)).tolist()
    with torch.no_grad():  # the model's own outputs on the normalised windows, and seqtk predict's forecasts
        x = torch.cat([model_inputs(torch.tensor(w), p.task.scaler, True)[0] for w in windows])
        raw = p.model(x)
    data = {"windows": windows, "x": x.tolist(), "raw": raw.tolist(),
            "forecasts": [r["output"] for r in p.predict([" ".join(repr(v) for v in w) for w in windows])]}
    check = """
assert np.abs(run(x=np.array(DATA["x"], dtype=np.float32))["forecast"] - np.array(DATA["raw"])).max() <= 1e-5
theirs = np.array(DATA["forecasts"])  # series units near 300: float32 rounds at 3e-5 there, so compare relatively
assert (np.abs(forecast(DATA["windows"]) - theirs) / np.abs(theirs)).max() <= 1e-6
"""
    run_exported_readme(out, check, data)
    scaler = json.loads((out / "scaler.json").read_text(encoding="utf-8"))
    assert scaler["mean"] == p.task.scaler.mean and scaler["std"] == p.task.scaler.std and scaler["relative"] is True


def test_int8_weights_run_the_exported_forecaster_in_the_models_place(checkpoint):
    pytest.importorskip("onnxruntime")
    window = " ".join(f"{300 + 3 * math.sin(t / 2):.3f}" for t in range(10))
    [full] = seqtk.load(checkpoint, device="cpu").predict([window])
    quant = seqtk.load(checkpoint, device="cpu", quantize="int8")
    assert type(quant.model).__name__ == "OnnxModel"
    [mine] = quant.predict([window])
    assert max(abs(a - b) for a, b in zip(mine["output"], full["output"])) < 0.5  # series units near 300
