"""Crash safety: `seqtk run` killed with SIGKILL at random points resumes to bit-identical weights.

Each test trains the toy task (tests/fixtures/toy_task.py, through --plugin-dir)
in a child process, kills it at seeded random moments, resumes it with
--resume, and compares the final checkpoint tensor for tensor with an
uninterrupted run. A kill lands anywhere: inside a step, an evaluation, a
checkpoint write or the metrics file.
"""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from rich.console import Console

from seqtk.inference.checkpoint import load_checkpoint
from seqtk.tasks.loading import load_recipe
from seqtk.training.train import run_training

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MAX_STEPS, EVAL_EVERY = 200, 10

RECIPE = textwrap.dedent(
    f"""\
    # seqtk --plugin-dir tests/fixtures run crash.toml
    [task]
    name = "toy_sum"

    [model]
    cell = "{{cell}}"
    dropout = 0.1                     # draws from the global RNG: resume must restore it

    [train]
    max_steps = {MAX_STEPS}
    batch_size = 16
    eval_every = {EVAL_EVERY}                   # many checkpoint writes for kills to land in
    warmup_steps = 20
    schedule = "cosine"
    lr = 0.01
    device = "cpu"
    num_threads = 1

    [log]
    every = 1
    tensorboard = false
    progress = false
    """
)

# Runs the CLI with the disk write of the Nth checkpoint cut off by SIGKILL half-way through.
DIE_IN_SAVE = textwrap.dedent(
    """\
    import os, signal, sys
    import seqtk.inference.checkpoint as checkpoint
    from seqtk.cli.main import main

    kill_at, calls, real_write = int(os.environ["KILL_AT_SAVE"]), [0], checkpoint._write_all

    def dying_write(f, data, *args, **kwargs):
        calls[0] += 1
        if calls[0] == kill_at:
            f.write(data[: len(data) // 2])
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return real_write(f, data, *args, **kwargs)

    checkpoint._write_all = dying_write
    sys.exit(main(sys.argv[1:]))
    """
)


def write_recipe(tmp_path: Path, cell: str = "gru") -> Path:
    path = tmp_path / "crash.toml"
    path.write_text(RECIPE.format(cell=cell))
    return path


def child_env() -> dict[str, str]:
    return dict(os.environ, SEQTK_DISABLE_PLUGIN_AUTOLOAD="1", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")


def run_args(recipe: Path, run: Path) -> list[str]:
    args = ["--plugin-dir", str(FIXTURES), "run", str(recipe), "--out", str(run)]
    # A run killed before its first checkpoint starts again; any later one resumes.
    return args + (["--resume"] if (run / "checkpoints" / "last.pt").exists() else [])


def reference(toy_task, recipe: Path, tmp_path: Path) -> dict[str, torch.Tensor]:
    """The uninterrupted run, in this process (the toy task is registered by the fixture)."""
    run_training(load_recipe(str(recipe)), out=tmp_path / "whole", console=Console(file=io.StringIO()))
    return load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.pt")


def logged_step(metrics: Path) -> int:
    """The last step with a complete line in metrics.jsonl (flushed line by line)."""
    try:
        lines = metrics.read_bytes().split(b"\n")[:-1]
    except FileNotFoundError:
        return 0
    return int(lines[-1].split(b"}")[0].split(b'"step": ')[1].split(b",")[0]) if lines else 0


def kill_at_random(recipe: Path, run: Path, rng: random.Random, remaining: int = 1) -> bool:
    """Start (or resume) the run and SIGKILL it a little after a random step; False if it finished first.

    The kill lands within the next few evaluations, but no further than leaves
    room for the ``remaining`` kills after it, so every kill has a step to land on.
    """
    last = run / "checkpoints" / "last.pt"
    done = load_checkpoint(last)["step"] if last.exists() else 0
    span = max(1, min(3 * EVAL_EVERY, (MAX_STEPS - 20 - done) // remaining))
    target = rng.randint(done + 1, done + span)
    proc = subprocess.Popen([sys.executable, "-m", "seqtk", *run_args(recipe, run)], env=child_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while logged_step(run / "metrics.jsonl") < target and proc.poll() is None:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.01))  # land anywhere in the next few steps
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
    finally:
        _, err = proc.communicate(timeout=60)
    assert alive or proc.returncode == 0, err.decode()
    return alive


def finish(recipe: Path, run: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "seqtk", *run_args(recipe, run)], env=child_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def assert_identical(a: dict, b: dict) -> None:
    assert a["step"] == b["step"] == MAX_STEPS
    assert a["model"].keys() == b["model"].keys()
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    for x, y in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(x[k], y[k]) for k in x)


def crash_and_resume(toy_task, tmp_path: Path, kills: int, seed: int, cell: str = "gru") -> None:
    recipe = write_recipe(tmp_path, cell)
    expected = reference(toy_task, recipe, tmp_path)
    run, rng, landed = tmp_path / "crashed", random.Random(seed), 0
    for _ in range(3 * kills):  # a kill can miss (the run got past it); never loop forever
        if landed == kills:
            break
        landed += kill_at_random(recipe, run, rng, remaining=kills - landed)
        last = run / "checkpoints" / "last.pt"
        if last.exists():
            load_checkpoint(last)  # whatever the kill interrupted, the last checkpoint loads
    assert landed == kills, f"only {landed} of {kills} kills landed before the run finished"
    finish(recipe, run)
    assert_identical(load_checkpoint(run / "checkpoints" / "last.pt"), expected)
    steps = [line for line in (run / "metrics.jsonl").read_text().splitlines() if '"train_loss"' in line]
    assert len(steps) == MAX_STEPS  # each step logged once, however often it was re-run
    assert not list((run / "checkpoints").glob(".*.tmp"))


def test_three_random_kills_resume_bit_identical(toy_task, tmp_path):
    crash_and_resume(toy_task, tmp_path, kills=3, seed=8)


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "cell"), [(1, "gru"), (2, "lstm")])
def test_twelve_random_kills_resume_bit_identical(toy_task, tmp_path, seed, cell):
    crash_and_resume(toy_task, tmp_path, kills=12, seed=seed, cell=cell)


def test_kill_inside_a_checkpoint_write_keeps_the_previous_checkpoint(toy_task, tmp_path):
    recipe = write_recipe(tmp_path)
    expected = reference(toy_task, recipe, tmp_path)
    (tmp_path / "die_in_save.py").write_text(DIE_IN_SAVE)
    run = tmp_path / "crashed"
    # Saves: last.pt and best.pt at step 10 (loss falls), then last.pt at step 20: killed half-way.
    env = child_env() | {"KILL_AT_SAVE": "3"}
    died = subprocess.run([sys.executable, str(tmp_path / "die_in_save.py"), *run_args(recipe, run)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert died.returncode == -signal.SIGKILL, died.stderr
    checkpoints = run / "checkpoints"
    (partial,) = checkpoints.glob(".last.pt.*.tmp")
    assert 0 < partial.stat().st_size
    assert load_checkpoint(checkpoints / "last.pt")["step"] == EVAL_EVERY
    finish(recipe, run)
    assert_identical(load_checkpoint(checkpoints / "last.pt"), expected)
    assert not partial.exists()  # the next save cleaned it up
