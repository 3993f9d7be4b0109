"""One served checkpoint: its predictor, the batchers in front of it, and how a batch of requests becomes one
predict or generate call (what a request may hold is checked first, in :mod:`seqtk.serve.inputs`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seqtk.errors import SeqtkError
from seqtk.serve.batcher import Batcher, Job
from seqtk.serve.metrics import Metrics
from seqtk.serve.settings import ServeSettings
from seqtk.serve.streams import RollingStreams, StreamsGone

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.inference.predictor import Predictor


#: how often a generation batch wakes its streams' clients: 25 ms is smooth to read, and cheap at 64 streams
WAKE_SECONDS = 0.025


@dataclass(frozen=True)
class Sampling:
    """A generate request's fields, with the task's defaults filled in."""

    prompt: str
    length: int
    temperature: float
    top_k: int
    top_p: float
    seed: int

    def key(self) -> Hashable:
        """Streams with equal keys can share a batch (each keeps its own prompt and seed)."""
        return (self.length, self.temperature, self.top_k, self.top_p)


class HostedModel:
    """A predictor behind a predict batcher and, for tasks that generate, a generate batcher."""

    def __init__(self, name: str, predictor: Predictor, settings: ServeSettings, metrics: Metrics) -> None:
        from seqtk.tasks.task import Task

        self.name, self.predictor, self.settings = name, predictor, settings
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's loop, set when it starts
        task = type(predictor.task)
        self.generates = task.generate is not Task.generate
        self.predicts = task.predict is not Task.predict
        sizes = {"max_batch": settings.max_batch, "max_wait_ms": settings.max_wait_ms,
                 "queue_size": settings.queue_size, "metrics": metrics}  # fmt: skip
        self.predict_batcher = Batcher(name, "predict", self._predict_batch, **sizes)
        self.generate_batcher: Batcher | RollingStreams | None = None
        if self.generates and rolls(predictor):  # rows join a running batch between steps
            self.generate_batcher = RollingStreams(name, predictor, max_batch=settings.max_batch,
                                                   queue_size=settings.queue_size, metrics=metrics, wake=self._wake)  # fmt: skip
        elif self.generates:
            self.generate_batcher = Batcher(name, "generate", self._generate_batch, **sizes)
        metrics.queues[name] = self.depth

    def depth(self) -> int:
        return self.predict_batcher.depth() + (self.generate_batcher.depth() if self.generate_batcher else 0)

    def close(self, timeout: float | None = None) -> None:
        """Finish what is queued, then stop the batchers' threads."""
        for batcher in (self.predict_batcher, self.generate_batcher):
            if batcher is not None:
                batcher.close(timeout)

    def info(self) -> dict[str, Any]:
        """What ``GET /v1/models`` says of this model (and what the web page builds its form from)."""
        task = self.predictor.task
        return {
            "name": self.name, "task": task.name, "kind": self.kind(), "generates": self.generates,
            "predicts": self.predicts, "reads": task.predict_reads, "predict_options": sorted(task.predict_options),
            "generate_length": task.generate_length if self.generates else None,
            "source": str(self.predictor.source), "step": self.predictor._loaded.payload.get("step"),
            "device": str(self.predictor.device),
        }  # fmt: skip

    def kind(self) -> str:
        """What the web page shows: a language model, a classifier, a seq2seq model, an image model, or other."""
        task = self.predictor.task
        if self.generates:
            return "language_model"
        if task.predict_reads == "file":
            return "image"
        if "top_k" in task.predict_options:
            return "classifier"
        if "beam" in task.predict_options:
            return "seq2seq"
        return "predict"

    # -- predict ------------------------------------------------------------------------------------------

    def predict_job(self, inputs: Any, options: dict[str, Any]) -> Job:
        """A checked predict request, ready to queue; refuses what the batch should never see."""
        from seqtk.serve.inputs import check_predict_options, read_inputs

        if not self.predicts:
            raise SeqtkError(f"model '{self.name}' (task '{self.predictor.task.name}') does not predict",
                             fix=f"use POST /v1/models/{self.name}/generate")  # fmt: skip
        items = read_inputs(inputs, self.predictor.task, self.settings)
        check_predict_options(options, self.predictor.task, self.settings)
        # the type is part of the key: 1 and True are equal in Python, and a task may read them differently
        key = ("predict", tuple(sorted((name, type(value).__name__, value) for name, value in options.items())))
        return Job(key, len(items), (items, options))

    def _predict_batch(self, jobs: list[Job]) -> list[Any]:
        """Every job's inputs in one predict() call, split back; a bad input fails its own request only."""
        options = jobs[0].payload[1]
        items = [item for job in jobs for item in job.payload[0]]
        try:
            predictions = self.predictor.predict(items, **options)
        except Exception as error:  # noqa: BLE001 - a failure reaches only the requests it belongs to
            if len(jobs) == 1:
                return [error]
            return [self._predict_alone(job) for job in jobs]  # which request was it? each on its own
        out, at = [], 0
        for job in jobs:
            out.append(predictions[at : at + job.size])
            at += job.size
        return out

    def _predict_alone(self, job: Job) -> Any:
        try:
            return self.predictor.predict(job.payload[0], **job.payload[1])
        except Exception as error:  # noqa: BLE001 - this request's failure is its own
            return error

    # -- generate -----------------------------------------------------------------------------------------

    def generate_job(self, sampling: Sampling, stream: bool) -> Job:
        """A checked generate request, ready to queue."""
        from seqtk.inference.predictor import check_sampling
        from seqtk.tasks.task import GenerateRequest

        if not self.generates:
            raise SeqtkError(f"model '{self.name}' (task '{self.predictor.task.name}') does not generate",
                             fix=f"use POST /v1/models/{self.name}/predict")  # fmt: skip
        if len(sampling.prompt) > self.settings.max_input_chars:
            raise SeqtkError(f"the prompt is {len(sampling.prompt):,} characters and this server takes at most "
                             f"{self.settings.max_input_chars:,}", fix="send a shorter prompt, or start the server with a larger --max-input-chars")  # fmt: skip
        if sampling.length > self.settings.max_length:
            raise SeqtkError(f"length {sampling.length:,} is more than this server generates ({self.settings.max_length:,})",
                             fix="ask for fewer tokens, or start the server with a larger --max-length")  # fmt: skip
        check_sampling(GenerateRequest(length=sampling.length, temperature=sampling.temperature,
                                       top_k=sampling.top_k, top_p=sampling.top_p))  # fmt: skip
        return Job(sampling.key(), 1, sampling, stream=stream)

    def _generate_batch(self, jobs: list[Job]) -> list[Any]:
        """The jobs' samples (the prompt included); streams share one batch where the task samples many prompts.
        A batch that fails (one request's prompt or seed the task refuses) runs again one request at a time, so
        only that request gets the error."""
        first: Sampling = jobs[0].payload
        options = {"length": first.length, "temperature": first.temperature, "top_k": first.top_k, "top_p": first.top_p}
        if len(jobs) == 1 or not self.predictor.task.batched_prompts:
            return [self._generate_one(job, options) for job in jobs]
        try:
            return self._generate_rows(jobs, options)
        except StreamsGone as gone:
            return [gone] * len(jobs)
        except Exception:  # noqa: BLE001 - which request was it? each on its own
            return [self._generate_one(job, options) for job in jobs]

    def _generate_rows(self, jobs: list[Job], options: dict[str, Any]) -> list[Any]:
        from seqtk.tasks.task import GenerateRequest

        streaming = [job for job in jobs if job.stream is not None]
        request = GenerateRequest(prompts=tuple(job.payload.prompt for job in jobs),
                                  seeds=tuple(job.payload.seed for job in jobs),
                                  on_text=self._stream_rows(jobs, streaming) if streaming else None, **options)  # fmt: skip
        samples = self.predictor.generate_request(request)
        return [job.payload.prompt + sample for job, sample in zip(jobs, samples)]

    def _generate_one(self, job: Job, options: dict[str, Any]) -> Any:
        from seqtk.tasks.task import GenerateRequest

        if job.gone:
            return StreamsGone()
        sampling: Sampling = job.payload
        request = GenerateRequest(prompt=sampling.prompt, seed=sampling.seed,
                                  on_text=self._stream_rows([job], [job]) if job.stream is not None else None,
                                  **options)  # fmt: skip
        try:
            return sampling.prompt + self.predictor.generate_request(request)[0]
        except Exception as error:  # noqa: BLE001 - this request's failure is its own
            return error

    def _stream_rows(self, jobs: list[Job], streaming: list[Job]) -> Any:
        """``on_text(i, text)`` for a batch: row i's text into its job's stream. The event loop is woken after the
        first step, then at most every ``WAKE_SECONDS``: a wake-up (and an event on every stream) per character
        would cost more than sampling it; the rest comes with the end of the request."""
        last, woken = len(jobs) - 1, 0.0

        def on_text(i: int, text: str) -> None:
            nonlocal woken
            job = jobs[i]
            if job.stream is not None and not job.gone:
                job.stream.append(text)
            if i == last and (now := time.monotonic()) - woken >= WAKE_SECONDS:
                if all(job.gone for job in jobs):
                    raise StreamsGone
                woken = now
                self._wake(streaming)

        return on_text

    def _wake(self, jobs: list[Job]) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(_wake_all, jobs)

    def submit(self, job: Job) -> Future[Any]:
        batcher = self.generate_batcher if isinstance(job.payload, Sampling) else self.predict_batcher
        assert batcher is not None
        return batcher.submit(job)


def rolls(predictor: Predictor) -> bool:
    """Whether ``predictor``'s generate requests can be rows of a rolling batch: its task gives a prompt's ids
    (:meth:`~seqtk.tasks.task.Task.prompt_row`) and its model steps rows (a :class:`~seqtk.nn.lm.CharLM`)."""
    from seqtk.tasks.task import Task

    task = type(predictor.task)
    return task.prompt_row is not Task.prompt_row and callable(getattr(predictor.model, "read_prompts", None))


def _wake_all(jobs: list[Job]) -> None:
    for job in jobs:
        job.wake()
