"""Dynamic batching: requests to one model wait in a queue, and a worker thread runs them in batches.

The first request of a batch waits up to ``max_wait_ms`` for others; a batch holds at most ``max_batch`` inputs
(or generation streams), but a request with more inputs than that runs whole, as a batch of its own. Requests whose options differ (a ``top_k``, a temperature) run in separate batches,
one after another. The model runs on the worker thread, so the event loop keeps answering while it computes;
results go back through :class:`concurrent.futures.Future`, and streamed text through each job's ``stream``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

from seqtk.serve.metrics import Metrics

_STOP = object()  # put in the queue by close(): what was queued before it still runs


class QueueFull(Exception):
    """The model's queue holds ``queue_size`` requests already (the server answers 503 and Retry-After)."""


class Job:
    """One request waiting for its batch: ``size`` inputs (or one stream), grouped with jobs of the same ``key``.

    A streamed job's text goes into ``stream`` (appended by the worker, taken by the event loop: a deque is
    safe for that), and the worker calls ``wake`` when there is new text."""

    def __init__(self, key: Hashable, size: int, payload: Any, stream: bool = False) -> None:
        self.key, self.size, self.payload = key, size, payload
        self.stream: deque[str] | None = deque() if stream else None
        self.wake: Callable[[], None] = lambda: None
        self.future: Future[Any] = Future()
        #: set when the client has gone (a closed stream): the job is skipped, or its row stops streaming
        self.gone = False


class Batcher:
    """A queue and the thread that drains it in batches through ``run(jobs) -> one result per job``."""

    def __init__(self, name: str, endpoint: str, run: Callable[[list[Job]], list[Any]], *, max_batch: int,
                 max_wait_ms: float, queue_size: int, metrics: Metrics) -> None:  # fmt: skip
        self.name, self.endpoint, self.run = name, endpoint, run
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000
        self.metrics = metrics
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._carry: Any = None  # a job taken from the queue that did not fit the last batch
        self._closing = False
        self._thread = threading.Thread(target=self._work, name=f"seqtk-serve:{name}:{endpoint}", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Future[Any]:
        """Queue ``job``; raises :class:`QueueFull` when the queue is full (or the batcher is closing)."""
        return enqueue(self.queue, job, self._closing)

    def depth(self) -> int:
        """Requests waiting (the queue, and one taken out that waits for the next batch)."""
        return self.queue.qsize() + (self._carry is not None and self._carry is not _STOP)

    def close(self, timeout: float | None = None) -> None:
        """Run what is queued, then stop the thread (waiting up to ``timeout`` seconds for it)."""
        self._closing = True
        self.queue.put(_STOP)
        self._thread.join(timeout)

    def _work(self) -> None:
        while (jobs := self._collect()) is not None:
            for group in _groups(jobs):
                self._run(group)

    def _collect(self) -> list[Job] | None:
        """The next batch: the first job, then others until ``max_batch`` inputs or ``max_wait`` seconds."""
        first, self._carry = (self._carry, None) if self._carry is not None else (self.queue.get(), None)
        if first is _STOP:
            return None
        jobs, size = [first], first.size
        deadline = time.monotonic() + self.max_wait
        while size < self.max_batch:
            try:
                job = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is _STOP or size + job.size > self.max_batch:
                self._carry = job
                break
            jobs.append(job)
            size += job.size
        return jobs

    def _run(self, jobs: list[Job]) -> None:
        live = [job for job in jobs if not job.gone and job.future.set_running_or_notify_cancel()]
        if not live:
            return
        self.metrics.batch(self.name, self.endpoint, sum(job.size for job in live))
        try:
            results = self.run(live)
        except BaseException as error:
            for job in live:
                job.future.set_exception(error)
            return
        if len(results) != len(live):  # a bug in run(): no request may wait for an answer that never comes
            results = [RuntimeError(f"the batch gave {len(results)} answers for {len(live)} requests")] * len(live)
        for job, result in zip(live, results):  # a result that is an exception failed that job alone
            if isinstance(result, BaseException):
                job.future.set_exception(result)
            else:
                job.future.set_result(result)


def enqueue(jobs: queue.Queue[Any], job: Job, closing: bool) -> Future[Any]:
    """Put ``job`` in ``jobs`` without waiting, and return its future; :class:`QueueFull` when the queue is
    full or its worker is ``closing`` (the server answers 503)."""
    if closing:
        raise QueueFull
    try:
        jobs.put_nowait(job)
    except queue.Full:
        raise QueueFull from None
    return job.future


def _groups(jobs: list[Job]) -> list[list[Job]]:
    """The jobs by key, each group in arrival order, groups in the order of their first job."""
    groups: dict[Hashable, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.key, []).append(job)
    return list(groups.values())
