"""train.ema_decay: the weight average is what is evaluated and saved; resume stays exact."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest
import torch
from rich.console import Console
from torch import nn

from seqtk.errors import SeqtkError
from seqtk.inference.checkpoint import load_checkpoint
from seqtk.inference.loading import load_for_inference
from seqtk.tasks.loading import load_recipe
from seqtk.training.ema import WeightAverage
from seqtk.training.train import run_training

RECIPE = textwrap.dedent(
    """\
    [task]
    name = "toy_sum"

    [train]
    max_steps = 8
    batch_size = 16
    eval_every = 4
    lr = 0.01
    ema_decay = 0.9
    device = "cpu"
    num_threads = 1

    [log]
    every = 1
    tensorboard = false
    progress = false
    """
)


def train(recipe: Path, out: Path, *overrides: str, resume: bool = False):
    return run_training(load_recipe(str(recipe), list(overrides)), out=out, resume=resume,
                        console=Console(file=io.StringIO()))


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "ema.toml"
    path.write_text(RECIPE)
    return path


def test_the_average_follows_the_formula_and_the_trained_weights_come_back():
    model = nn.Linear(3, 2)
    average = WeightAverage(model, decay=0.9)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    for n in range(30):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        average.update(model)
        d = min(0.9, (1 + n) / (10 + n))
        expected = {k: d * expected[k] + (1 - d) * v for k, v in model.state_dict().items()}
    for k, v in expected.items():
        torch.testing.assert_close(average.state[k], v)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    with average.applied(model):
        assert torch.equal(model.weight, average.state["weight"])
    assert all(torch.equal(model.state_dict()[k], v) for k, v in trained.items())


def test_checkpoints_hold_the_average_and_inference_reads_it(toy_task, recipe, tmp_path):
    result = train(recipe, tmp_path / "run")
    last = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert last["ema"]["updates"] == 8 and last["ema"]["decay"] == 0.9
    differs = [k for k in last["model"] if not torch.equal(last["model"][k], last["ema"]["raw"][k])]
    assert differs  # the average is not the trained weights
    loaded = load_for_inference(tmp_path / "run" / "checkpoints" / "last.pt", device="cpu")
    assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in last["model"].items())
    # the model run_training hands back is the average too (as Keras' use_ema leaves it)
    assert all(torch.equal(result.model.state_dict()[k], v) for k, v in last["model"].items())
    # validation scored the average: the step-8 metrics are the checkpoint model's
    from seqtk.tasks.evaluation import evaluate
    from seqtk.tasks.lifecycle import ready_task

    task = ready_task(type(loaded.task), loaded.recipe, last)
    scored = evaluate(task, loaded.model, "val", torch.device("cpu"))
    assert scored.metrics["loss"] == pytest.approx(last["metrics"]["loss"], rel=1e-6)


def test_resume_with_an_average_is_bit_identical(toy_task, recipe, tmp_path):
    train(recipe, tmp_path / "straight")
    train(recipe, tmp_path / "resumed", "train.max_steps=4")
    train(recipe, tmp_path / "resumed", resume=True)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert all(torch.equal(a["ema"]["raw"][k], b["ema"]["raw"][k]) for k in a["ema"]["raw"])
    assert a["ema"]["updates"] == b["ema"]["updates"] == 8


def test_the_average_can_be_turned_on_or_off_when_resuming(toy_task, recipe, tmp_path):
    # The average never changes what the optimiser trains: the trained weights equal a run without one.
    def model_of(run, part="model"):
        saved = load_checkpoint(tmp_path / run / "checkpoints" / "last.pt")
        return saved[part] if part == "model" else saved["ema"]["raw"]

    for steps in (5, 8):
        train(recipe, tmp_path / f"plain{steps}", f"train.max_steps={steps}", "train.ema_decay=0")
    train(recipe, tmp_path / "on", "train.max_steps=4", "train.ema_decay=0")
    train(recipe, tmp_path / "on", resume=True)  # on from step 4: it starts from the step-4 weights
    assert load_checkpoint(tmp_path / "on" / "checkpoints" / "last.pt")["ema"]["updates"] == 4
    plain, raw = model_of("plain8"), model_of("on", "raw")
    assert all(torch.equal(plain[k], raw[k]) for k in plain)
    train(recipe, tmp_path / "off", "train.max_steps=4")
    train(recipe, tmp_path / "off", "train.ema_decay=0", "train.max_steps=5", resume=True)
    resumed = load_checkpoint(tmp_path / "off" / "checkpoints" / "last.pt")
    assert "ema" not in resumed and resumed["step"] == 5
    plain = model_of("plain5")  # one more step from the trained weights, not from the average
    assert all(torch.equal(plain[k], resumed["model"][k]) for k in plain)


@pytest.mark.parametrize("decay", [1.0, -0.5, 2.0])
def test_a_decay_outside_zero_to_one_is_refused(toy_task, recipe, decay):
    with pytest.raises(SeqtkError, match=r"train.ema_decay must be 0 \(off\) or in \(0, 1\)"):
        load_recipe(str(recipe), [f"train.ema_decay={decay}"])


def test_a_mean_average_is_the_arithmetic_mean_of_every_update():
    model = nn.Linear(3, 2)
    average = WeightAverage(model, decay=None)  # NT-ASGD's: torch.optim.ASGD's ax
    seen = []
    for _ in range(5):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        average.update(model)
        seen.append({k: v.clone() for k, v in model.state_dict().items()})
    for k in average.state:
        torch.testing.assert_close(average.state[k], torch.stack([s[k] for s in seen]).mean(0))


NT_ASGD = ("train.ema_decay=0", 'train.optimizer="sgd"', "train.momentum=0", "train.nt_asgd_nonmono=2",
           "train.eval_every=2", "train.max_steps=12", 'train.metric_mode="max"')  # fmt: skip


def test_nt_asgd_switches_when_validation_stops_improving_and_saves_the_mean(toy_task, recipe, tmp_path):
    # metric_mode "max" on a falling loss: every evaluation is worse than the earlier ones, so with nonmono 2 the
    # switch comes at the 4th evaluation (step 8): the first with an evaluation before the last 2 to compare with
    train(recipe, tmp_path / "nt", *NT_ASGD)
    last = load_checkpoint(tmp_path / "nt" / "checkpoints" / "last.pt")
    assert last["nt_asgd"]["since"] == 8 and len(last["nt_asgd"]["history"]) == 4  # kept until the switch
    assert last["ema"]["decay"] is None and last["ema"]["updates"] == 4
    raws = []  # the trained weights after steps 9..12: averaging never changes what SGD trains
    for steps in (9, 10, 11, 12):
        train(recipe, tmp_path / f"plain{steps}", *NT_ASGD, "train.nt_asgd_nonmono=0", f"train.max_steps={steps}")
        raws.append(load_checkpoint(tmp_path / f"plain{steps}" / "checkpoints" / "last.pt")["model"])
    for k in last["model"]:
        assert torch.equal(last["ema"]["raw"][k], raws[-1][k])
        torch.testing.assert_close(last["model"][k], torch.stack([r[k] for r in raws]).mean(0))
    train(recipe, tmp_path / "resumed", *NT_ASGD, "train.max_steps=10")  # stopped after the switch
    train(recipe, tmp_path / "resumed", *NT_ASGD, resume=True)
    again = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    assert again["nt_asgd"] == last["nt_asgd"]
    assert all(torch.equal(again["model"][k], last["model"][k]) for k in last["model"])


def test_nt_asgd_needs_plain_sgd(toy_task, recipe):
    with pytest.raises(SeqtkError, match="train.nt_asgd_nonmono switches SGD to averaged SGD.*'adam'"):
        load_recipe(str(recipe), ["train.ema_decay=0", "train.nt_asgd_nonmono=5"])
    with pytest.raises(SeqtkError, match="train.ema_decay, another average"):
        load_recipe(str(recipe), ['train.optimizer="sgd"', "train.nt_asgd_nonmono=5"])
