"""train.time_budget, train.checkpoint_every, and Ctrl-C / SIGTERM saving (issue 18).

A budgeted run measures a throwaway session and then trains the run that ``train.max_steps = <chosen>``
would give, bit for bit; it resumes with the chosen max_steps after a kill. When its steps slow down
it re-plans max_steps at an evaluation, fits the cosine's rest to it, and resumes with the re-plan. A signal lets the step finish,
saves last.pt at that step, exits 130 (SIGINT) or 143 (SIGTERM) with the command that resumes, and the
resumed run ends bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import io
import json
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
from seqtk.training import budget
from seqtk.training.optim import lr_factor
from seqtk.training.train import run_training

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def cli(recipe: Path, run: Path, *overrides: str, resume: bool = False) -> subprocess.Popen:
    args = ["--plugin-dir", str(FIXTURES), "run", str(recipe), *overrides, "--out", str(run)]
    return subprocess.Popen([sys.executable, "-m", "seqtk", *args, *(["--resume"] if resume else [])],
                            env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_a_budgeted_run_is_the_run_of_its_recorded_max_steps(toy_task, tmp_path):
    recipe = write_recipe(tmp_path)
    budgeted = load_recipe(str(recipe), ["train.time_budget=8s", "train.max_steps=100000", "train.eval_every=400",
                                         "train.time_budget_replan=false"])
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


class Clock:
    """A run's clock that moves only as its training steps say: no sleeping, and no machine load to trip on."""

    def __init__(self) -> None:
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now


def slowed_after(monkeypatch, step: int, before: float, after: float) -> Clock:
    """Training steps (the measuring ones too) take ``before`` seconds up to ``step`` and ``after`` from then on,
    on the clock the budget, the session and the run read."""
    from seqtk.training import session, train
    from seqtk.training.session import Session

    clock, real = Clock(), Session.train_step
    for module in (budget, session, train):
        monkeypatch.setattr(module, "time", clock)

    def train_step(self, batches):
        clock.now += after if self.step > step else before
        return real(self, batches)

    monkeypatch.setattr(Session, "train_step", train_step)
    return clock


def test_a_run_whose_steps_slow_down_replans_to_end_in_its_budget(toy_task, tmp_path, monkeypatch):
    from seqtk.training import session

    saved, real_save = tmp_path / "each", session.save_checkpoint
    saved.mkdir()
    monkeypatch.setattr(session, "save_checkpoint", lambda path, payload: (
        real_save(path, payload), real_save(saved / f"{payload['step']}.pt", payload)))
    clock = slowed_after(monkeypatch, 300, 0.002, 0.008)
    overrides = ["train.time_budget=6s", "train.max_steps=100000", "train.eval_every=50", "log.every=1"]
    recipe, out = load_recipe(str(write_recipe(tmp_path)), overrides), io.StringIO()
    run_training(recipe, out=tmp_path / "run", console=Console(file=out, width=300))
    got = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    record = got["budget"]
    first, replans = record["max_steps"], record["replans"]
    assert [r["step"] for r in replans] == [350, 400, 450], record  # the slow steps' share of the speed grows
    assert replans[0]["before"] == first and all(r["max_steps"] < r["before"] for r in replans)
    assert got["step"] == replans[-1]["max_steps"] == got["recipe"]["train"]["max_steps"]
    said = " ".join(out.getvalue().split())
    assert f"so it now trains max_steps = {replans[0]['max_steps']} (was {first})" in said
    assert clock.now - 1000.0 <= 6.0 - 1.0, "the steps end in the budget, its reserve for the end kept"
    assert first * 0.008 > 6.0, "the first plan would have overrun it"
    # The schedule follows the re-plans without a jump and ends at its floor.
    cfg = dataclasses.replace(recipe.train, max_steps=first)
    points = budget.replan_points(record)
    lrs = {row["step"]: row["train_lr"] for row in map(json.loads, (tmp_path / "run" / "metrics.jsonl").open())
           if "train_lr" in row}
    for step, lr in lrs.items():
        assert lr == pytest.approx(0.01 * lr_factor(step, cfg, points), rel=1e-6), step
    assert max(abs(lrs[at + 1] - lrs[at]) for at, _, _ in points) < 0.01 * 0.01
    assert lrs[got["step"]] == pytest.approx(0.01 * cfg.min_lr_ratio)
    # Resumed from the last re-plan's checkpoint, with its budget or without it, the run ends as the whole one did.
    last = replans[-1]["step"]
    for name, again in (("budget", overrides), ("plain", ['train.time_budget=""', f"train.max_steps={got['step']}",
                                                           "train.eval_every=50", "log.every=1"])):
        resumed = run_training(load_recipe(str(write_recipe(tmp_path)), again), resume=saved / f"{last}.pt",
                               out=tmp_path / name, console=Console(file=io.StringIO()))
        ended = load_checkpoint(tmp_path / name / "checkpoints" / "last.pt")
        assert resumed.step == ended["step"] == got["step"], name
        assert all(ended["model"][k].equal(got["model"][k]) for k in got["model"]), name


def test_the_keeper_replans_only_when_the_run_would_miss_its_budget_by_more_than_the_slack():
    def keeper(cap: int = 10_000) -> budget.Keeper:  # 100 s left from 0; the steps so far took 0.1 s each
        kept = budget.Keeper(budget_seconds=100.0, deadline=100.0, cap=cap, eval_every=100, mark=(0.0, 0))
        kept.before_eval(100, now=10.0)
        return kept

    assert keeper().after_eval(100, 1000, now=10.0) is None  # 900 steps x 0.1 s = 90 s: on time
    assert keeper().after_eval(100, 1020, now=10.0) is None  # 2 s late: within the slack
    assert keeper().after_eval(100, 1200, now=10.0) == 1000  # 20 s late: fewer steps
    assert keeper().after_eval(100, 800, now=10.0) == 1000  # 20 s early: more steps
    assert keeper(cap=800).after_eval(100, 800, now=10.0) is None  # ... but not past train.max_steps
    assert keeper().after_eval(1000, 1000, now=10.0) is None  # the last step
    short = budget.Keeper(budget_seconds=100.0, deadline=100.0, cap=10_000, eval_every=100, mark=(0.0, 0))
    short.before_eval(100, now=0.5)  # half a second of steps: too little to judge the speed by
    assert short.after_eval(100, 2000, now=0.5) is None


@pytest.mark.parametrize("off", ['""', '"0"'])
def test_a_budget_of_zero_is_off_as_the_duration_check_says(toy_task, tmp_path, off):
    recipe = load_recipe(str(write_recipe(tmp_path)), [f"train.time_budget={off}", "train.max_steps=7", "train.eval_every=7"])
    out = io.StringIO()
    run_training(recipe, out=tmp_path / "run", console=Console(file=out, width=200))
    got = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert got["step"] == 7 and "Time budget" not in out.getvalue()


def test_a_killed_budgeted_run_resumes_with_the_max_steps_it_chose(toy_task, tmp_path):
    recipe, run = write_recipe(tmp_path), tmp_path / "run"
    budget = ("train.time_budget=8s", "train.max_steps=100000", "train.time_budget_replan=false")
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
