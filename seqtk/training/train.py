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
found them, so a resumed CPU run reaches bit-identical weights.

Under torchrun (any ``WORLD_SIZE``; see :func:`seqtk.training.distributed.from_env`) the same loop trains with
DistributedDataParallel: each rank takes its slice of every global batch and
rank 0 alone evaluates, logs and writes checkpoints (:mod:`seqtk.training.distributed`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import nn

from seqtk import __version__, checks, learned
from seqtk.training import best, budget, distributed
from seqtk.training.interrupts import SaveTriggers, TrainingStopped
from seqtk.training.checkpoint import FORMAT, VERSION, load_weights, save_checkpoint
from seqtk.config import Recipe, TrainConfig, check_recipe
from seqtk.contract import check_step_output, check_task_class
from seqtk.data import move_to
from seqtk.training.distributed import Dist
from seqtk.training.ema import WeightAverage
from seqtk.device import (
    autocast, check_precision, make_scaler, rng_preserved, rng_state, runtime_settings, seed_everything, select_device,
    set_rng_state,
)
from seqtk.errors import SeqtkError
from seqtk.evaluation import EvalResult, call_with_result, evaluate
from seqtk.training.gradients import GradientLog
from seqtk.lifecycle import ready_task
from seqtk.training.optim import apply_recipe, load_optimizer_state, make_optimizer, make_scheduler
from seqtk.loggers import (
    JsonlLogger, MultiLogger, ScalarWindow, TensorBoardLogger, TrainProgress, format_seconds, summary_table,
)
from seqtk.recipe_io import to_toml
from seqtk.registry import get_task
from seqtk.training.runs import claim, finished, open_run, write_config
from seqtk.task import StepOutput, Task


@dataclass
class TrainResult:
    """What a training session produced (``model``/``task``: the in-memory final state)."""

    run_dir: Path
    step: int
    metrics: dict[str, float]
    best: dict[str, Any] | None
    stopped_early: bool
    report: str | None
    model: nn.Module | None = field(default=None, repr=False)
    task: Task | None = field(default=None, repr=False)




class _Session:
    """The objects of one training session and the loop over them."""

    def __init__(
        self, recipe: Recipe, task: Task, model: nn.Module, device: torch.device, run_dir: Path, console: Console,
        ctx: Dist | None = None, budget_record: dict[str, Any] | None = None,
    ) -> None:
        self.recipe, self.cfg, self.task, self.model = recipe, recipe.train, task, model
        self.budget_record = budget_record  # what train.time_budget measured and chose, kept in every checkpoint
        self.device, self.run_dir, self.console = device, run_dir, console
        self.ctx, self.is_main = ctx, ctx is None or ctx.is_main
        self.optimizer = make_optimizer(model, self.cfg)
        self.scheduler = make_scheduler(self.optimizer, self.cfg)
        self.scaler = make_scaler(device, self.cfg.precision)
        self.loader = task.train_loader()
        # The model the training step runs: DDP's wrapper when distributed (it
        # averages gradients in backward); evaluation and checkpoints use the model.
        self.train_model = model
        if ctx is not None:
            self.loader.shard(ctx.rank, ctx.world)
            self.train_model = distributed.wrap(model, device)
        self.metric, self.mode = best.choose_metric(self.cfg, type(task))
        self.step, self.metrics, self.best = 0, {}, None
        self.stopped_early = False
        self.last_eval: EvalResult | None = None  # the latest validation pass, for log_eval and final_report
        self.logger = MultiLogger([])
        self.tb: TensorBoardLogger | None = None
        self.progress: TrainProgress | None = None
        self.grads = GradientLog(model, recipe.log.grad_every) if recipe.log.grad_through_time else None
        self.ema = WeightAverage(model, self.cfg.ema_decay) if self.cfg.ema_decay > 0 else None

    def restore(self, payload: dict[str, Any], source: Path) -> None:
        """Continue from a checkpoint; the RNG streams are restored last."""
        entry = payload.get("ema")  # the checkpoint's model is a weight average; the trained weights are here
        load_weights(self.model, entry["raw"] if entry else payload["model"], source, payload["task"])
        if self.ema is not None and entry:
            self.ema.restore(payload["model"], entry)
        elif self.ema is not None:
            self.ema = WeightAverage(self.model, self.cfg.ema_decay)
            self.console.print("  train.ema_decay is new to this run: the weight average starts from these weights.",
                               highlight=False)
        elif entry:
            self.console.print("  train.ema_decay is now 0: training goes on from the trained (not the averaged) "
                               "weights.", highlight=False)
        was = (payload.get("recipe") or {}).get("train", {}).get("optimizer", self.cfg.optimizer)
        if was == self.cfg.optimizer:
            load_optimizer_state(self.optimizer, payload["optimizer"], source)
        else:
            self.console.print(f"  train.optimizer changed from {was!r}: the {self.cfg.optimizer} state starts fresh.",
                               highlight=False)
        self.scheduler.load_state_dict(payload["scheduler"])
        if payload.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(payload["scaler"])
        self.loader.load_state_dict(payload["data"])
        self.step = int(payload["step"])
        apply_recipe(self.optimizer, self.scheduler, self.cfg, self.step)  # a changed train.lr etc. takes effect
        self.metrics = dict(payload.get("metrics") or {})
        saved = payload.get("best")
        self.best = dict(saved) if saved and saved.get("metric") == self.metric else None
        rng = self._rng_of(payload)
        if rng is not None:
            set_rng_state(rng)

    def _rng_of(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """This rank's RNG state in the checkpoint; None (keep the fresh seed) if it has none."""
        if self.ctx is None or self.ctx.is_main:
            return payload["rng"]
        ranks = payload.get("rng_ranks") or []
        return ranks[self.ctx.rank] if len(ranks) == self.ctx.world else None

    def execute(self, command: str, resumed: bool) -> TrainResult:
        started, first = time.perf_counter(), self.step
        if self.is_main:
            note = budget.Plan(**self.budget_record).comment() if self.budget_record else ""
            write_config(self.run_dir, self.recipe, command, note)
            self._open_loggers(resumed)
            self._announce()
        try:
            if self.tb is not None:
                self.tb.log_text("config", to_toml(self.recipe.to_dict()), self.step)
                self.tb.log_hparams(self.recipe.to_dict(), dict.fromkeys(("val/loss", f"val/{self.metric}"), 0.0))
            self._loop()
            if self.ema is not None:  # the model a library caller gets back is the one best.pt and last.pt hold
                self.model.load_state_dict(self.ema.state)
        finally:
            self.logger.close()
            if self.grads is not None:
                self.grads.close()
        if not self.is_main:
            return TrainResult(self.run_dir, self.step, self.metrics, self.best, self.stopped_early, None, self.model, self.task)
        self.console.print(summary_table(self._summary(time.perf_counter() - started, first)))
        report = self._final_report()
        return TrainResult(self.run_dir, self.step, self.metrics, self.best, self.stopped_early, report, self.model, self.task)

    def _announce(self) -> None:
        every = f" and every {self.cfg.checkpoint_every}" if checks.duration("", self.cfg.checkpoint_every) else ""
        board = f"; TensorBoard: tensorboard --logdir {self.run_dir}" if self.recipe.log.tensorboard else ""
        self.console.print(f"Run folder: {self.run_dir} (checkpoints/last.pt at each evaluation{every}, "
                           f"checkpoints/best.pt{board})", highlight=False, soft_wrap=True)

    def _open_loggers(self, resumed: bool) -> None:
        jsonl = JsonlLogger(self.run_dir / "metrics.jsonl", append=resumed, keep_until=self.step if resumed else None)
        if self.recipe.log.tensorboard:
            self.tb = TensorBoardLogger(self.run_dir, purge_step=self.step + 1 if resumed else None)
        self.logger = MultiLogger([jsonl] + ([self.tb] if self.tb else []))

    def _loop(self) -> None:
        cfg, every = self.cfg, self.recipe.log.every
        batches, window = iter(self.loader), ScalarWindow()
        progress = TrainProgress(
            self.console, max_steps=cfg.max_steps, start_step=self.step, unit=self.task.unit,
            metric_name=self.metric, enabled=self.recipe.log.progress and self.is_main, every=every,
        )
        triggers = SaveTriggers(checks.duration("train.checkpoint_every", cfg.checkpoint_every), self.console)
        with progress, triggers.catching():
            self.progress = progress
            if self.metric in self.metrics:
                progress.set_metric(self.metrics[self.metric])
            self.model.train()
            while self.step < cfg.max_steps and not self.stopped_early:
                self.step += 1
                loss, out, norm, lr = self.train_step(batches)
                window.add(loss, out, norm)
                evaluating = self.step % cfg.eval_every == 0 or self.step == cfg.max_steps
                progress.update(self.step, loss=loss, count=out.count, lr=lr, show=not evaluating)
                if self.step % every == 0 or self.step == cfg.max_steps:
                    self.logger.log_scalars(self.step, window.scalars(lr))
                    window = ScalarWindow()
                if evaluating:
                    self._eval_and_save()  # the progress line then shows this evaluation's value
                    triggers.saved()
                save, stop = triggers.after_step(self.ctx, self.device)
                if save and not evaluating:
                    self._save(improved=False)
                    triggers.saved()
                if stop and self.step < cfg.max_steps and not self.stopped_early:  # else it ends normally
                    raise TrainingStopped(triggers.signal_name or "SIGINT", self.step, self.run_dir)

    def train_step(self, batches: Iterator[Any]) -> tuple[float, StepOutput, float, float]:
        if self.loader.at_epoch_start:
            self.task.reset_state()
        batch = move_to(next(batches), self.device)
        if self.grads is not None:
            self.grads.before_step(self.step)
        with autocast(self.device, self.cfg.precision):
            out = check_step_output(self.task, self.task.step(self.train_model, batch, train=True), train=True)
        objective = out.loss
        if self.ctx is None:
            loss = float(out.loss.detach())
        else:  # the global batch's loss and metrics; objective weighted by this rank's share
            loss, count, metrics, objective = distributed.reduce_step(out.loss, out.count, out.metrics, self.ctx)
            out = StepOutput(out.loss, count, metrics)
        if not math.isfinite(loss):
            raise self._nonfinite("loss", loss)
        lr = float(self.optimizer.param_groups[0]["lr"])
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(objective).backward()
        if self.grads is not None:  # gradients through time, measured before clipping
            self.grads.after_backward(self.step, self.logger, self.scaler.get_scale() if self.scaler.is_enabled() else 1.0)
        self.scaler.unscale_(self.optimizer)
        max_norm = self.cfg.grad_clip if self.cfg.grad_clip > 0 else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm))
        if not math.isfinite(norm) and not self.scaler.is_enabled():  # fp16 skips such steps itself
            raise self._nonfinite("gradient norm", norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)
        return loss, out, norm, lr

    def _nonfinite(self, what: str, value: float) -> SeqtkError:
        last = self.run_dir / "checkpoints" / "last.pt"
        kept = f"the last good checkpoint, '{last}', is kept" if last.exists() else "no checkpoint had been written yet"
        return SeqtkError(
            f"the training {what} became {value} at step {self.step}; {kept}",
            fix=f"set train.grad_clip (now {self.cfg.grad_clip}) or a lower train.lr (now {self.cfg.lr}), "
            "then resume or train again",
        )

    def evaluate(self) -> dict[str, float]:
        """Validation metrics in eval mode, under autocast, RNG streams untouched; the result goes to log_eval."""
        self.model.eval()
        try:
            with rng_preserved(self.device), self._averaged():
                with autocast(self.device, self.cfg.precision):
                    self.last_eval = self._evaluate_val()
                call_with_result(self.task.log_eval, self.model, self.logger, self.step, result=self.last_eval)
        finally:
            self.model.train()
        return {k: float(v) for k, v in self.last_eval.metrics.items()}

    def _averaged(self) -> contextlib.AbstractContextManager[None]:
        """The block sees the weight average (train.ema_decay) in the model, or the trained weights without one."""
        return self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext()

    def _evaluate_val(self) -> EvalResult:
        # the core loop, or a task's own evaluate() override (the older plugin API)
        args = (self.model, "val", self.device, self.cfg.eval_batches)
        if type(self.task).evaluate is Task.evaluate:
            return evaluate(self.task, *args)
        return EvalResult("val", dict(self.task.evaluate(*args)))

    def _eval_and_save(self) -> None:
        if self.ctx is None:
            self.metrics = self.evaluate()
        else:  # rank 0 evaluates; every rank gets its metrics, so all stop early together
            self.metrics = distributed.broadcast(self.evaluate() if self.is_main else None, self.ctx)
        self.logger.log_scalars(self.step, {f"val/{k}": v for k, v in self.metrics.items()})
        missing = self.metric not in self.metrics
        improved = not missing and self._update_best()
        if self.progress is not None and not missing:
            self.progress.after_eval(self.step, self.metrics[self.metric])
        self._save(improved)  # last.pt is kept even if we stop below
        if missing:
            raise SeqtkError(
                f"the metric '{self.metric}' that picks best.pt is not among the validation metrics "
                f"({', '.join(sorted(self.metrics))}); the run stopped at step {self.step} with last.pt saved",
                fix="set train.metric to one of them and resume; if you wrote the task, report it from step()'s "
                f"metrics (or finish_metrics), or change {type(self.task).__qualname__}.main_metric",
            )
        if best.patience_spent(self.best, self.cfg.patience):
            self.stopped_early = True
            self.console.print(
                f"Stopping early at step {self.step}: val {self.metric} has not improved for "
                f"{self.cfg.patience} evaluations (best {self.best['value']:.4g} at step {self.best['step']}).",
                highlight=False,
            )

    def _save(self, improved: bool) -> None:
        payload = self.payload()  # every rank: it gathers their RNG states
        if self.is_main:
            save_checkpoint(self.run_dir / "checkpoints" / "last.pt", payload)
            if improved:
                save_checkpoint(self.run_dir / "checkpoints" / "best.pt", payload)

    def _update_best(self) -> bool:
        self.best, improved = best.update(self.best, self.metric, self.mode, self.metrics[self.metric], self.step)
        return improved

    def payload(self) -> dict[str, Any]:
        """The checkpoint for the current step (see :mod:`seqtk.training.checkpoint`).

        Distributed, every rank must call it: it gathers the ranks' RNG states.
        """
        payload = {
            "format": FORMAT, "version": VERSION, "seqtk_version": __version__,
            "task": self.recipe.task.name, "recipe_name": self.recipe.name, "recipe": self.recipe.to_dict(),
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
            "rng": rng_state(self.device), "step": self.step, "data": self.loader.state_dict(),
            "task_state": self.task.state_dict(), "learned": learned.save(self.task), "metrics": dict(self.metrics),
            "best": dict(self.best) if self.best else None, "budget": self.budget_record,
        }
        if self.ema is not None:  # eval, predict and export read "model": the average
            payload["model"], payload["ema"] = self.ema.checkpoint(self.model)
        if self.ctx is not None:  # every rank's dropout stream and task state (a carried stream), in rank order
            payload["rng_ranks"] = distributed.gather(payload["rng"], self.ctx)
            payload["task_state_ranks"] = distributed.gather(payload["task_state"], self.ctx)
        return payload

    def _summary(self, seconds: float, first: int) -> dict[str, Any]:
        rows: dict[str, Any] = {"steps": f"{self.step}/{self.cfg.max_steps} ({self.step - first} this session)"}
        if self.stopped_early:
            rows["steps"] += ", stopped early"
        rows["time"] = format_seconds(seconds)
        if self.best:
            rows["best"] = f"val {self.metric} {self.best['value']:.4g} at step {self.best['step']}"
        rows |= {f"val {k}": v for k, v in self.metrics.items()}
        rows["run dir"] = str(self.run_dir)
        return rows

    def _final_report(self) -> str | None:
        self.model.eval()
        with torch.no_grad():
            report = call_with_result(self.task.final_report, self.model, self.device, result=self.last_eval)
        if report is not None:
            self.console.print(report, markup=False, highlight=False)
        return report




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
        elif dev.type == "cpu" and recipe.train.num_threads == 0:
            _warn_if_contended(console)
        payload, run_dir, source, recipe = distributed.on_main(lambda: open_run(recipe, out, resume, console), ctx)
        # A second run into this folder now is refused; under torchrun every rank hears rank 0's refusal
        # instead of waiting at the next barrier for a rank that has left.
        distributed.on_main(lambda: stack.enter_context(claim(run_dir)), ctx)
        if payload is not None and (stopped := finished(recipe, payload, run_dir, console)) is not None:
            return TrainResult(run_dir, int(payload["step"]), dict(payload.get("metrics") or {}), payload.get("best"),
                               stopped, None)
        return _train(recipe, task_cls, dev, ctx, payload, run_dir, source, console, command, started)


def _warn_if_contended(console: Console) -> None:
    """A note when other work holds cores that torch's default thread count expects (seqtk.cpu_load)."""
    from seqtk import cpu_load

    note = cpu_load.contention_note(torch.get_num_threads(), cpu_load.busy_cores(0.1), cpu_load.usable_cores())
    if note:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


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
            task = ready_task(task_cls, recipe, _for_rank(payload, ctx), console=None if ctx is None or ctx.is_main else console)
        if type(task).learned:
            learned.save(task)  # a learned value seqtk cannot save fails now, not at the first checkpoint
            origin = "restored from the checkpoint" if payload is not None else "learned from the training data"
            console.print(f"Task state ({origin}): {learned.describe(task)}", highlight=False)
        model = task.build_model().to(dev)
        if ctx is not None:
            distributed.seed_rank(recipe.train.seed, ctx)
        record = payload.get("budget") if payload is not None and recipe.train.time_budget else None
        if recipe.train.time_budget and payload is None:  # measure a throwaway session, then fix max_steps
            quiet = Console(quiet=True)
            recipe, record = budget.fit_recipe(recipe, lambda r: _Session(r, task, model, dev, run_dir, quiet, ctx),
                                               model, task, dev, started, console, ctx)
        session = _Session(recipe, task, model, dev, run_dir, console, ctx, record)
        if payload is not None and source is not None:
            session.restore(payload, source)
        return session.execute(command, resumed=payload is not None)
