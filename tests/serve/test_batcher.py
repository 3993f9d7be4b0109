"""The dynamic batcher: what runs together, in what order, and what a failure or a full queue does."""

from __future__ import annotations

import threading
import time

import pytest

from seqtk.serve.batcher import Batcher, Job, QueueFull
from seqtk.serve.metrics import Metrics


def batcher(run, **sizes) -> Batcher:
    options = {"max_batch": 4, "max_wait_ms": 50, "queue_size": 100, "metrics": Metrics()} | sizes
    return Batcher("m", "predict", run, **options)


def test_jobs_that_arrive_together_run_together_and_keys_apart():
    batches, gate = [], threading.Event()

    def run(jobs):
        gate.wait(10)
        batches.append([job.payload for job in jobs])
        return [job.payload * 10 for job in jobs]

    b = batcher(run)
    first = b.submit(Job("b", 1, 0))  # even payloads are key "b", odd ones "a"
    jobs = [Job("a" if i % 2 else "b", 1, i) for i in range(1, 7)]
    futures = [b.submit(job) for job in jobs]
    gate.set()
    assert first.result(10) == 0 and [f.result(10) for f in futures] == [10 * i for i in range(1, 7)]
    b.close(10)
    assert batches[0][0] == 0 and len(batches) < 7  # jobs that waited together ran together
    for batch in batches:
        assert len({p % 2 for p in batch}) == 1 and len(batch) <= 4  # "a" and "b" jobs never share a batch
        assert batch == sorted(batch)  # in arrival order


def test_a_batch_never_passes_max_batch_inputs():
    sizes, gate = [], threading.Event()

    def run(jobs):
        gate.wait(10)
        sizes.append(sum(job.size for job in jobs))
        return [None] * len(jobs)

    b = batcher(run, max_batch=5)
    futures = [b.submit(Job("k", n, n)) for n in (1, 3, 2, 4, 1, 1)]
    gate.set()
    for future in futures:
        future.result(10)
    b.close(10)
    assert max(sizes) <= 5 and sum(sizes) == 12


def test_an_exception_result_fails_its_job_only_and_a_raise_fails_the_batch():
    def run(jobs):
        if any(job.payload == "boom" for job in jobs):
            raise RuntimeError("boom")
        return [ValueError("bad") if job.payload == "bad" else job.payload for job in jobs]

    b = batcher(run, max_wait_ms=0)
    good, bad = b.submit(Job("k", 1, "good")), b.submit(Job("k", 1, "bad"))
    assert good.result(10) == "good"
    with pytest.raises(ValueError, match="bad"):
        bad.result(10)
    with pytest.raises(RuntimeError, match="boom"):
        b.submit(Job("k", 1, "boom")).result(10)
    assert b.submit(Job("k", 1, "after")).result(10) == "after"  # the worker lives on
    b.close(10)


def test_a_full_queue_refuses_and_a_job_whose_client_left_is_skipped():
    gate, ran = threading.Event(), []

    def run(jobs):
        gate.wait(10)
        ran.extend(job.payload for job in jobs)
        return [None] * len(jobs)

    b = batcher(run, queue_size=2, max_batch=1, max_wait_ms=0)
    b.submit(Job("k", 1, "taken"))
    deadline = time.monotonic() + 30
    while b.depth():
        assert time.monotonic() < deadline
    gone = Job("k", 1, "gone")
    b.submit(gone)
    b.submit(Job("k", 1, "kept"))
    with pytest.raises(QueueFull):
        b.submit(Job("k", 1, "over"))
    gone.gone = True
    gate.set()
    b.close(10)  # runs what was queued first
    assert ran == ["taken", "kept"]


def test_a_closed_batcher_refuses_and_a_short_answer_fails_every_job():
    b = batcher(lambda jobs: [1], max_wait_ms=50)  # one answer, whatever the batch
    futures = [b.submit(Job("k", 1, n)) for n in range(3)]
    results = []
    for future in futures:
        try:
            results.append(future.result(10))
        except RuntimeError as error:
            results.append(str(error))
    assert any("answers for" in str(r) for r in results)  # no request waits for an answer that never comes
    b.close(10)
    with pytest.raises(QueueFull):
        b.submit(Job("k", 1, "late"))
