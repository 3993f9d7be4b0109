"""Distributed training: batch sharding, the torchrun environment, and 2 gloo processes vs 1."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest
import torch
from rich.console import Console

from seqtk.cli.main import main
from seqtk.data.batches import ResumableLoader, shard_batch
from seqtk.errors import SeqtkError
from seqtk.inference.checkpoint import load_checkpoint
from seqtk.tasks.loading import load_recipe
from seqtk.training import distributed
from seqtk.training.train import run_training

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

RECIPE = textwrap.dedent(
    """\
    # seqtk --plugin-dir tests/fixtures run ddp.toml --nproc 2
    [task]
    name = "toy_sum"

    [model]
    dropout = 0.0                     # the ranks' dropout streams differ from one process's

    [train]
    max_steps = 8
    batch_size = 16                   # the global batch: 8 per process on 2
    eval_every = 4
    lr = 0.01
    device = "cpu"
    num_threads = 1

    [log]
    every = 1
    tensorboard = false
    progress = false
    """
)


class Batch(NamedTuple):
    ids: torch.Tensor
    lengths: torch.Tensor


def test_shard_batch_cuts_every_batch_first_tensor():
    x, y = torch.arange(12).view(6, 2), torch.arange(6)
    assert [t.tolist() for t in shard_batch((x, y), 1, 3)] == [[[4, 5], [6, 7]], [2, 3]]
    cut = shard_batch({"x": x, "shared": torch.ones(3), "n": 6}, 0, 2)
    assert cut["x"].tolist() == [[0, 1], [2, 3], [4, 5]] and cut["shared"].shape == (3,) and cut["n"] == 6
    named = shard_batch(Batch(x, y), 1, 2)
    assert isinstance(named, Batch) and named.lengths.tolist() == [3, 4, 5]
    assert shard_batch("no tensors", 0, 2) == "no tensors"
    with pytest.raises(SeqtkError, match="holds 1 item.*fewer than the 2 processes.*train.batch_size"):
        shard_batch((torch.zeros(1, 3),), 1, 2)


def test_sharded_loader_keeps_the_plan_and_position():
    plain = ResumableLoader(lambda epoch: [[0, 1, 2, 3], [4, 5, 6, 7]], collate=torch.tensor)
    ranks = [ResumableLoader(plain.plan, collate=torch.tensor).shard(r, 2) for r in range(2)]
    whole, parts = iter(plain), [iter(loader) for loader in ranks]
    for _ in range(3):
        assert torch.equal(next(whole), torch.cat([next(p) for p in parts]))
    assert {loader.state_dict()["index"] for loader in ranks} == {plain.state_dict()["index"]}


def test_global_batch_must_divide_among_processes():
    distributed.check_batch_size(32, 4)
    with pytest.raises(SeqtkError, match="batch_size 30 is the global batch.*4 processes.*multiple of 4 .e.g. 28 or 32"):
        distributed.check_batch_size(30, 4)


def test_torchrun_environment(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    assert distributed.from_env() is None
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed.from_env() is None  # set by hand: an ordinary run
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "abc")
    assert distributed.from_env() == distributed.Dist(rank=0, world=1, local_rank=0)  # torchrun's one process
    alone = distributed.Dist(rank=0, world=1, local_rank=0)
    assert distributed.device_for(torch.device("cuda", 1), alone) == torch.device("cuda", 1)  # may name its GPU
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert distributed.from_env() == distributed.Dist(rank=2, world=4, local_rank=0)
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(SeqtkError, match="RANK='x' is not an integer"):
        distributed.from_env()
    ctx = distributed.Dist(rank=0, world=2, local_rank=0)
    assert distributed.device_for(torch.device("cpu"), ctx) == torch.device("cpu")
    with pytest.raises(SeqtkError, match="names one GPU.*LOCAL_RANK"):
        distributed.device_for(torch.device("cuda", 1), ctx)


def test_launch_command_runs_seqtk_under_torchrun():
    cmd = distributed.launch_command(2, ["run", "r.toml"])
    assert cmd[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m", "seqtk", "run", "r.toml"]


def test_nproc_checks_the_recipe_before_launching(capsys, tmp_path):
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE)
    code = main(["--plugin-dir", str(FIXTURES), "run", str(recipe), "train.batch_size=15", "--nproc", "2"])
    assert code == 1 and "batch_size 15 is the global batch" in capsys.readouterr().err
    assert main(["run", str(recipe), "--nproc", "0"]) == 2


def run_once(toy_task, recipe: Path, out: Path, *overrides: str) -> dict:
    run_training(load_recipe(str(recipe), list(overrides)), out=out, console=Console(file=io.StringIO()))
    return load_checkpoint(out / "checkpoints" / "last.pt")


def child_env() -> dict[str, str]:
    env = dict(os.environ, SEQTK_DISABLE_PLUGIN_AUTOLOAD="1", PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "TORCHELASTIC_RUN_ID"):
        env.pop(name, None)
    return env


def seqtk_args(recipe: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "seqtk", "--plugin-dir", str(FIXTURES), "run", str(recipe), *extra, "--out", str(out)]


def run_nproc(recipe: Path, out: Path, *extra: str) -> str:
    """`seqtk run --nproc 2`: torchrun starts the two processes."""
    result = subprocess.run([*seqtk_args(recipe, out, *extra), "--nproc", "2"], env=child_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def start_ranks(recipe: Path, out: Path, *extra: str, world: int = 2) -> list[subprocess.Popen]:
    """The environment torchrun sets, without torchrun's agent (seconds faster)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = child_env() | {"WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
                         "TORCHELASTIC_RUN_ID": "test"}
    return [
        subprocess.Popen(seqtk_args(recipe, out, *extra), env=env | {"RANK": str(r), "LOCAL_RANK": str(r)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for r in range(world)
    ]


def run_ranks(recipe: Path, out: Path, *extra: str, world: int = 2) -> str:
    procs = start_ranks(recipe, out, *extra, world=world)
    outputs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (out_text, err_text) in zip(procs, outputs):
        assert proc.returncode == 0, out_text + err_text
    assert all(text == "" for text, _ in outputs[1:])  # only rank 0 prints
    return outputs[0][0]


def train_losses(run: Path) -> list[float]:
    return [r["train_loss"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "train_loss" in r]


def assert_close(a: dict, b: dict) -> None:
    assert a["step"] == b["step"]
    for name in a["model"]:
        torch.testing.assert_close(a["model"][name], b["model"][name], rtol=1e-5, atol=1e-6, msg=name)


def test_two_gloo_processes_equal_one_and_resume_the_same(toy_task, tmp_path):
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE)
    one = run_once(toy_task, recipe, tmp_path / "one")
    # Two processes to step 4, then resumed to step 8 on two processes.
    first = run_nproc(recipe, tmp_path / "two", "train.max_steps=4")
    assert "step 4/4" in first and first.count("Training summary") == 1  # rank 0 alone reports
    assert first.count("Distributed: 2 processes (gloo on cpu), global batch 16 = 8 per process.") == 1
    assert "Resuming" in run_ranks(recipe, tmp_path / "two", "--resume")
    two = load_checkpoint(tmp_path / "two" / "checkpoints" / "last.pt")
    assert_close(two, one)
    assert len(two["rng_ranks"]) == 2 and "rng_ranks" not in one
    # Losses are the global batch's (each rank's weighted by its count), logged once per step.
    assert train_losses(tmp_path / "two") == pytest.approx(train_losses(tmp_path / "one"), rel=1e-5)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["checkpoints", "config.toml", "metrics.jsonl", "text.jsonl"]
    assert (tmp_path / "two" / "config.toml").read_text().startswith("# seqtk --plugin-dir")


def test_a_folder_another_run_holds_is_refused_on_every_rank(toy_task, tmp_path):
    # Rank 0 alone takes the run folder's lock; when it is refused, rank 1 must hear so and end too,
    # not wait at the next barrier for a rank that has left (gloo's default timeout is 30 minutes).
    import fcntl

    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE)
    busy = tmp_path / "busy"
    busy.mkdir()
    with open(busy / ".seqtk-run.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("seqtk process 4242\n")
        held.flush()
        procs = start_ranks(recipe, busy)
        try:
            outputs = [proc.communicate(timeout=120) for proc in procs]
        finally:  # a rank left waiting at a barrier must not outlive the test
            for proc in procs:
                proc.kill()
    assert [proc.returncode for proc in procs] == [1, 1], outputs
    assert "is being trained into right now by seqtk process 4242" in " ".join(outputs[0][1].split())
    assert sorted(p.name for p in busy.iterdir()) == [".seqtk-run.lock"]


def two_ranks_in_one_process(monkeypatch) -> tuple[distributed.Dist, distributed.Dist]:
    """Rank 0 and rank 1 of two, in this process: what rank 0 broadcasts, rank 1 receives (run rank 0 first)."""
    sent = []

    def fake_broadcast(value, ctx):
        if ctx.is_main:
            sent.append(value)
            return value
        return sent[-1]

    monkeypatch.setattr(distributed, "broadcast", fake_broadcast)
    return distributed.Dist(0, 2, 0), distributed.Dist(1, 2, 1)


@pytest.mark.parametrize("rank", [0, 1])
def test_on_main_hands_rank_0s_result_or_failure_to_every_rank(monkeypatch, rank):
    main_rank, other = two_ranks_in_one_process(monkeypatch)
    ctx = main_rank if rank == 0 else other
    if rank == 1:  # rank 1 sees what rank 0 sent: run rank 0 first
        distributed.on_main(lambda: 42, main_rank)
    assert distributed.on_main(lambda: 42, ctx) == 42

    def refuse():
        raise SeqtkError("the folder is taken", fix="choose another --out")

    def crash():
        raise PermissionError("denied")

    with pytest.raises(SeqtkError, match="the folder is taken"):
        distributed.on_main(refuse, main_rank)
    if rank == 1:
        with pytest.raises(SeqtkError, match="the folder is taken"):
            distributed.on_main(refuse, other)
    with pytest.raises(PermissionError):  # rank 0 keeps its own error and traceback ...
        distributed.on_main(crash, main_rank)
    if rank == 1:  # ... and the others stop too instead of waiting at the next barrier
        with pytest.raises(RuntimeError, match="rank 0 failed with PermissionError: denied"):
            distributed.on_main(crash, other)


def test_one_process_started_by_torchrun_trains_under_ddp_as_a_plain_run_does(toy_task, tmp_path):
    # `torchrun --nproc-per-node 1` is how one GPU checks the NCCL/DDP path; on the CPU it takes gloo
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE)
    one = run_once(toy_task, recipe, tmp_path / "one")
    printed = run_ranks(recipe, tmp_path / "ddp1", world=1)
    assert "Distributed: 1 process (gloo on cpu), global batch 16 = 16 per process." in printed
    assert_close(load_checkpoint(tmp_path / "ddp1" / "checkpoints" / "last.pt"), one)


def test_a_carried_stream_resumes_exactly_on_two_processes(tmp_path):
    # each rank carries its own recurrent state across stream batches; the checkpoint keeps every rank's, so a
    # run stopped at step 4 and resumed equals one that ran 8 steps straight (only rank 0's was kept before)
    from seqtk.config.recipes import locate

    recipe = locate("textgen_tiny")
    common = ('data.batching="stream"', 'train.schedule="constant"', "train.eval_every=4", "log.tensorboard=false",
              "log.progress=false")
    straight = tmp_path / "straight"
    _run_textgen_ranks(recipe, straight, *common, "train.max_steps=8")
    halves = tmp_path / "halves"
    _run_textgen_ranks(recipe, halves, *common, "train.max_steps=4")
    first = load_checkpoint(halves / "checkpoints" / "last.pt")
    states = first["task_state_ranks"]
    assert len(states) == 2 and not torch.equal(states[0]["stream_state"][0][0], states[1]["stream_state"][0][0])
    _run_textgen_ranks(recipe, halves, *common, "train.max_steps=8", "--resume")
    a, b = (load_checkpoint(run / "checkpoints" / "last.pt") for run in (straight, halves))
    assert a["step"] == b["step"] == 8
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name


def _run_textgen_ranks(recipe: Path, out: Path, *extra: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = child_env() | {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "TORCHELASTIC_RUN_ID": "t"}
    env.pop("SEQTK_DISABLE_PLUGIN_AUTOLOAD")  # textgen is an installed plugin
    args = [sys.executable, "-m", "seqtk", "run", str(recipe), *extra, "--out", str(out)]
    procs = [subprocess.Popen(args, env=env | {"RANK": str(r), "LOCAL_RANK": str(r)}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for r in range(2)]
    for proc in procs:
        out_text, err_text = proc.communicate(timeout=300)
        assert proc.returncode == 0, out_text + err_text


def test_a_time_budget_on_two_processes_picks_one_max_steps_for_both(toy_task, tmp_path):
    # every rank measures the same throwaway steps (rank 0 says when to stop), then all plan from rank 0's timings
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE.replace("max_steps = 8", "max_steps = 40"))
    printed = run_ranks(recipe, tmp_path / "two", 'train.time_budget="30s"')
    assert printed.count("Time budget 30s") == 1  # rank 0 alone reports the plan
    last = load_checkpoint(tmp_path / "two" / "checkpoints" / "last.pt")
    chosen = last["budget"]["max_steps"]
    assert last["step"] == chosen and 1 <= chosen <= 40
    assert f"max_steps = {chosen}" in (tmp_path / "two" / "config.toml").read_text()


def test_seqtk_run_nproc_2_with_a_time_budget_trains_on_both_processes(toy_task, tmp_path):
    # through the CLI (`seqtk run ... --nproc 2` launches torchrun), which refused a time budget with --nproc before
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE.replace("max_steps = 8", "max_steps = 40"))
    printed = run_nproc(recipe, tmp_path / "two", 'train.time_budget="30s"')
    assert printed.count("Distributed: 2 processes (gloo on cpu), global batch 16 = 8 per process.") == 1
    assert printed.count("Time budget 30s") == 1  # rank 0 alone reports the plan
    last = load_checkpoint(tmp_path / "two" / "checkpoints" / "last.pt")
    chosen = last["budget"]["max_steps"]
    assert last["step"] == chosen and 1 <= chosen <= 40 and len(last["rng_ranks"]) == 2
    assert f"max_steps = {chosen}" in (tmp_path / "two" / "config.toml").read_text()


def finish_ranks(procs: list[subprocess.Popen], timeout: float = 120) -> tuple[list[int | str], list[list[str]]]:
    """Every rank's exit code ("killed" for one still running after ``timeout`` seconds: left waiting at a
    barrier, so the test fails instead of hanging) and the ``error:`` paragraphs it printed."""
    import time

    deadline, codes, errors = time.monotonic() + timeout, [], []
    try:
        for proc in procs:
            try:
                _, err_text = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
                codes.append(proc.returncode)
            except subprocess.TimeoutExpired:
                err_text = ""
                codes.append("killed")
            errors.append([line for line in err_text.splitlines() if line.startswith("error:")])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return codes, errors


@pytest.mark.parametrize("lock", ["a folder", "another user's file"])
def test_a_run_folder_lock_rank_0_cannot_open_is_refused_on_every_rank(toy_task, tmp_path, lock):
    # rank 0's claim failed with an OSError: it printed an internal error (a folder) or the disk paragraph
    # (permission), and the other ranks "rank 0 failed with ...", an internal error, instead of its refusal
    if lock != "a folder" and os.geteuid() == 0:
        pytest.skip("root opens any file")
    recipe = tmp_path / "ddp.toml"
    recipe.write_text(RECIPE)
    run = tmp_path / "run"
    run.mkdir()
    if lock == "a folder":
        (run / ".seqtk-run.lock").mkdir()
    else:  # a shared folder, where a run of another user that crashed left its lock file
        run.chmod(0o777)
        (run / ".seqtk-run.lock").write_text("seqtk process 4242\n")
        (run / ".seqtk-run.lock").chmod(0o400)
    codes, errors = finish_ranks(start_ranks(recipe, run))
    assert codes == [1, 1], errors
    assert errors[0] == errors[1] and len(errors[0]) == 1, errors  # every rank: rank 0's one paragraph
    said = errors[0][0]
    assert f"the lock file '{run / '.seqtk-run.lock'}' by which a run holds its folder cannot be opened" in said
    assert f"remove '{run / '.seqtk-run.lock'}'" in said


INTENT_RECIPE = """\
[task]
name = "intent"

[data]
path = "{path}"

[train]
max_steps = 2
batch_size = 4
device = "cpu"
num_threads = 1

[log]
tensorboard = false
progress = false
"""


def test_a_data_file_rank_0_refuses_while_the_others_wait_stops_every_rank_with_its_paragraph(tmp_path):
    # rank 0 prepares the data first while the others wait (main_first); they waited at a barrier, and when
    # rank 0 left with its refusal they died on the broken connection ("internal error: ... closed by peer")
    # on gloo, or waited on until torchrun or NCCL's timeout killed them
    rows = tmp_path / "intents.tsv"
    rows.write_text("train\twhat time is it\ttime\nthis line has no tabs\n")
    recipe = tmp_path / "intent.toml"
    recipe.write_text(INTENT_RECIPE.format(path=rows))
    codes, errors = finish_ranks(start_ranks(recipe, tmp_path / "run"))
    assert codes == [1, 1], errors
    assert errors[0] == errors[1] and len(errors[0]) == 1, errors
    assert f"{rows}:2 is not 'split<TAB>text<TAB>label'" in errors[0][0]


@pytest.mark.parametrize("rank", [0, 1])
def test_on_main_hands_rank_0s_os_error_to_every_rank_as_the_same_error(monkeypatch, rank):
    # a full disk or a refused permission on rank 0 gives every rank the CLI's paragraph for it, not an internal error
    import errno

    main_rank, other = two_ranks_in_one_process(monkeypatch)

    def denied():
        raise PermissionError(errno.EACCES, "Permission denied", "/runs/x/.seqtk-run.lock")

    with pytest.raises(PermissionError):
        distributed.on_main(denied, main_rank)
    if rank == 1:
        with pytest.raises(PermissionError) as caught:
            distributed.on_main(denied, other)
        assert (caught.value.errno, caught.value.filename) == (errno.EACCES, "/runs/x/.seqtk-run.lock")
