"""seqtk.runtime.cpu_load: how busy the cores are, and the note a contended run prints."""

from __future__ import annotations

import io
import multiprocessing
import os

import pytest
from rich.console import Console

from seqtk.runtime import cpu_load


def spin(seconds: float) -> None:
    import time

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_busy_cores_reads_proc_stat(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 100 800 0 0 0 0 0 0\n", encoding="ascii")
    assert cpu_load.busy_cores(0.0, str(stat)) == 0.0  # nothing moved between the two reads
    assert cpu_load.busy_cores(0.0, str(tmp_path / "missing")) is None


@pytest.mark.skipif(not os.path.exists(cpu_load.PROC_STAT), reason="needs Linux /proc/stat")
def test_a_spinning_process_shows_as_a_busy_core():
    proc = multiprocessing.get_context("spawn").Process(target=spin, args=(3.0,))
    proc.start()
    try:
        import time

        time.sleep(0.8)  # the child has started spinning
        busy = cpu_load.busy_cores(0.5)
    finally:
        proc.join()
    assert busy is not None and busy >= 0.7


def test_a_run_on_a_contended_machine_says_so_with_the_fix(monkeypatch):
    from seqtk.training import train

    monkeypatch.setattr(cpu_load, "busy_cores", lambda sample_s=0.3: 1.0)
    monkeypatch.setattr(cpu_load, "usable_cores", lambda: 2)
    monkeypatch.setattr(train.torch, "get_num_threads", lambda: 2)
    out = io.StringIO()
    train._warn_if_contended(Console(file=out, width=200))
    text = " ".join(out.getvalue().split())
    assert "other work keeps 1.0 of the 2 cores busy" in text and "train.num_threads=1" in text
