"""A plugin that breaks the Task contract gets an error naming its task, the member and the fix."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import pytest
import torch
from rich.console import Console

from seqtk.config.schema import DataConfig
from seqtk.errors import SeqtkError
from seqtk.tasks import registry
from seqtk.tasks.contract import check_step_output, check_task_class
from seqtk.tasks.task import StepOutput
from seqtk.training.train import run_training


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def variant(toy, **members):
    """A toy_sum subclass with ``members`` replaced, registered under its own name."""
    cls = type("Variant", (toy.ToySumTask,), {"name": "toy_variant", **members})
    registry.default_registry().register(cls, "test variant")
    return cls


def run(toy, tmp_path, cls, **train):
    recipe = toy.make_recipe(tmp_path / "runs", task_cls=cls, train={"max_steps": 4, "eval_every": 2, **train})
    return run_training(recipe, out=tmp_path / "run", console=quiet())


def returning(make):
    def step(self, model, batch, *, train):
        x, y = batch
        loss = torch.nn.functional.mse_loss(model(x) * self.scale, y, reduction="none")  # (B,)
        return make(loss, y)

    return step


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda loss, y: (loss.mean(), len(y)), "returned tuple, not a StepOutput"),
        (lambda loss, y: StepOutput(loss.mean().item(), len(y)), "returned StepOutput.loss as float"),
        (lambda loss, y: StepOutput(loss, len(y)), r"returned StepOutput.loss as a tensor of shape \(16,\)"),
        (lambda loss, y: StepOutput(loss.mean().detach(), len(y)), "does not require grad at train=True"),
        (lambda loss, y: StepOutput(loss.mean(), -1), "StepOutput.count = -1"),
        (lambda loss, y: StepOutput(loss.mean(), len(y), {"acc": "high"}), "metric 'acc' = 'high'"),
        (lambda loss, y: StepOutput(loss.mean(), len(y), lr_scale=0.0), "StepOutput.lr_scale = 0.0"),
    ],
)
def test_a_broken_step_is_the_plugins_error(toy_task, tmp_path, make, message):
    cls = variant(toy_task, step=returning(make))
    with pytest.raises(SeqtkError, match=message) as exc:
        run(toy_task, tmp_path, cls)
    assert "task 'toy_variant'.step() (from test variant)" in exc.value.problem
    assert exc.value.fix


def test_tensor_metrics_become_floats_without_warnings(toy_task):
    task = toy_task.ToySumTask.__new__(toy_task.ToySumTask)
    loss = torch.ones(1, requires_grad=True).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = check_step_output(task, StepOutput(loss, torch.tensor(8), {"mae": loss * 2}), train=True)
    assert out.count == 8 and out.metrics == {"mae": 2.0} and out.loss is loss
    assert check_step_output(task, StepOutput(loss, 0), train=True).count == 0  # an empty batch is allowed
    assert check_step_output(task, StepOutput(loss, torch.tensor(2.5)), train=True).count == 2.5  # a weight sum


def test_an_attribute_named_like_a_task_method_is_refused_where_it_is_set(toy_task, tmp_path):
    def prepare(self):
        toy_task.ToySumTask.prepare(self)
        self.splits = {"val": 1}

    cls = variant(toy_task, prepare=prepare)
    with pytest.raises(SeqtkError, match=r"sets self.splits, which would hide the Task method splits\(\)") as exc:
        run(toy_task, tmp_path, cls)
    assert "self._splits" in exc.value.fix
    task = toy_task.ToySumTask(toy_task.make_recipe(tmp_path))
    task.console = None  # other names stay free
    task.name_of_my_own = 1
    task.step = lambda model, batch, *, train: None  # a callable still works as the method: allowed
    task.validate = 3  # seqtk calls validate on the class


def test_class_level_shadowing_and_config_classes_are_checked(toy_task):
    with pytest.raises(SeqtkError, match="sets splits to a value, which hides the Task method"):
        check_task_class(type("T", (toy_task.ToySumTask,), {"name": "t", "splits": ["val"]}))

    class NotADataclass(DataConfig):
        length: int = 10

    with pytest.raises(SeqtkError, match=r"NotADataclass declares length but is not a dataclass") as exc:
        check_task_class(type("T", (toy_task.ToySumTask,), {"name": "t", "data_config": NotADataclass}))
    assert "@dataclass(frozen=True)" in exc.value.fix

    @dataclass(frozen=True)
    class Fine(DataConfig):
        length: int = 10

    check_task_class(type("T", (toy_task.ToySumTask,), {"name": "t", "data_config": Fine}))
    with pytest.raises(SeqtkError, match="model_config is .*not a subclass of seqtk.config.schema.ModelConfig"):
        check_task_class(type("T", (toy_task.ToySumTask,), {"name": "t", "model_config": dict}))


def test_a_main_metric_the_task_never_reports_stops_with_last_pt_saved(toy_task, tmp_path):
    cls = variant(toy_task, main_metric="accuracy", main_metric_mode="max")
    with pytest.raises(SeqtkError, match="the metric 'accuracy' that picks best.pt is not among") as exc:
        run(toy_task, tmp_path, cls)
    assert "Variant.main_metric" in exc.value.fix
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


def test_predict_must_return_one_dict_per_input(toy_task, tmp_path, capsys):
    from seqtk.cli.main import main

    cls = variant(toy_task, predict=lambda self, model, inputs, device: [{"input": inputs[0], "sum": 1.0}])
    run(toy_task, tmp_path, cls)
    ckpt = str(tmp_path / "run" / "checkpoints" / "last.pt")
    assert main(["predict", ckpt, "0.5 0.25", "1"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "task 'toy_variant'.predict() (from test variant) returned 1 results for 2 inputs" in err and "Traceback" not in err
    assert main(["predict", ckpt, "0.5 0.25"]) == 0
    out = capsys.readouterr().out
    assert out.count("input") == 1 and "sum" in out  # the task's own "input" key is not a second column


def test_predict_options_must_be_keywords_of_predict():
    from seqtk.tasks.contract import check_task_class
    from seqtk_plugins.classify.task import ClassifyTask

    check_task_class(ClassifyTask)  # predict(..., top_k=0)

    class Forgetful(ClassifyTask):
        name = "forgetful"

        def predict(self, model, inputs, device):  # noqa: ANN001, ANN201
            return []

    with pytest.raises(SeqtkError) as err:
        check_task_class(Forgetful)
    assert "top_k" in err.value.problem and "predict_options" in err.value.fix
