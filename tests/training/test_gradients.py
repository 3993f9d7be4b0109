"""Gradient through time: the recorder, its theory, the trainer hook and `seqtk inspect gradients`."""

from __future__ import annotations

import dataclasses

import io
import json
import math
from pathlib import Path

import pytest
import torch
from rich.console import Console
from torch import nn

from seqtk.cli.main import main
from seqtk.errors import SeqtkError
from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.tasks.loading import load_recipe
from seqtk.training.gradients import GradientThroughTime, curve_scalars, plot_curves
from seqtk.training.train import run_training

T = 30
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def last_step_curve(enc: StackedEncoder, x: torch.Tensor) -> torch.Tensor:
    """||dL/dx_t|| over t for a loss on the last step's output only."""
    recorder = GradientThroughTime(enc)
    with recorder.recording():
        enc(x)[:, -1].sum().backward()
    recorder.close()
    return recorder.curves["layer 1"]


def encoder(cell: str) -> StackedEncoder:
    torch.manual_seed(0)
    return StackedEncoder(2, [LayerSpec(cell, 4)]).double()


def test_rnn_gradient_shrinks_by_its_recurrent_matrix_every_step():
    # the lectures' argument: dL/dh_{t-1} = W^T diag(1 - h_t^2) dL/dh_t; with W = 0.5 I and tiny
    # inputs (tanh' ~ 1) every step back halves the gradient exactly
    enc = encoder("rnn")
    rnn = enc.layers[0]
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(0.5 * torch.eye(4))
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
    curve = last_step_curve(enc, 1e-4 * torch.randn(3, T, 2, dtype=torch.float64))
    torch.testing.assert_close(curve[:-1] / curve[1:], torch.full((T - 1,), 0.5, dtype=torch.float32), atol=1e-4, rtol=0)


def test_gated_cells_with_open_gates_keep_the_gradient():
    x = torch.randn(3, T, 2, dtype=torch.float64)
    lstm = encoder("lstm")
    with torch.no_grad():  # forget gate ~1 and no recurrent matrix: only the cell state carries time
        lstm.layers[0].weight_hh_l0.zero_()
        lstm.layers[0].bias_ih_l0[4:8].fill_(10.0)
    gru = encoder("gru")
    with torch.no_grad():  # PyTorch's update gate ~1 keeps h (the lectures' z ~ 0)
        gru.layers[0].bias_hh_l0[4:8].fill_(5.0)
    rnn = encoder("rnn")  # PyTorch's init: contracts
    ratios = {name: float(c[0] / c[-1]) for name, c in
              (("lstm", last_step_curve(lstm, x)), ("gru", last_step_curve(gru, x)), ("rnn", last_step_curve(rnn, x)))}
    assert ratios["lstm"] > 0.1 and ratios["gru"] > 0.1 and ratios["rnn"] < 1e-4, ratios


def test_reference_cells_and_bidirectional_and_stacks_are_observed():
    torch.manual_seed(0)
    enc = StackedEncoder(2, [LayerSpec("peephole_lstm", 4, bidirectional=True), LayerSpec("cho_gru", 3)])
    recorder = GradientThroughTime(enc)
    x = torch.randn(2, 7, 2)
    with recorder.recording():
        enc(x, lengths=torch.tensor([7, 4])).sum().backward()
    assert set(recorder.curves) == {"layer 1", "layer 2"} and recorder.curves["layer 2"].shape == (7,)
    assert not x.requires_grad and x.grad is None  # the caller's data is left alone


def test_records_only_inside_recording_and_not_without_grad():
    enc = encoder("gru")
    recorder = GradientThroughTime(enc)
    enc(torch.randn(2, 5, 2, dtype=torch.float64)).sum().backward()
    assert recorder.curves == {}
    with recorder.recording(), torch.no_grad():
        enc(torch.randn(2, 5, 2, dtype=torch.float64))
    assert recorder.curves == {}
    recorder.close()
    with recorder.recording():
        enc(torch.randn(2, 5, 2, dtype=torch.float64)).sum().backward()
    assert recorder.curves == {}  # hooks removed


def test_a_model_without_an_encoder_is_a_clear_error():
    with pytest.raises(SeqtkError, match="needs a model with a seqtk StackedEncoder; LSTM has none"):
        GradientThroughTime(nn.LSTM(2, 3))


def test_scalars_and_image():
    curves = {"layer 1": torch.tensor([1e-6, 1e-3, 1.0]), "layer 2": torch.tensor([0.5, 0.5, 0.5])}
    scalars = curve_scalars(curves)
    assert scalars["gradients/layer1_start"] == pytest.approx(1e-6)
    assert scalars["gradients/layer1_mid"] == pytest.approx(1e-3)
    assert scalars["gradients/layer2_start_over_end"] == 1.0
    image = plot_curves(curves, "demo")
    assert image.dtype == torch.uint8 and image.shape == (3, 400, 640)


def test_trainer_logs_gradients_through_time(tmp_path):
    overrides = ["data.length=12", "data.examples=64", "model.hidden_size=8", "train.max_steps=6", "train.batch_size=16",
                 "log.grad_every=3", "log.progress=false", "train.eval_every=6"]
    recipe = load_recipe(str(RECIPES / "toy_first_bit.toml"), overrides)
    assert recipe.log.grad_through_time
    result = run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
    lines = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    logged = [line["step"] for line in lines if "gradients_layer1_start" in line]
    assert logged == [3, 6]
    events = b"".join(p.read_bytes() for p in result.run_dir.glob("events.out.tfevents*"))
    assert b"gradients/through_time" in events  # the image


def test_grad_every_must_be_positive(tmp_path):
    with pytest.raises(SeqtkError, match="log.grad_every must be at least 1"):  # refused when the recipe is read
        load_recipe(str(RECIPES / "toy_tiny.toml"), ["log.grad_every=0"])
    recipe = load_recipe(str(RECIPES / "toy_tiny.toml"))
    bad = recipe.replace(log=dataclasses.replace(recipe.log, grad_every=0))  # or built in code: refused by the trainer
    with pytest.raises(SeqtkError, match="log.grad_every must be at least 1"):
        run_training(bad, out=tmp_path / "run", console=Console(file=io.StringIO()))
    assert not (tmp_path / "run").exists()


def test_inspect_gradients_cli(tmp_path, capsys):
    png = tmp_path / "grads.png"
    # the recipe's task (first of 50 bits, seed 0), 300 steps each; the fused GRU is left out: slow on a CPU
    args = ["inspect", "gradients", str(RECIPES / "toy_first_bit.toml"), "--cells", "rnn,lstm", "--steps", "300",
            "--batches", "2", "--out", str(png), "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert png.exists() and png.stat().st_size > 1000
    rnn, lstm = result["rnn"], result["lstm"]
    assert len(rnn["trained"]["layer 1"]) == 50 and rnn["steps"] == 300
    # at init both halve the gradient at every step back (2e-11 vs 6e-11 measured on two machines): the
    # lectures' geometric vanishing. After training the ratios depend on the trajectory, which differs
    # between machines' float rounding (AVX2: rnn 1e-30, lstm 3e-11; AVX-512: rnn 7e-7, lstm 3e-11), so
    # only their form is checked here; docs/cells.md reports both.
    assert rnn["init_start_over_end"]["layer 1"] < lstm["init_start_over_end"]["layer 1"] < 1e-8
    for cell in (rnn, lstm):
        curve = cell["trained"]["layer 1"]
        assert all(math.isfinite(v) and v >= 0 for v in curve) and curve[-1] > curve[0]


def test_inspect_unknown_cell_is_a_user_error(tmp_path):
    assert main(["inspect", "gradients", str(RECIPES / "textgen_tiny.toml"), "--cells", "nope",
                 "--out", str(tmp_path / "g.png")]) == 1


@pytest.mark.parametrize("out, words", [("dir/", "is a folder"), ("grads.svg", "does not end in .png")])
def test_inspect_refuses_a_bad_out_before_training(tmp_path, capsys, out, words):
    (tmp_path / "dir").mkdir()
    target = str(tmp_path / out) + ("/" if out.endswith("/") else "")
    assert main(["inspect", "gradients", str(RECIPES / "toy_first_bit.toml"), "--out", target]) == 1
    captured = capsys.readouterr()
    assert words in captured.err + captured.out and "training rnn" not in captured.out + captured.err
