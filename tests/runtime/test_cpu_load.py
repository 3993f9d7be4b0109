"""seqtk.runtime.cpu_load: how busy the cores are."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from seqtk.runtime import cpu_load


def spin(seconds: float) -> None:
    import time

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_usable_times_reads_the_cpus_of_proc_stat(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text("cpu  300 0 300 1600 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\n"
                    "cpu1 200 0 200 800 0 0 0 0 0 0\n", encoding="ascii")  # fmt: skip
    monkeypatch.setattr(cpu_load.os, "sched_getaffinity", lambda pid: {1})
    assert cpu_load.usable_times(str(stat)) == (1200, 800)  # cpu1 only: the CPU this process may run on
    assert cpu_load.usable_times(str(tmp_path / "missing")) is None


@pytest.mark.skipif(not os.path.exists(cpu_load.PROC_STAT), reason="needs Linux /proc/stat")
def test_a_spinning_process_shows_as_a_busy_core():
    import time

    proc = multiprocessing.get_context("spawn").Process(target=spin, args=(3.0,))
    proc.start()
    try:
        time.sleep(0.8)  # the child has started spinning
        first = cpu_load.usable_times()
        time.sleep(0.5)
        second = cpu_load.usable_times()
    finally:
        proc.join()
    assert first is not None and second is not None
    total, idle = second[0] - first[0], second[1] - first[1]
    assert (total - idle) / total * cpu_load.usable_cores() >= 0.7
