"""The training loop on the toy task: layout, logging, checkpoints, resume, schedules."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
import torch
from rich.console import Console

from seqtk.config.conversion import resolve
from seqtk.config.recipe_io import read_toml
from seqtk.config.schema import TrainConfig
from seqtk.errors import SeqtkError
from seqtk.inference.checkpoint import load_checkpoint
from seqtk.inference.loading import load_for_inference
from seqtk.runtime.device import cpu_supports_bf16
from seqtk.tasks import registry
from seqtk.training.optim import lr_factor, make_scheduler
from seqtk.training.train import run_training


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def train(toy, tmp_path: Path, out: str | None = "run", console: Console | None = None, **sections):
    recipe = toy.make_recipe(tmp_path / "runs", **sections)
    return run_training(recipe, out=tmp_path / out if out else None, console=console or quiet(), command="seqtk run toy")


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def test_loss_falls_and_run_dir_layout(toy_task, tmp_path):
    result = train(toy_task, tmp_path, train={"max_steps": 40, "eval_every": 20}, log={"tensorboard": True})
    run = tmp_path / "run"
    assert result.run_dir == run and result.step == 40 and not result.stopped_early
    assert (run / "config.toml").is_file() and (run / "metrics.jsonl").is_file()
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "checkpoints" / "best.pt").is_file()
    assert list(run.glob("events.out.tfevents*"))
    losses = [r["train_loss"] for r in read_jsonl(run / "metrics.jsonl") if "train_loss" in r]
    assert len(losses) == 40
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert result.report and result.report.startswith("toy_sum:")
    assert result.best is not None and result.best["metric"] == "loss"


def test_the_progress_line_of_an_evaluation_step_shows_that_evaluation(toy_task, tmp_path):
    console = quiet()
    train(toy_task, tmp_path, console=console, train={"max_steps": 6, "eval_every": 3}, log={"every": 3})
    lines = [line for line in console.file.getvalue().splitlines() if line.startswith("step ")]
    vals = {r["step"]: r["val_loss"] for r in read_jsonl(tmp_path / "run" / "metrics.jsonl") if "val_loss" in r}
    assert [line.split()[0:2] for line in lines] == [["step", "3/6"], ["step", "6/6"]]
    for line, step in zip(lines, (3, 6)):
        assert f"val loss {vals[step]:.4g}" in line, (line, vals)


def test_default_run_dir_is_out_dir_recipe_timestamp(toy_task, tmp_path):
    first = train(toy_task, tmp_path, out=None, train={"max_steps": 2})
    second = train(toy_task, tmp_path, out=None, train={"max_steps": 2})
    assert first.run_dir.parent == tmp_path / "runs" / "toy"
    assert first.run_dir != second.run_dir  # same second: a suffix keeps them apart


def test_config_toml_round_trips(toy_task, tmp_path):
    recipe = toy_task.make_recipe(tmp_path / "runs", model={"cell": "lstm"}, train={"max_steps": 2, "schedule": "cosine"})
    run_training(recipe, out=tmp_path / "run", console=quiet(), command="seqtk run toy model.cell=lstm")
    text = (tmp_path / "run" / "config.toml").read_text()
    assert text.startswith("# seqtk run toy model.cell=lstm\n")
    again = resolve(read_toml(tmp_path / "run" / "config.toml"), "toy", toy_task.ToySumTask)
    assert again == recipe


def test_metrics_jsonl_content(toy_task, tmp_path):
    train(toy_task, tmp_path, train={"max_steps": 6, "eval_every": 3, "warmup_steps": 2}, log={"every": 2})
    records = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    train_lines = [r for r in records if "train_loss" in r]
    val_lines = [r for r in records if "val_loss" in r]
    assert [r["step"] for r in train_lines] == [2, 4, 6]
    assert [r["step"] for r in val_lines] == [3, 6]
    for key in ("train_mae", "train_lr", "train_grad_norm", "train_throughput"):
        assert all(math.isfinite(r[key]) for r in train_lines), key
    assert train_lines[0]["train_lr"] == pytest.approx(0.01)  # step 2 ends the warmup
    assert set(val_lines[0]) == {"step", "val_loss", "val_mae", "val_rmse"}
    texts = read_jsonl(tmp_path / "run" / "text.jsonl")
    assert [t["step"] for t in texts] == [3, 6] and texts[0]["tag"] == "sample"


def test_reset_state_at_every_epoch_start(toy_task, tmp_path):
    # 64 examples / batch 16 = 4 batches an epoch: epochs start at steps 1, 5 and 9.
    result = train(toy_task, tmp_path, train={"max_steps": 10})
    assert result.task.resets == 3


def test_refuses_to_overwrite_a_run(toy_task, tmp_path):
    train(toy_task, tmp_path, train={"max_steps": 2})
    before = (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(SeqtkError, match="already holds a training run.*--resume"):
        train(toy_task, tmp_path, train={"max_steps": 2})
    assert (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes() == before


def test_resume_is_exact(toy_task, tmp_path):
    common = {"eval_every": 3, "warmup_steps": 2}
    train(toy_task, tmp_path, out="whole", train={"max_steps": 8, **common})
    train(toy_task, tmp_path, out="split", train={"max_steps": 4, **common})
    recipe = toy_task.make_recipe(tmp_path / "runs", train={"max_steps": 8, **common})
    result = run_training(recipe, resume=tmp_path / "split", console=quiet())
    assert result.step == 8
    whole, split = weights(tmp_path / "whole/checkpoints/last.pt"), weights(tmp_path / "split/checkpoints/last.pt")
    assert whole.keys() == split.keys()
    for name in whole:
        assert torch.equal(whole[name], split[name]), name
    steps = [r["step"] for r in read_jsonl(tmp_path / "split" / "metrics.jsonl") if "train_loss" in r]
    assert steps == list(range(1, 9))  # appended to, each step once


def test_resume_with_a_changed_model_size_names_the_recipe_key_not_the_tensor_shapes(toy_task, tmp_path):
    train(toy_task, tmp_path, train={"max_steps": 2})
    changed = toy_task.make_recipe(tmp_path / "runs", model={"hidden": 8}, data={"seq_len": 7}, train={"max_steps": 4})
    with pytest.raises(SeqtkError) as caught:
        run_training(changed, resume=tmp_path / "run", console=quiet())
    message = str(caught.value)
    assert "model.hidden is 8 here but 16 in the checkpoint." in message, message
    assert "Fix: drop the override or set it back (model.hidden=16)" in message and "without --resume" in message
    assert "size mismatch" not in message and "data.seq_len" not in message  # a [model] key explains it


def test_resume_with_weights_that_do_not_fit_an_unchanged_recipe_lists_the_tensors(toy_task, tmp_path):
    from seqtk.inference.checkpoint import save_checkpoint

    train(toy_task, tmp_path, train={"max_steps": 2})
    data = load_checkpoint(tmp_path / "run/checkpoints/last.pt")
    data["model"]["head.weight"] = torch.zeros(1, 99)  # no recipe key explains this: a changed plugin, say
    save_checkpoint(tmp_path / "run/checkpoints/last.pt", data)
    recipe = toy_task.make_recipe(tmp_path / "runs", train={"max_steps": 4})
    with pytest.raises(SeqtkError, match="do not fit the model task 'toy_sum' builds.*size mismatch for head.weight"):
        run_training(recipe, resume=tmp_path / "run", console=quiet())


def test_recipe_changes_name_model_keys_first_then_data_and_vocab(toy_task, tmp_path):
    from seqtk.inference.loading import recipe_changes

    saved = toy_task.make_recipe(tmp_path).to_dict()
    assert recipe_changes(saved, toy_task.make_recipe(tmp_path, train={"lr": 0.5})) == []  # [train] sizes nothing
    both = toy_task.make_recipe(tmp_path, model={"cell": "lstm"}, data={"seq_len": 7})
    assert recipe_changes(saved, both) == [("model.cell", "lstm", "gru")]
    assert recipe_changes(saved, toy_task.make_recipe(tmp_path, data={"seq_len": 7})) == [("data.seq_len", 7, 5)]


def test_resume_follows_the_recipes_new_rate_decay_and_schedule(toy_task, tmp_path):
    # The checkpoint's optimiser and scheduler state hold the old lr/weight_decay/base rate; the resume
    # banner reports a changed train.lr, and the NaN error's fix ("a lower train.lr, then resume") relies on it.
    train(toy_task, tmp_path, out="run", train={"max_steps": 4, "lr": 0.01, "weight_decay": 0.0, "schedule": "cosine"})
    new = {"max_steps": 8, "lr": 0.001, "weight_decay": 0.1, "schedule": "cosine"}
    console = quiet()
    run_training(toy_task.make_recipe(tmp_path / "runs", train=new), resume=tmp_path / "run", console=console)
    assert "changed: train.lr 0.01 -> 0.001" in console.file.getvalue()
    lrs = {r["step"]: r["train_lr"] for r in read_jsonl(tmp_path / "run" / "metrics.jsonl") if "train_lr" in r}
    cfg = TrainConfig(**new)
    for step in range(5, 9):
        assert lrs[step] == pytest.approx(0.001 * lr_factor(step, cfg)), step
    group = load_checkpoint(tmp_path / "run/checkpoints/last.pt")["optimizer"]["param_groups"][0]
    assert group["weight_decay"] == 0.1 and group["initial_lr"] == 0.001


def test_resume_with_another_optimizer_starts_its_state_fresh(toy_task, tmp_path):
    train(toy_task, tmp_path, out="run", train={"max_steps": 3, "optimizer": "adam"})
    console = quiet()
    recipe = toy_task.make_recipe(tmp_path / "runs", train={"max_steps": 6, "optimizer": "sgd", "momentum": 0.5})
    assert run_training(recipe, resume=tmp_path / "run", console=console).step == 6
    assert "train.optimizer changed from 'adam': the sgd state starts fresh" in console.file.getvalue()
    group = load_checkpoint(tmp_path / "run/checkpoints/last.pt")["optimizer"]["param_groups"][0]
    assert group["momentum"] == 0.5 and "betas" not in group


def test_evaluation_does_not_change_training(toy_task, tmp_path):
    # Even a log_eval that draws from the global RNG (tasks should not) changes nothing.
    def log_eval(self, model, logger, step, result=None):
        logger.log_text("noise", str(torch.rand(3).tolist()), step)

    noisy = type("Noisy", (toy_task.ToySumTask,), {"name": "toy_noisy", "log_eval": log_eval})
    registry.default_registry().register(noisy, "test")
    for out, every in (("often", 1), ("rarely", 100)):
        recipe = toy_task.make_recipe(tmp_path, task_cls=noisy, train={"max_steps": 6, "eval_every": every})
        run_training(recipe, out=tmp_path / out, console=quiet())
    a, b = weights(tmp_path / "often/checkpoints/last.pt"), weights(tmp_path / "rarely/checkpoints/last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_true_takes_the_latest_run_and_a_finished_run_trains_nothing(toy_task, tmp_path):
    first = train(toy_task, tmp_path, out=None, train={"max_steps": 4})
    console = quiet()
    recipe = toy_task.make_recipe(tmp_path / "runs", train={"max_steps": 4})
    result = run_training(recipe, resume=True, console=console)
    assert result.run_dir == first.run_dir and result.step == 4
    assert "nothing to train" in console.file.getvalue()
    assert result.metrics == first.metrics


def test_resume_without_a_run_says_so(toy_task, tmp_path):
    recipe = toy_task.make_recipe(tmp_path / "runs")
    with pytest.raises(SeqtkError, match="no earlier run of recipe 'toy'"):
        run_training(recipe, resume=True, console=quiet())


class _BadAfter:
    """Mixin: the training loss becomes ``self.bad`` (NaN or inf) after 5 training steps."""

    bad = float("nan")

    def step(self, model, batch, *, train):
        out = super().step(model, batch, train=train)
        if train:
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls > 5:
                out.loss = out.loss * self.bad
        return out


@pytest.mark.parametrize("bad", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(toy_task, tmp_path, bad):
    bad_task = type("BadTask", (_BadAfter, toy_task.ToySumTask), {"name": "toy_bad", "bad": bad})
    registry.default_registry().register(bad_task, "test")
    recipe = toy_task.make_recipe(tmp_path, task_cls=bad_task, train={"max_steps": 10, "eval_every": 2})
    with pytest.raises(SeqtkError) as info:
        run_training(recipe, out=tmp_path / "run", console=quiet())
    message = str(info.value)
    assert f"became {bad} at step 6" in message and "train.grad_clip" in message and "train.lr" in message
    assert "last good checkpoint" in message and str(tmp_path / "run/checkpoints/last.pt") in message
    assert load_checkpoint(tmp_path / "run/checkpoints/last.pt")["step"] == 4
    assert load_checkpoint(tmp_path / "run/checkpoints/best.pt")["step"] in (2, 4)
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir()) == ["best.pt", "last.pt"]


def test_early_stopping(toy_task, tmp_path):
    flat = type("Flat", (toy_task.ToySumTask,), {"name": "toy_flat", "finish_metrics": lambda self, m: m | {"flat": 1.0}})
    registry.default_registry().register(flat, "test")
    recipe = toy_task.make_recipe(
        tmp_path, task_cls=flat, train={"max_steps": 20, "eval_every": 2, "patience": 2, "metric": "flat"}
    )
    result = run_training(recipe, out=tmp_path / "run", console=quiet())
    assert result.stopped_early and result.step == 6
    assert result.best == {"metric": "flat", "mode": "max", "value": 1.0, "step": 2, "evals_since": 2}
    assert load_checkpoint(tmp_path / "run/checkpoints/best.pt")["step"] == 2
    console = quiet()
    again = run_training(recipe, resume=tmp_path / "run", console=console)
    assert again.step == 6 and "stopped early" in console.file.getvalue()


def test_unknown_metric_is_named(toy_task, tmp_path):
    with pytest.raises(SeqtkError, match="'acc' that picks best.pt.*loss, mae, rmse"):
        train(toy_task, tmp_path, train={"max_steps": 2, "metric": "acc"})


def test_fp16_on_cpu_is_refused_before_anything_is_written(toy_task, tmp_path):
    with pytest.raises(SeqtkError, match="bf16"):
        train(toy_task, tmp_path, train={"precision": "fp16"})
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no bf16 kernels (AVX2 only): bf16 is refused")
def test_bf16_on_cpu_trains(toy_task, tmp_path):
    result = train(toy_task, tmp_path, train={"max_steps": 3, "precision": "bf16"})
    assert math.isfinite(result.metrics["loss"])


def test_process_wide_torch_switches_are_restored(toy_task, tmp_path):
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    train(toy_task, tmp_path, train={"max_steps": 2, "num_threads": 1, "deterministic": True})
    assert torch.get_num_threads() == threads and torch.are_deterministic_algorithms_enabled() == det


def test_progress_lines_when_not_a_terminal(toy_task, tmp_path):
    console = quiet()
    train(toy_task, tmp_path, console=console, train={"max_steps": 4}, log={"every": 2, "progress": True})
    text = console.file.getvalue()
    assert "step 2/4" in text and "step 4/4" in text and "sequences/s" in text and "Training summary" in text


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("constant", [0.5, 1.0, 1.0, 1.0, 1.0, 1.0]),
        # cosine over steps 3..5: 0.2 + 0.8 * (1 + cos(pi * p)) / 2 for p = 1/3, 2/3, 1; then the floor
        ("cosine", [0.5, 1.0, 0.8, 0.4, 0.2, 0.2]),
        ("step", [0.5, 1.0, 0.5, 0.5, 0.25, 0.25]),
    ],
)
def test_schedules(schedule, expected):
    cfg = TrainConfig(max_steps=5, warmup_steps=2, schedule=schedule, min_lr_ratio=0.2, step_every=2, gamma=0.5, lr=0.1)
    factors = [lr_factor(step, cfg) for step in range(1, 7)]
    assert factors == pytest.approx(expected)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=cfg.lr)
    sched = make_scheduler(opt, cfg)
    seen = []
    for _ in range(6):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([0.1 * f for f in expected])


@pytest.mark.gpu
def test_cuda_bf16_training_and_reload(toy_task, tmp_path):
    result = train(toy_task, tmp_path, train={"max_steps": 4, "device": "cuda", "precision": "bf16"})
    assert math.isfinite(result.metrics["loss"])
    loaded = load_for_inference(tmp_path / "run/checkpoints/last.pt", device="cuda")
    assert next(loaded.model.parameters()).is_cuda
    assert loaded.payload["rng"]["cuda"], "CUDA RNG states are checkpointed"
    a = loaded.task.predict(loaded.model, ["0.5,0.25,-1"], loaded.device)
    b = result.task.predict(result.model.eval(), ["0.5,0.25,-1"], loaded.device)
    assert a == b


def test_out_never_writes_over_files_a_run_did_not_write(toy_task, tmp_path):
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "config.toml").write_text("my precious config\n")
    (mine / "metrics.jsonl").write_text("my numbers\n")
    with pytest.raises(SeqtkError, match="already holds files that no seqtk run wrote"):
        train(toy_task, tmp_path, out="project")
    assert (mine / "config.toml").read_text() == "my precious config\n" and (mine / "metrics.jsonl").read_text() == "my numbers\n"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(SeqtkError, match="is a file, not a folder"):
        train(toy_task, tmp_path, out="afile")
    # a run that died before its first checkpoint left only its own files: starting over there is fine
    crashed = tmp_path / "crashed"
    train(toy_task, tmp_path, out="crashed", train={"max_steps": 2})
    for pt in (crashed / "checkpoints").glob("*.pt"):
        pt.unlink()
    assert train(toy_task, tmp_path, out="crashed", train={"max_steps": 2}).step == 2


def test_resume_from_a_loose_file_needs_out_and_an_earlier_checkpoint_keeps_a_later_last(toy_task, tmp_path):
    train(toy_task, tmp_path, out="run", train={"max_steps": 4, "eval_every": 4})
    run = tmp_path / "run" / "checkpoints"
    (run / "early.pt").write_bytes((run / "last.pt").read_bytes())  # step 4, as best.pt often is
    loose = tmp_path / "downloads" / "model.pt"
    loose.parent.mkdir()
    loose.write_bytes((run / "last.pt").read_bytes())
    recipe = toy_task.make_recipe(tmp_path / "runs", train={"max_steps": 8, "eval_every": 4})
    run_training(recipe, resume=tmp_path / "run", console=quiet())  # last.pt is at step 8 now
    with pytest.raises(SeqtkError, match="is not inside a run's checkpoints/ folder"):
        run_training(recipe, resume=loose, console=quiet())
    assert sorted(p.name for p in loose.parent.iterdir()) == ["model.pt"]
    assert run_training(recipe, resume=loose, out=tmp_path / "continued", console=quiet()).step == 8
    console = quiet()
    longer = toy_task.make_recipe(tmp_path / "runs", train={"max_steps": 12, "eval_every": 4})
    run_training(longer, resume=run / "early.pt", console=console)
    assert load_checkpoint(run / "last-step8.pt")["step"] == 8 and "kept as" in console.file.getvalue()
    assert load_checkpoint(run / "last.pt")["step"] == 12


@pytest.mark.gpu
def test_cuda_resume_is_exact(toy_task, tmp_path):
    # cuDNN under train.deterministic: 8 steps in one go equal 4 + 4 resumed, bit for bit
    common = {"eval_every": 3, "warmup_steps": 2, "device": "cuda"}
    train(toy_task, tmp_path, out="whole", train={"max_steps": 8, **common})
    train(toy_task, tmp_path, out="split", train={"max_steps": 4, **common})
    recipe = toy_task.make_recipe(tmp_path / "runs", train={"max_steps": 8, **common})
    assert run_training(recipe, resume=tmp_path / "split", console=quiet()).step == 8
    whole, split = weights(tmp_path / "whole/checkpoints/last.pt"), weights(tmp_path / "split/checkpoints/last.pt")
    for name in whole:
        assert torch.equal(whole[name], split[name]), name


@pytest.mark.gpu
def test_cuda_fp16_trains_with_its_scaler_and_the_checkpoint_loads_on_the_cpu(toy_task, tmp_path):
    result = train(toy_task, tmp_path, train={"max_steps": 6, "device": "cuda", "precision": "fp16"})
    assert math.isfinite(result.metrics["loss"])
    payload = load_checkpoint(tmp_path / "run/checkpoints/last.pt")
    assert payload["scaler"]["scale"] > 0, "the fp16 loss scale is checkpointed"
    loaded = load_for_inference(tmp_path / "run/checkpoints/last.pt", device="cpu")  # trained on a GPU, used on a laptop
    assert not next(loaded.model.parameters()).is_cuda
    on_cpu = loaded.task.predict(loaded.model, ["0.5,0.25,-1"], loaded.device)
    on_gpu = result.task.predict(result.model.eval(), ["0.5,0.25,-1"], torch.device("cuda"))
    assert on_cpu[0]["sum"] == pytest.approx(on_gpu[0]["sum"], rel=1e-3)


def test_the_trainer_is_reachable_from_the_package_root():
    from seqtk.training.train import run_training
    import seqtk

    assert seqtk.run_training is run_training and "run_training" in seqtk.__all__
