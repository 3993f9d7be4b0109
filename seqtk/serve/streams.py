"""Continuous batching of generate requests: each request is a row of a rolling batch of the model, which it
joins between two steps and leaves when its text is done (:class:`seqtk.nn.rolling.RollingBatch`).

A whole-batch :class:`~seqtk.serve.batcher.Batcher` makes a request that arrives while a batch samples wait
for all of it: behind a batch of 500-token samples, a few seconds. Here a new request starts at the next step,
however long the rows already open still have to go; every row samples from its own seeded generator, so the
text is the one ``seqtk generate --seed`` gives. Used for the tasks whose :meth:`~seqtk.tasks.task.Task.prompt_row`
gives a prompt's ids (textgen); rows with different ``temperature``, ``top_k`` or ``top_p`` go in separate
rolling batches, stepped in turn.

The worker thread owns the model while it samples: it takes requests from the queue between steps (waiting
for one only when no row is open), steps every open row once, appends each row's new text to its stream, and
wakes the event loop at most every :data:`WAKE_SECONDS`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from seqtk.serve.batcher import Job, enqueue
from seqtk.serve.metrics import Metrics

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.inference.predictor import Predictor
    from seqtk.nn.rolling import RollingBatch, Row

log = logging.getLogger("seqtk.serve")

#: how often the streams' clients are woken while rows sample: 25 ms reads smoothly and costs little at 64 rows
WAKE_SECONDS = 0.025
#: how long an idle worker waits for a request before it looks whether the server is closing
IDLE_POLL_SECONDS = 0.1


@dataclass(eq=False)
class _Open:
    """A request being sampled: its job, its row, its decode function and the text so far."""

    job: Job
    row: Row
    batch: RollingBatch
    decode: Callable[[list[int]], str]
    pieces: list[str] = field(default_factory=list)


class RollingStreams:
    """Generate requests to ``predictor``'s model as rows of rolling batches, at most ``max_batch`` rows open."""

    def __init__(self, name: str, predictor: Predictor, *, max_batch: int, queue_size: int, metrics: Metrics,
                 wake: Callable[[list[Job]], None]) -> None:  # fmt: skip
        self.name, self.predictor, self.max_batch, self.metrics, self.wake = name, predictor, max_batch, metrics, wake
        self.queue: queue.Queue[Job] = queue.Queue(maxsize=queue_size)
        self._closing = False
        self._batches: dict[Hashable, RollingBatch] = {}
        self._open: list[_Open] = []
        self._woken = 0.0
        self._thread = threading.Thread(target=self._work, name=f"seqtk-serve:{name}:generate", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Any:
        """Queue ``job`` (a :class:`~seqtk.serve.hosted.Sampling` payload); :class:`QueueFull` when full or closing."""
        return enqueue(self.queue, job, self._closing)

    def depth(self) -> int:
        """Requests waiting to join."""
        return self.queue.qsize()

    def rows(self) -> int:
        """Requests being sampled now (rows open)."""
        return len(self._open)

    def close(self, timeout: float | None = None) -> None:
        """Take no more requests; finish the rows open and the requests queued, then stop the thread (waiting up
        to ``timeout`` seconds for it)."""
        self._closing = True
        self._thread.join(timeout)

    def _work(self) -> None:
        while not (self._closing and self.queue.empty() and not self._open):
            try:
                self._take()
                if self._open:
                    self._step()
            except BaseException as error:
                log.error("the generate worker failed; its open requests get the error", exc_info=error)
                for item in self._open:
                    item.job.future.set_exception(error)
                self._open.clear()
                self._batches.clear()

    def _take(self) -> None:
        """Start the queued requests that fit; with no row open, wait for one (a moment, to notice close())."""
        while len(self._open) < self.max_batch:
            try:
                job = self.queue.get_nowait() if self._open else self.queue.get(timeout=IDLE_POLL_SECONDS)
            except queue.Empty:
                return
            if not job.gone and job.future.set_running_or_notify_cancel():
                self._start(job)

    def _start(self, job: Job) -> None:
        """Read the job's prompt into a row of the rolling batch of its sampling settings; a prompt the task or
        the model refuses fails this request alone."""
        from seqtk.nn.rolling import RollingBatch

        sampling = job.payload
        key = (sampling.temperature, sampling.top_k, sampling.top_p)
        try:
            ids, decode = self.predictor.task.prompt_row(sampling.prompt)
            batch = self._batches.get(key)
            if batch is None:
                batch = RollingBatch(self.predictor.model, sampling.temperature, sampling.top_k, sampling.top_p)
            device = self.predictor.device
            generator = torch.Generator(device=device).manual_seed(sampling.seed)
            row = batch.add(torch.as_tensor(ids).to(device), sampling.length, generator)
        except Exception as error:  # noqa: BLE001 - this request's failure is its own
            job.future.set_exception(error)
            return
        self._batches[key] = batch
        self._open.append(_Open(job, row, batch, decode))

    def _step(self) -> None:
        """Every rolling batch with rows takes a run of steps: each row's text to its stream; finished rows are
        answered. A run is one step while requests wait to join, else up to :func:`~seqtk.nn.lm.run_steps`."""
        from seqtk.nn.lm import run_steps

        waiting = not self.queue.empty() and len(self._open) < self.max_batch
        for key, batch in list(self._batches.items()):
            for item in [o for o in self._open if o.batch is batch and o.job.gone]:
                batch.drop(item.row)  # its client left: the others go on without it
                self._open.remove(item)
                item.job.future.set_exception(StreamsGone())
            if not len(batch):
                del self._batches[key]
                continue
            self.metrics.batch(self.name, "generate", len(batch))
            try:
                shown = dict(batch.run(1 if waiting else run_steps(len(batch))))
            except Exception as error:
                log.error("a rolling batch failed", exc_info=error)
                for item in [o for o in self._open if o.batch is batch]:
                    item.job.future.set_exception(error)
                    self._open.remove(item)
                del self._batches[key]
                continue
            for item in [o for o in self._open if o.batch is batch]:
                self._show(item, shown[item.row])
        self._wake()

    def _show(self, item: _Open, tokens: list[int]) -> None:
        text = "".join(item.decode([token]) for token in tokens)
        item.pieces.append(text)
        if item.job.stream is not None:
            item.job.stream.append(text)
        if item.row.left == 0:
            self._open.remove(item)
            item.job.future.set_result(item.job.payload.prompt + "".join(item.pieces))

    def _wake(self) -> None:
        streaming = [o.job for o in self._open if o.job.stream is not None and not o.job.gone]
        if streaming and (now := time.monotonic()) - self._woken >= WAKE_SECONDS:
            self._woken = now
            self.wake(streaming)


class StreamsGone(Exception):
    """The clients of a generation have gone: a row leaves its rolling batch (a whole batch stops) instead of
    sampling for no one; the answer no one reads."""
