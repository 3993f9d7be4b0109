"""seqtk.tasks.evaluation: one loop for every task, the reduce hook, and the result handed to log_eval."""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

import pytest
import torch
from rich.console import Console

from seqtk.tasks import registry
from seqtk.tasks.evaluation import EvalResult, call_with_result, evaluate
from seqtk.tasks.task import StepOutput
from seqtk.training.train import run_training


class Worst:
    """A reducer: the largest absolute error over the split, which no mean of batch means gives."""

    def __init__(self) -> None:
        self.worst, self.batches = 0.0, 0

    def add(self, batch: Any, out: StepOutput) -> None:
        self.worst = max(self.worst, float(out.outputs["abs_error"].max()))
        self.batches += 1

    def metrics(self) -> dict[str, float]:
        return {"max_error": self.worst}


def reducing_task(toy):
    """The toy task with a reducer and the newer log_eval/final_report that take the result."""
    seen: list[EvalResult | None] = []

    class Reducing(toy.ToySumTask):
        name = "toy_reducing"

        def step(self, model, batch, *, train):
            out = super().step(model, batch, train=train)
            x, y = batch
            err = (model(x).float() * self.scale - y).abs().detach()  # (B,)
            return StepOutput(out.loss, out.count, out.metrics, outputs={"abs_error": err})

        def eval_reducer(self, split):
            return Worst()

        def log_eval(self, model, logger, step, result=None):
            seen.append(result)

        def final_report(self, model, device, result=None):
            return f"max error {result.metrics['max_error']:.3f} over {result.details.batches} batches"

    registry.default_registry().register(Reducing, "test")
    return Reducing, seen


def test_the_reducer_sees_every_batch_and_its_metrics_join_the_means(toy_task):
    task_cls, _ = reducing_task(toy_task)
    task = task_cls(toy_task.make_recipe("runs", task_cls=task_cls))
    task.prepare()
    torch.manual_seed(0)
    model = task.build_model().eval()
    result = evaluate(task, model, "val", torch.device("cpu"))
    batches = list(task.eval_batches("val"))
    assert result.details.batches == len(batches) and result.metrics["max_error"] == result.details.worst
    assert {"loss", "rmse", "max_error"} <= set(result.metrics)  # means, finish_metrics, the reducer
    assert task.evaluate(model, "val", torch.device("cpu")) == result.metrics  # the Task method is the same loop
    capped = evaluate(task, model, "val", torch.device("cpu"), max_batches=1)
    assert capped.details.batches == 1


def test_the_trainer_hands_each_evaluation_to_log_eval_and_the_last_to_final_report(toy_task, tmp_path):
    task_cls, seen = reducing_task(toy_task)
    recipe = toy_task.make_recipe(tmp_path / "runs", task_cls=task_cls, train={"max_steps": 6, "eval_every": 3})
    result = run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
    assert [r.split for r in seen] == ["val", "val"] and all(isinstance(r.details, Worst) for r in seen)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["val_max_error"] for r in rows if "val_max_error" in r] == [r.metrics["max_error"] for r in seen]
    assert result.report == f"max error {seen[-1].metrics['max_error']:.3f} over {seen[-1].details.batches} batches"


def sampling_task(toy):
    """The toy task scoring what its model "samples" with model_metrics, as music scores its tunes."""
    seen: list[EvalResult] = []

    class Sampling(toy.ToySumTask):
        name = "toy_sampling"

        def model_metrics(self, model, split, device, result):
            g = torch.Generator().manual_seed(0)  # a generator of its own: the run's RNG is untouched
            x = torch.rand(4, self.recipe.data.seq_len, generator=g)
            sums = model(x.to(device)).float().cpu() * self.scale  # (4,)
            result.extras["sampled"] = sums.tolist()
            assert not torch.is_grad_enabled() and not model.training and "loss" in result.metrics
            return {"sample_error": float((sums - x.sum(1)).abs().mean())}

        def log_eval(self, model, logger, step, result=None):
            seen.append(result)

    registry.default_registry().register(Sampling, "test")
    return Sampling, seen


def test_model_metrics_join_the_evaluation_and_what_it_keeps_reaches_log_eval(toy_task, tmp_path):
    task_cls, seen = sampling_task(toy_task)
    recipe = toy_task.make_recipe(tmp_path / "runs", task_cls=task_cls, train={"max_steps": 6, "eval_every": 3})
    result = run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
    assert [len(r.extras["sampled"]) for r in seen] == [4, 4]
    assert "sample_error" in result.metrics and "rmse" in result.metrics  # finish_metrics ran after the hook
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["val_sample_error"] for r in rows if "val_sample_error" in r] == [r.metrics["sample_error"] for r in seen]
    plain = toy_task.make_recipe(tmp_path / "runs", train={"max_steps": 6, "eval_every": 3})
    run_training(plain, out=tmp_path / "plain", console=Console(file=io.StringIO()))
    a, b = (torch.load(tmp_path / n / "checkpoints" / "last.pt", weights_only=False)["model"] for n in ("run", "plain"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # scoring samples changed nothing in training


def test_predictor_evaluate_runs_model_metrics_too(toy_task, tmp_path):
    import seqtk

    task_cls, _ = sampling_task(toy_task)
    recipe = toy_task.make_recipe(tmp_path / "runs", task_cls=task_cls, train={"max_steps": 3, "eval_every": 3})
    run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
    assert "sample_error" in seqtk.load(tmp_path / "run" / "checkpoints" / "last.pt").evaluate("test")


def test_a_task_that_overrides_evaluate_still_trains_and_its_older_log_eval_warns_once(toy_task, tmp_path):
    # the older plugin API: its own evaluate, and log_eval/final_report without the result
    calls = []

    class OwnLoop(toy_task.ToySumTask):
        name = "toy_own_loop"

        def evaluate(self, model, split, device, max_batches=0):
            return {"loss": 1.5, "own": 2.0}

        def log_eval(self, model, logger, step):
            calls.append(step)

        def final_report(self, model, device):
            return "own report"

    registry.default_registry().register(OwnLoop, "test")
    recipe = toy_task.make_recipe(tmp_path / "runs", task_cls=OwnLoop, train={"max_steps": 4, "eval_every": 2})
    with pytest.warns(FutureWarning) as caught:
        result = run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
    assert result.metrics == {"loss": 1.5, "own": 2.0} and result.report == "own report" and calls == [2, 4]
    [warning] = [w for w in caught if "toy_own_loop" in str(w.message)]  # once, for both methods
    assert "log_eval and final_report take no 'result' parameter" in str(warning.message)
    assert "log_eval(self, model, logger, step, result=None) and final_report(self, model, device, result=None)" in str(
        warning.message)


def test_the_warning_names_only_the_older_method_and_each_class_once():
    class Half:
        name = "half"

        def log_eval(self, model, logger, step, result=None): ...

        def final_report(self, model, device):
            return "done"

    result = EvalResult("val", {"loss": 1.0})
    with pytest.warns(FutureWarning, match=r"task 'half': final_report takes no 'result' parameter.*Fix: define "
                      r"final_report\(self, model, device, result=None\)"):
        assert call_with_result(Half().final_report, None, None, result=result) == "done"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second instance of the class, a second call: no warning
        call_with_result(Half().final_report, None, None, result=result)
        call_with_result(Half().log_eval, None, None, 1, result=result)


def test_call_with_result_passes_it_only_where_it_is_taken():
    calls = []
    result = EvalResult("val", {"loss": 1.0})
    call_with_result(lambda a, b: calls.append(("old", a, b)), 1, 2, result=result)
    call_with_result(lambda a, result=None: calls.append(("new", a, result)), 1, result=result)
    call_with_result(lambda a, **extra: calls.append(("kwargs", a, extra["result"])), 1, result=result)
    assert calls == [("old", 1, 2), ("new", 1, result), ("kwargs", 1, result)]
