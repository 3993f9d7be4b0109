"""seqtk.runtime.thread_governor: torch's thread count follows the cores other work leaves free."""

from __future__ import annotations

import io

import pytest
import torch
from rich.console import Console

from seqtk.runtime import thread_governor
from seqtk.runtime.thread_governor import ThreadGovernor


class Machine:
    """A fake 2-core machine: each tick of 1 s, ``other`` cores of other work and ``ours`` of this process."""

    def __init__(self) -> None:
        self.t, self.all, self.idle, self.cpu = 0.0, 0, 0, 0.0
        self.other, self.threads = 0.0, 2

    def tick(self, seconds: float = 1.0) -> None:
        ours = min(self.threads, 2 - min(self.other, 2)) if self.other else self.threads
        busy = min(2.0, self.other + ours)
        self.t += seconds
        self.all += int(200 * seconds)
        self.idle += int(round(100 * seconds * (2 - busy)))
        self.cpu += ours * seconds

    def governor(self, notes: list[str]) -> ThreadGovernor:
        def set_threads(n: int) -> None:
            self.threads = n

        return ThreadGovernor(cores=2, clock=lambda: self.t, stat=lambda: (self.all, self.idle), own=lambda: self.cpu,
                              on_change=notes.append, set_threads=set_threads, threads=2)  # fmt: skip


def run(machine: Machine, governor: ThreadGovernor, seconds: int) -> None:
    for _ in range(seconds):
        machine.tick()
        governor.step()


def test_a_job_on_one_core_takes_a_thread_and_gives_it_back_when_it_ends():
    machine, notes = Machine(), []
    governor = machine.governor(notes)
    run(machine, governor, 12)
    assert machine.threads == 2 and not notes  # alone: both threads stay
    machine.other = 1.0
    run(machine, governor, 6)
    assert machine.threads == 1
    assert len(notes) == 1 and notes[0].startswith("torch threads 2 -> 1: other work keeps ")
    assert notes[0].endswith("of the 2 cores busy (train.num_threads=N pins the count, and with it the run's exact "
                             "sums)")
    run(machine, governor, 12)
    assert machine.threads == 1 and len(notes) == 1  # no flapping while the other job runs
    machine.other = 0.0
    run(machine, governor, 6)
    assert machine.threads == 2 and notes[-1].startswith("torch threads 1 -> 2: other work keeps 0.0")


def test_light_background_work_keeps_both_threads():
    machine, notes = Machine(), []
    governor = machine.governor(notes)
    machine.other = 0.2  # a shell, an editor
    run(machine, governor, 30)
    assert machine.threads == 2 and not notes


def test_never_more_threads_than_torch_started_with():
    machine, notes = Machine(), []
    machine.threads = 1
    governor = ThreadGovernor(cores=2, clock=lambda: machine.t, stat=lambda: (machine.all, machine.idle),
                              own=lambda: machine.cpu, on_change=notes.append, set_threads=lambda n: None,
                              threads=1)  # fmt: skip
    run(machine, governor, 30)
    assert governor.threads == 1 and not notes


def test_a_run_resumed_on_fewer_threads_gets_them_back_up_to_its_starting_count():
    machine, notes = Machine(), []
    machine.threads = 1  # the checkpoint was written on one thread; torch started this run with two
    governor = ThreadGovernor(cores=2, clock=lambda: machine.t, stat=lambda: (machine.all, machine.idle),
                              own=lambda: machine.cpu, on_change=notes.append,
                              set_threads=lambda n: setattr(machine, "threads", n), threads=1, ceiling=2)  # fmt: skip
    run(machine, governor, 6)
    assert machine.threads == 2 and notes[0].startswith("torch threads 1 -> 2")


def test_without_proc_stat_it_does_nothing():
    governor = ThreadGovernor(cores=2, stat=lambda: None, set_threads=pytest.fail)
    for _ in range(3):
        governor.step()
    assert governor.changes == []


@pytest.mark.parametrize(("recipe_threads", "deterministic", "expected"), [(0, False, True), (1, False, False),
                                                                         (0, True, True), (2, True, False)])  # fmt: skip
def test_a_cpu_run_gets_a_governor_unless_it_pins_its_threads(recipe_threads, deterministic, expected, tmp_path,
                                                               monkeypatch):  # fmt: skip
    from seqtk.tasks.loading import load_recipe
    from seqtk.training.train import run_training

    made = []
    real_init = thread_governor.ThreadGovernor.__init__

    def recording_init(self, *args, **kwargs):
        made.append(self)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(thread_governor.ThreadGovernor, "__init__", recording_init)
    recipe = load_recipe("toy_tiny", [f"train.num_threads={recipe_threads}",
                                      f"train.deterministic={str(deterministic).lower()}", "train.max_steps=3"])  # fmt: skip
    threads = torch.get_num_threads()
    run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
    assert bool(made) is expected
    assert torch.get_num_threads() == threads  # the run puts the count back, whatever the governor set


def test_the_run_puts_back_a_count_the_governor_changed(tmp_path, monkeypatch):
    from seqtk.tasks.loading import load_recipe
    from seqtk.training.train import run_training

    changed = []

    def step(self):  # as if other work had taken a core at the first check
        if not changed and torch.get_num_threads() > 1:
            changed.append(torch.get_num_threads())
            self.set_threads(1)

    monkeypatch.setattr(thread_governor.ThreadGovernor, "step", step)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        recipe = load_recipe("toy_tiny", ["train.max_steps=3", "train.num_threads=0", "train.deterministic=false"])
        run_training(recipe, out=tmp_path / "run",
                     console=Console(file=io.StringIO()))  # fmt: skip
        assert changed == [2] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


def test_a_checkpoint_holds_the_thread_count_and_a_resumed_run_starts_at_it(tmp_path, monkeypatch):
    # the steps after a checkpoint sum in the order of the count it was written with, deterministic or not
    from seqtk.inference.checkpoint import load_checkpoint, save_checkpoint
    from seqtk.tasks.loading import load_recipe
    from seqtk.training.train import run_training

    monkeypatch.setattr(thread_governor.cpu_load, "usable_times", lambda: None)  # a busy machine cannot move the count
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        recipe = load_recipe("toy_tiny", ["train.max_steps=3", "train.num_threads=0"])
        run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
        last = tmp_path / "run" / "checkpoints" / "last.pt"
        payload = load_checkpoint(last)
        assert payload["threads"] == 2
        save_checkpoint(last, {**payload, "threads": 1})  # as if other work had held a core when it was written

        started_on = []
        real_init = thread_governor.ThreadGovernor.__init__

        def recording_init(self, *args, **kwargs):
            started_on.append((torch.get_num_threads(), kwargs.get("ceiling")))
            real_init(self, *args, **kwargs)

        monkeypatch.setattr(thread_governor.ThreadGovernor, "__init__", recording_init)
        more = load_recipe("toy_tiny", ["train.max_steps=5", "train.num_threads=0"])
        run_training(more, out=tmp_path / "run", resume=last, console=Console(file=io.StringIO()))
        assert started_on == [(1, 2)]  # on the checkpoint's count, free to climb back to the run's two
        assert load_checkpoint(last)["step"] == 5 and torch.get_num_threads() == 2  # and put back afterwards
    finally:
        torch.set_num_threads(threads)
