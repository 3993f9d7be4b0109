"""How busy the cores this process may run on are: the readings the thread governor decides from.

With the default two torch threads and another job on a 2-core machine, a
profile of the quick start showed ~90% of the time inside the OpenMP runtime:
threads wait for a core the other job holds at every parallel region. One
thread then trains faster than two (``python bench/threads.py`` measures
both). A run re-checks its thread count as it goes
(:mod:`seqtk.runtime.thread_governor`) from these readings.
"""

from __future__ import annotations

import os

PROC_STAT = "/proc/stat"


def usable_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


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
