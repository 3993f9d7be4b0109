"""toy_sequences: the lectures' examples generated as described, trained to the lectures' numbers.

Tolerances (plugins/toys/problems.py PROBES) are a few times the lectures' own
largest error on each test input: one_to_many 0.5 (lectures: 12.14 for 12),
many_to_one 1.5 (152.93 for 153, and our seeds 0-3 land 152.1-153.8),
many_to_many 3.0 (327.00 for 325).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from rich.console import Console

from seqtk.cli.main import main
from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk.runtime.summary import count_parameters
from seqtk.tasks.loading import load_recipe
from seqtk.testing import check_task
from seqtk.training.train import run_training
from seqtk_plugins.toys import problems
from seqtk_plugins.toys.problems import PROBES
from seqtk_plugins.toys.task import ToySequencesTask

RECIPES = Path(__file__).resolve().parents[3] / "recipes"


def test_lecture_examples_are_generated_as_described():
    one = problems.lecture_examples("one_to_many")
    assert one.x[:, 0, 0].tolist() == list(range(1, 44, 3)) and one.y[:2].tolist() == [[2, 3], [5, 6]]
    many = problems.lecture_examples("many_to_one")
    assert many.x[0, :, 0].tolist() == [1, 2, 3] and many.y[:2, 0].tolist() == [6, 15] and len(many) == 15
    seq = problems.lecture_examples("many_to_many")
    assert seq.x[0, :, 0].tolist() == [5, 10, 15] and seq.y[0].tolist() == [20, 25, 30]
    assert seq.x[-1, :, 0].tolist() == [290, 295, 300] and seq.y[-1].tolist() == [305, 310, 315]


def test_binary_addition_columns_right_to_left_with_delayed_targets():
    ex = problems.addition_examples(torch.tensor([6]), torch.tensor([3]), bits=3, delay=2)  # 110 + 011 = 1001
    assert ex.x[0].tolist() == [[0, 1], [1, 1], [1, 0], [0, 0], [0, 0], [0, 0]]  # columns, right to left
    assert ex.w[0].tolist() == [0, 0, 1, 1, 1, 1]  # nothing to say before the first column's delay
    assert ex.y[0, 2:].tolist() == [1, 0, 0, 1]  # 9's bits, least significant first, two steps late
    gen = problems.binary_addition(50, 8, 2, torch.Generator().manual_seed(0))
    assert gen.x.shape == (50, 11, 2)


def test_first_bit_targets_the_first_input():
    ex = problems.first_bit(20, 30, torch.Generator().manual_seed(0))
    assert ex.x.shape == (20, 30, 1) and torch.equal(ex.y[:, 0], (ex.x[:, 0, 0] > 0).float())


def recipe(name, *overrides):
    return load_recipe(str(RECIPES / f"{name}.toml"), ["log.tensorboard=false", "log.progress=false", *overrides])


def train(name, tmp_path, *overrides):
    return run_training(recipe(name, *overrides), out=tmp_path / name, console=Console(file=io.StringIO()))


@pytest.mark.parametrize("problem", ["one_to_many", "many_to_one", "many_to_many"])
def test_recipes_reach_the_lectures_predictions(problem, tmp_path):
    result = train(f"toy_{problem}", tmp_path)
    probe = PROBES[problem]
    [pred] = result.task.predict(result.model, [" ".join(str(v) for v in probe.inputs)], torch.device("cpu"))
    errors = [abs(p - e) for p, e in zip(pred["output"], probe.expected)]
    assert max(errors) <= probe.tolerance, (pred, probe)
    assert f"the lectures' model predicted [{probe.lectures[0]:.2f}" in result.report


def test_predict_cli_prints_the_many_to_one_prediction(tmp_path, capsys):
    result = train("toy_many_to_one", tmp_path, "train.max_steps=300")
    assert main(["predict", str(result.run_dir / "checkpoints" / "last.pt"), "50 51 52", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["predictions"] and len(out["predictions"][0]["output"]) == 1
    assert main(["predict", str(result.run_dir / "checkpoints" / "last.pt"), "50 51"]) == 1
    assert "takes 3 number(s)" in capsys.readouterr().err


def test_binary_addition_recipe_learns_every_sum_bit(tmp_path):
    result = train("toy_binary_addition", tmp_path)
    pairs = {split: set(map(tuple, result.task.splits_data[split].x.flatten(1).tolist())) for split in ("train", "val", "test")}
    assert not pairs["train"] & pairs["val"] and not pairs["train"] & pairs["test"]  # held-out additions are unseen
    assert len(pairs["test"]) == len(result.task.splits_data["test"].x)
    test = result.task.evaluate(result.model, "test", torch.device("cpu"))
    assert test["accuracy"] > 0.999 and test["sequence_accuracy"] > 0.99
    [pred] = result.task.predict(result.model, ["200+55"], torch.device("cpu"))
    assert pred["output"] == [255] and pred["bits"] == "011111111"


def test_check_task_harness_first_bit(tmp_path):
    raw = {"data": {"problem": "first_bit", "length": 8, "examples": 64},
           "model": {"cell": "gru", "hidden_size": 8, "nonlinearity": "tanh", "init": "torch"},
           "train": {"lr": 0.01, "batch_size": 16}, "log": {"tensorboard": False, "progress": False}}
    result = check_task(ToySequencesTask, raw, tmp_path, steps=12, predict_inputs=["10110", "0"])
    assert set(result.predictions[0]) == {"input", "output", "first_bit"}


def test_keras_parameter_count_of_the_lectures_model():
    task = ToySequencesTask(recipe("toy_many_to_one"))
    model = task.build_model()
    assert count_parameters(model).total == 10_400 + 51  # LSTM(50) on 1 feature + Dense(50 -> 1)
    bias = model.encoder.layers[0].directions[0].bias
    assert bias[50:100].eq(1).all()  # Keras' unit_forget_bias


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"model": {"cell": "lstm", "nonlinearity": "relu"}}, "or kernel: reference"),
        ({"data": {"path": "x.csv"}}, "generates its data"),
        ({"data": {"val_fraction": 1.0}}, "val_fraction must lie in"),
        ({"data": {"problem": "many_to_two"}}, "Did you mean 'many_to_one'"),
        ({"data": {"problem": "binary_addition", "bits": 2, "examples": 40}}, "2-bit additions have only 16"),
    ],
)
def test_recipe_errors(overrides, message):
    raw = {"task": {"name": "toy_sequences"}, **overrides}
    with pytest.raises(SeqtkError, match=message):
        resolve(raw, "bad", ToySequencesTask)


def test_predict_input_errors():
    task = ToySequencesTask(recipe("toy_binary_addition"))
    model = task.build_model()
    with pytest.raises(SeqtkError, match="two 8-bit numbers"):
        task.predict(model, ["300+1"], torch.device("cpu"))


def test_the_lifecycle_hooks_and_the_one_reporting_signature():
    """No prepare() of its own (load_data generates the examples; nothing is learned), and log_eval /
    final_report take the evaluation result as every task's do."""
    from seqtk.tasks.evaluation import evaluate

    assert "prepare" not in vars(ToySequencesTask) and ToySequencesTask.learned == ()
    task = ToySequencesTask(recipe("toy_many_to_one"))
    task.prepare()
    assert len(task.eval_batches("test")) == 1
    model, scalars = task.build_model(), {}

    class Scalars:
        def log_scalars(self, step, values):
            scalars[step] = values

    result = evaluate(task, model, "val", torch.device("cpu"))
    task.log_eval(model, Scalars(), 5, result=result)
    assert list(scalars[5]) == ["probe/output_0"]
    assert task.final_report(model, torch.device("cpu"), result=result).startswith("many_to_one: input [50, 51, 52]")
