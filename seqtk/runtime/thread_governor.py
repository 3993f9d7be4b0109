"""Torch's thread count for a CPU run, decided from the cores other work leaves free and re-checked as it goes.

With two threads on a 2-core machine and a one-thread job beside it, every
parallel region waits for a core the other job holds: ``classify_bbc`` fell
from 338 to 32 examples/s (issue 31). One thread then runs at about the speed
it has alone. The governor samples the machine's busy time (``/proc/stat``)
between checks, subtracts this process's own CPU time, and sets torch to the
cores left free (at least one, at most the usable cores); when the other work
ends, the threads come back. A change is one printed line.

It runs when ``train.num_threads = 0`` (the default) on a CPU, outside
``torchrun``, deterministic runs included (issue 31: a deterministic run that
kept two threads beside a one-thread job was 2.9x slower than alone). The
thread count changes the order of some floating-point sums (a GEMM with a
few output rows, a sum over a long vector), so a run's last bits depend on
the counts it ran with: each change is printed and logged
(``system/threads``), every checkpoint holds the count and a resumed run
starts at it. A run that must repeat its numbers on a loaded machine pins
the count (``train.num_threads = N``).

>>> clock, jiffies = iter([0.0, 1.5, 1.5]), iter([(0, 0), (200, 0)])  # 1.5 s: both cores busy, 0.6 s of it ours
>>> seen = []
>>> governor = ThreadGovernor(cores=2, clock=lambda: next(clock), stat=lambda: next(jiffies),
...                           own=iter([0.0, 0.6]).__next__, set_threads=seen.append, threads=2)
>>> governor.step(); seen, governor.changes
([1], [(2, 1, 1.6)])
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from seqtk.runtime import cpu_load

FIRST_CHECK_S = 1.0  # the first look comes soon: a run started beside a busy job should not spin for long
CHECK_EVERY_S = 5.0
#: other work must hold this much more than a free core before a thread is given up (and less to get it back)
MARGIN = 0.35


class ThreadGovernor:
    """Call :meth:`step` between training steps; it checks every few seconds and may change the thread count.

    ``stat`` returns (all, idle) jiffies of the CPUs this process may run on (its affinity set: work on
    other CPUs does not compete) and ``own`` this process's CPU seconds (both replaceable for tests); ``on_change`` receives the one-line note.
    """

    def __init__(
        self,
        cores: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
        stat: Callable[[], tuple[int, int] | None] = lambda: cpu_load.usable_times(),
        own: Callable[[], float] = time.process_time,
        on_change: Callable[[str], None] | None = None,
        set_threads: Callable[[int], None] = torch.set_num_threads,
        threads: int | None = None,
        ceiling: int | None = None,
    ) -> None:
        self.cores = cores or cpu_load.usable_cores()
        self.clock, self.stat, self.own, self.on_change, self.set_threads = clock, stat, own, on_change, set_threads
        self.threads = threads or torch.get_num_threads()
        self.ceiling = ceiling or self.threads  # never more than torch chose at the run's start
        self.changes: list[tuple[int, int, float]] = []  # (from, to, other work's cores), for reports and tests
        self._mark = self._sample()
        self._due = self._mark[0] + FIRST_CHECK_S if self._mark else float("inf")

    def _sample(self) -> tuple[float, int, int, float] | None:
        jiffies = self.stat()
        return None if jiffies is None else (self.clock(), *jiffies, self.own())

    def step(self) -> None:
        """Re-check when a check is due (a clock read otherwise)."""
        if self.clock() < self._due:
            return
        now = self._sample()
        if now is None or self._mark is None:
            self._due = float("inf")
            return
        other = self.other_work(self._mark, now)
        self._mark, self._due = now, now[0] + CHECK_EVERY_S
        if other is not None:
            self._decide(other)

    def other_work(self, before: tuple[float, int, int, float], after: tuple[float, int, int, float]) -> float | None:
        """Cores kept busy by other processes between two samples."""
        wall = after[0] - before[0]
        total, idle = after[1] - before[1], after[2] - before[2]
        if wall <= 0 or total <= 0:
            return None
        busy = (total - idle) / total * self.cores  # the jiffies of the CPUs this process may run on
        return max(0.0, busy - (after[3] - before[3]) / wall)

    def _decide(self, other: float) -> None:
        free = self.cores - other
        want = self.threads
        if free < self.threads - MARGIN:
            want = max(1, int(free + MARGIN))
        elif free > self.threads + 1 - MARGIN:
            want = min(self.ceiling, int(free + MARGIN))
        if want != self.threads:
            self.changes.append((self.threads, want, other))
            note = (f"torch threads {self.threads} -> {want}: other work keeps {other:.1f} of the {self.cores} cores "
                    "busy (train.num_threads=N pins the count, and with it the run's exact sums)")
            self.threads = want
            self.set_threads(want)
            if self.on_change is not None:
                self.on_change(note)
