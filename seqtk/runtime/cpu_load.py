"""How busy the CPU is with other work, and the warning when torch's threads would fight it for cores.

With the default two torch threads and another job on a 2-core machine, a
profile of the quick start showed ~90% of the time inside the OpenMP runtime:
threads wait for a core the other job holds at every parallel region. One
thread then trains faster than two (``python bench/threads.py`` measures
both). A run re-checks its thread count as it goes
(:mod:`seqtk.runtime.thread_governor`); a deterministic one, which keeps its
count because the count changes the order of floating-point sums, gets this
module's note instead, with the fix (``train.num_threads``).
"""

from __future__ import annotations

import os
import time

PROC_STAT = "/proc/stat"


def usable_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def busy_cores(sample_s: float = 0.3, stat: str = PROC_STAT) -> float | None:
    """Cores kept busy by all processes over ``sample_s`` seconds (this one sleeps meanwhile); None off Linux.

    >>> value = busy_cores(0.05)
    >>> value is None or 0.0 <= value <= os.cpu_count()
    True
    """
    first = _times(stat)
    if first is None:
        return None
    time.sleep(sample_s)
    second = _times(stat)
    if second is None:
        return None
    total, idle = second[0] - first[0], second[1] - first[1]
    return 0.0 if total <= 0 else (total - idle) / total * (os.cpu_count() or 1)


def _times(stat: str) -> tuple[int, int] | None:
    """(all, idle + iowait) jiffies of the first line of /proc/stat."""
    try:
        with open(stat, encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    return sum(fields[:8]), fields[3] + fields[4]


def usable_times(stat: str = PROC_STAT) -> tuple[int, int] | None:
    """(all, idle + iowait) jiffies summed over the CPUs this process may run on (``cpuN`` lines of /proc/stat).

    >>> times = usable_times()
    >>> times is None or times[0] >= times[1] >= 0
    True
    """
    try:
        mine = {f"cpu{n}" for n in os.sched_getaffinity(0)}
    except AttributeError:  # pragma: no cover - not Linux
        return _times(stat)
    total = idle = 0
    try:
        with open(stat, encoding="ascii") as f:
            for line in f:
                name, *values = line.split()
                if name in mine and len(values) >= 5:
                    fields = [int(v) for v in values]
                    total, idle = total + sum(fields[:8]), idle + fields[3] + fields[4]
    except (OSError, ValueError):
        return None
    return (total, idle) if total else None


def contention_note(threads: int, busy: float | None, cores: int) -> str | None:
    """The warning for ``threads`` torch threads when ``busy`` of ``cores`` are taken by other work, else None.

    >>> contention_note(2, 1.0, 2)[:62]
    'other work keeps 1.0 of the 2 cores busy, and torch runs 2 thr'
    >>> contention_note(2, 0.1, 2) is None, contention_note(1, 1.0, 2) is None
    (True, True)
    """
    if busy is None or busy < 0.5:
        return None
    free = max(1, int(cores - busy + 0.5))
    if threads <= free:
        return None
    return (
        f"other work keeps {busy:.1f} of the {cores} cores busy, and torch runs {threads} threads: each parallel "
        f"step then waits for a core (beside a job spinning on one of 2 cores, one thread trained a char LSTM "
        f"1.6 times as fast as two: bench/threads.py). "
        f"Fix: train.num_threads={free} (or stop the other work); seqtk leaves the count alone, since it changes "
        "the run's exact numbers"
    )
