"""train.time_budget, train.checkpoint_every, and Ctrl-C / SIGTERM saving (issue 18).

A budgeted run measures a throwaway session and then trains the run that ``train.max_steps = <chosen>``
would give, bit for bit; it resumes with the chosen max_steps after a kill. A signal lets the step finish,
saves last.pt at that step, exits 130 (SIGINT) or 143 (SIGTERM) with the command that resumes, and the
resumed run ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from test_crash import FIXTURES, assert_identical, child_env, logged_step, reference, write_recipe

from seqtk.cli.main import main
from seqtk.errors import SeqtkError
from seqtk.inference.checkpoint import load_checkpoint
from seqtk.tasks.loading import load_recipe
from seqtk.training.train import run_training

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def cli(recipe: Path, run: Path, *overrides: str, resume: bool = False) -> subprocess.Popen:
    args = ["--plugin-dir", str(FIXTURES), "run", str(recipe), *overrides, "--out", str(run)]
    return subprocess.Popen([sys.executable, "-m", "seqtk", *args, *(["--resume"] if resume else [])],
                            env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_a_budgeted_run_is_the_run_of_its_recorded_max_steps(toy_task, tmp_path):
    recipe = write_recipe(tmp_path)
    budgeted = load_recipe(str(recipe), ["train.time_budget=8s", "train.max_steps=100000", "train.eval_every=400"])
    out = io.StringIO()
    run_training(budgeted, out=tmp_path / "budget", console=Console(file=out, width=200))
    got = load_checkpoint(tmp_path / "budget" / "checkpoints" / "last.pt")
    chosen = got["budget"]["max_steps"]
    assert 50 < chosen < 100000 and got["step"] == chosen and got["recipe"]["train"]["max_steps"] == chosen
    assert f"so the run trains max_steps = {chosen}" in " ".join(out.getvalue().split())
    assert f"-> max_steps = {chosen}" in (tmp_path / "budget" / "config.toml").read_text()
    plain = load_recipe(str(recipe), [f"train.max_steps={chosen}", "train.eval_every=400"])
    run_training(plain, out=tmp_path / "plain", console=Console(file=io.StringIO()))
    expected = load_checkpoint(tmp_path / "plain" / "checkpoints" / "last.pt")
    for name in expected["model"]:  # measuring left no trace: same weights, bit for bit
        assert got["model"][name].equal(expected["model"][name]), name


@pytest.mark.parametrize("off", ['""', '"0"'])
def test_a_budget_of_zero_is_off_as_the_duration_check_says(toy_task, tmp_path, off):
    recipe = load_recipe(str(write_recipe(tmp_path)), [f"train.time_budget={off}", "train.max_steps=7", "train.eval_every=7"])
    out = io.StringIO()
    run_training(recipe, out=tmp_path / "run", console=Console(file=out, width=200))
    got = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert got["step"] == 7 and "Time budget" not in out.getvalue()


def test_a_killed_budgeted_run_resumes_with_the_max_steps_it_chose(toy_task, tmp_path):
    recipe, run = write_recipe(tmp_path), tmp_path / "run"
    budget = ("train.time_budget=8s", "train.max_steps=100000")
    proc = cli(recipe, run, *budget)
    while logged_step(run / "metrics.jsonl") < 25 and proc.poll() is None:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    chosen = load_checkpoint(run / "checkpoints" / "last.pt")["budget"]["max_steps"]
    resumed = cli(recipe, run, *budget, resume=True)
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert "changed: train.max_steps" not in err
    final = load_checkpoint(run / "checkpoints" / "last.pt")
    plain = load_recipe(str(recipe), [f"train.max_steps={chosen}"])
    run_training(plain, out=tmp_path / "plain", console=Console(file=io.StringIO()))
    expected = load_checkpoint(tmp_path / "plain" / "checkpoints" / "last.pt")
    assert final["step"] == expected["step"] == chosen
    assert all(final["model"][k].equal(expected["model"][k]) for k in expected["model"])


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_the_step_and_names_the_command_that_resumes(toy_task, tmp_path, sig, code):
    recipe, run = write_recipe(tmp_path), tmp_path / "run"
    expected = reference(toy_task, recipe, tmp_path)
    proc = cli(recipe, run)
    while logged_step(run / "metrics.jsonl") < 15 and proc.poll() is None:  # between the evaluations at 10 and 20
        time.sleep(0.002)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    saved = load_checkpoint(run / "checkpoints" / "last.pt")["step"]
    assert saved >= 15 and saved % 10, saved  # the step it was in, not the last evaluation's
    flat = " ".join(err.split())
    assert f"Stopped by {signal.Signals(sig).name} at step {saved}" in flat
    assert f"Continue with: seqtk --plugin-dir {FIXTURES} run {recipe} --out {run} --resume {run}" in flat
    resumed = cli(recipe, run, resume=True)
    _, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert_identical(load_checkpoint(run / "checkpoints" / "last.pt"), expected)


def test_checkpoint_every_writes_last_pt_between_evaluations(toy_task, tmp_path, monkeypatch):
    from seqtk.training import session

    saves, real = [], session.save_checkpoint
    monkeypatch.setattr(session, "save_checkpoint", lambda path, payload: (saves.append(payload["step"]), real(path, payload)))
    recipe = load_recipe(str(write_recipe(tmp_path)), ["train.eval_every=1000", "train.checkpoint_every=0.02s"])
    run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
    between = [step for step in saves if step < 200]
    assert len(between) >= 2 and between == sorted(between)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["step"] == 200


@pytest.mark.parametrize(("override", "message"), [
    ("train.time_budget=8minutes", "train.time_budget = '8minutes' is not a duration"),
    ("train.checkpoint_every=-5m", "train.checkpoint_every = '-5m' is not a duration"),
])
def test_a_bad_duration_is_refused_at_validate(override, message, capsys):
    recipes = Path(__file__).resolve().parents[2] / "recipes"
    assert main(["recipes", "validate", str(recipes / "textgen_tiny.toml"), override]) == 1
    assert message in capsys.readouterr().err


def test_a_budget_too_small_or_changed_on_resume_is_named_with_the_fix(toy_task, tmp_path):
    recipe = write_recipe(tmp_path)
    with pytest.raises(SeqtkError, match="leaves no time to train.*Fix: raise train.time_budget to at least"):
        run_training(load_recipe(str(recipe), ["train.time_budget=0.6s"]), out=tmp_path / "tiny",
                     console=Console(file=io.StringIO()))
    run_training(load_recipe(str(recipe), ["train.max_steps=20"]), out=tmp_path / "run",
                 console=Console(file=io.StringIO()))
    with pytest.raises(SeqtkError, match="the run being resumed was not started with a time budget"):
        run_training(load_recipe(str(recipe), ["train.time_budget=1m"]), resume=tmp_path / "run",
                     console=Console(file=io.StringIO()))
