"""The plugin-author harness, seqtk.testing.check_task, on the toy task."""

from __future__ import annotations

import pytest
import torch

from seqtk.errors import SeqtkError
from seqtk.tasks import registry
from seqtk.testing import check_task

RECIPE = {"data": {"n_train": 64}, "model": {"hidden": 16}, "train": {"batch_size": 16, "lr": 0.02, "eval_every": 10}, "log": {"tensorboard": False}}


def test_check_task_by_name(toy_task, tmp_path):
    result = check_task("toy_sum", RECIPE, tmp_path, steps=20, predict_inputs=["0.5,0.25,-1", "1,1,1,1"])
    assert result.last_loss < result.first_loss
    assert abs(result.reloaded_val_loss - result.val_loss) <= 1e-5
    assert [p["input"] for p in result.predictions] == ["0.5,0.25,-1", "1,1,1,1"]
    assert (result.run_dir / "checkpoints" / "last.pt").is_file()


def test_check_task_by_class_registers_it(toy_task, tmp_path):
    other = type("Other", (toy_task.ToySumTask,), {"name": "toy_other"})
    result = check_task(other, RECIPE, tmp_path, steps=10)
    assert result.predictions is None
    assert registry.get_task("toy_other") is other


def test_a_loss_that_does_not_fall_fails(toy_task, tmp_path):
    def step(self, model, batch, *, train):
        out = toy_task.ToySumTask.step(self, model, batch, train=train)
        out.loss = out.loss * 0 + 1.0  # nothing to learn
        return out

    flat = type("FlatLoss", (toy_task.ToySumTask,), {"name": "toy_flat_loss", "step": step})
    with pytest.raises(AssertionError, match="training loss did not fall"):
        check_task(flat, RECIPE, tmp_path, steps=6)


def test_nondeterministic_predict_fails(toy_task, tmp_path):
    def predict(self, model, inputs, device):
        return [{"input": text, "sum": float(torch.rand(()))} for text in inputs]

    noisy = type("NoisyPredict", (toy_task.ToySumTask,), {"name": "toy_noisy_predict", "predict": predict})
    with pytest.raises(AssertionError, match="predicting twice"):
        check_task(noisy, RECIPE, tmp_path, steps=10, predict_inputs=["1,2"])


def test_state_missing_from_the_checkpoint_fails(toy_task, tmp_path):
    # A task that forgets its scale in state_dict evaluates differently after reloading.
    forgetful = type(
        "Forgetful", (toy_task.ToySumTask,),
        {"name": "toy_forgetful", "state_dict": lambda self: {}, "load_state_dict": lambda self, s: setattr(self, "scale", 1.0)},
    )
    with pytest.raises(AssertionError, match="missing from the checkpoint"):
        check_task(forgetful, RECIPE, tmp_path, steps=10)


def test_predict_returning_fewer_results_than_inputs_fails_as_the_cli_would(toy_task, tmp_path):
    def predict(self, model, inputs, device):
        return toy_task.ToySumTask.predict(self, model, inputs[:1], device)

    short = type("ShortPredict", (toy_task.ToySumTask,), {"name": "toy_short_predict", "predict": predict})
    with pytest.raises(SeqtkError, match=r"predict\(\).*returned 1 results for 2 inputs.*one dict per input"):
        check_task(short, RECIPE, tmp_path, steps=10, predict_inputs=["1,2", "3"])
