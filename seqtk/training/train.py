"""Training: the loop that turns a recipe into a run folder.

:func:`run_training` owns everything but the task's own work: device and
precision, optimiser, learning-rate schedule, gradient clipping, evaluation,
checkpoints, logging and resuming. A run folder holds::

    config.toml          the resolved recipe (header: the command that reproduces it)
    metrics.jsonl        train_* lines every log.every steps, val_* lines at each evaluation
    text.jsonl           text a task logs at evaluations (samples), if any
    events.out.tfevents* TensorBoard (log.tensorboard)
    checkpoints/last.pt  the latest evaluation (or checkpoint_every, Ctrl-C); checkpoints/best.pt the best one

Resuming is exact: the checkpoint carries the optimiser, schedule, scaler,
RNG streams and loader position, and evaluation leaves the RNG streams as it
found them, so a resumed CPU run reaches bit-identical weights at the same
thread counts (the checkpoint holds the count, and the resumed run starts at it).

Under torchrun (any ``WORLD_SIZE``; see :func:`seqtk.training.distributed.from_env`) the same loop trains with
DistributedDataParallel: each rank takes its slice of every global batch and
rank 0 alone evaluates, logs and writes checkpoints (:mod:`seqtk.training.distributed`).

This module readies a run (device, run folder and its lock, task, time budget);
the loop itself, evaluations and the checkpoint format are
:class:`seqtk.training.session.Session`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from seqtk.config.checks import check_recipe
from seqtk.config.schema import Recipe
from seqtk.runtime.device import check_precision, runtime_settings, seed_everything, select_device
from seqtk.tasks import learned
from seqtk.tasks.contract import check_task_class
from seqtk.tasks.lifecycle import built_model, ready_task
from seqtk.tasks.registry import get_task
from seqtk.tasks.task import Task
from seqtk.training import budget, distributed
from seqtk.training.distributed import Dist
from seqtk.training.runs import claim, finished, open_run
from seqtk.training.session import Session, TrainResult

__all__ = ["Session", "TrainResult", "run_training"]


def run_training(
    recipe: Recipe, *, out: Path | None = None, resume: Path | bool | None = None, device: str | None = None,
    console: Console | None = None, command: str = "",
) -> TrainResult:
    """Train ``recipe`` into a run folder (``out``, or ``log.out_dir/<recipe>/<timestamp>``).

    ``resume``: True continues the latest run of this recipe (or ``out``); a
    path continues that run folder or checkpoint. ``device`` overrides
    ``train.device``.
    """
    console, started = console or Console(), time.perf_counter()
    if device is not None:
        recipe = recipe.replace(train=dataclasses.replace(recipe.train, device=device))
    task_cls = get_task(recipe.task.name)
    check_recipe(recipe, task_cls)  # again: a recipe built or changed in code (device=...) skipped resolve
    check_task_class(task_cls)
    ctx = distributed.from_env()  # None unless torchrun started this process
    if ctx is not None:
        distributed.check_batch_size(recipe.train.batch_size, ctx.world)
    dev = select_device(recipe.train.device)
    dev = dev if ctx is None else distributed.device_for(dev, ctx)
    check_precision(dev, recipe.train.precision)
    with contextlib.ExitStack() as stack:
        if ctx is not None and not ctx.is_main:  # only rank 0 talks: the others' stdout goes nowhere
            stack.enter_context(contextlib.redirect_stdout(stack.enter_context(open(os.devnull, "w"))))
            console = Console(quiet=True)
        stack.enter_context(distributed.process_group(ctx, dev))
        if ctx is not None:
            console.print(distributed.describe(ctx, dev, recipe.train.batch_size), highlight=False)
        payload, run_dir, source, recipe = distributed.on_main(lambda: open_run(recipe, out, resume, console), ctx)
        # A second run into this folder now is refused; under torchrun every rank hears rank 0's refusal
        # instead of waiting at the next barrier for a rank that has left.
        distributed.on_main(lambda: stack.enter_context(claim(run_dir)), ctx)
        if payload is not None and (stopped := finished(recipe, payload, run_dir, console)) is not None:
            return TrainResult(run_dir, int(payload["step"]), dict(payload.get("metrics") or {}), payload.get("best"),
                               stopped, None)
        return _train(recipe, task_cls, dev, ctx, payload, run_dir, source, console, command, started)


def _for_rank(payload: dict[str, Any] | None, ctx: Dist | None) -> dict[str, Any] | None:
    """The checkpoint as this rank resumes it: with its own task state (each rank carries its own stream)."""
    ranks = (payload or {}).get("task_state_ranks") or []
    if payload is None or ctx is None or len(ranks) != ctx.world:
        return payload
    return {**payload, "task_state": ranks[ctx.rank]}


def _train(
    recipe: Recipe, task_cls: type[Task], dev: torch.device, ctx: Dist | None, payload: dict[str, Any] | None,
    run_dir: Path, source: Path | None, console: Console, command: str, started: float,
) -> TrainResult:
    with runtime_settings(recipe.train.num_threads, recipe.train.deterministic, dev, recipe.train.flush_denormal):
        seed_everything(recipe.train.seed)
        with distributed.main_first(ctx):  # rank 0 fetches and caches the data before the others read it
            task = ready_task(task_cls, recipe, _for_rank(payload, ctx), fresh=payload is None,
                              console=None if ctx is None or ctx.is_main else console)
        if type(task).learned:
            learned.save(task)  # a learned value seqtk cannot save fails now, not at the first checkpoint
            origin = "restored from the checkpoint" if payload is not None else "learned from the training data"
            console.print(f"Task state ({origin}): {learned.describe(task)}", highlight=False)
        model = built_model(task, fresh=payload is None).to(dev)  # a resumed run's weights: session.restore
        if ctx is not None:
            distributed.seed_rank(recipe.train.seed, ctx)
        budgeted = budget.is_on(recipe)
        record = payload.get("budget") if payload is not None and budgeted else None
        if budgeted and payload is None:  # measure a throwaway session, then fix max_steps
            quiet = Console(quiet=True)
            recipe, record = budget.fit_recipe(recipe, lambda r: Session(r, task, model, dev, run_dir, quiet, ctx),
                                               model, task, dev, started, console, ctx)
        session = Session(recipe, task, model, dev, run_dir, console, ctx, record, started)
        if payload is not None and source is not None:
            session.restore(payload, source)
        return session.execute(command, resumed=payload is not None)
