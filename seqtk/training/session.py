"""One training session: the optimiser, schedule, loop, evaluations and checkpoints of a readied task.

:class:`Session` is what :func:`seqtk.training.train.run_training` builds once the
device, run folder and task are ready (and what a time budget times a few
throwaway steps of, :mod:`seqtk.training.budget`). It owns backward: a task's
``step`` returns a :class:`~seqtk.tasks.task.StepOutput` and the session scales,
clips and steps. Its :meth:`Session.payload` is the checkpoint format
(:mod:`seqtk.inference.checkpoint`) and :meth:`Session.restore` reads it back,
so a resumed run is bit-identical (on a CPU, at the same thread counts: the checkpoint holds the count).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import nn

from seqtk.version import __version__

from seqtk.config import checks

from seqtk.config.schema import Recipe
from seqtk.data.batches import move_to
from seqtk.errors import SeqtkError
from seqtk.runtime.device import autocast, make_scaler, rng_preserved, rng_state, set_rng_state
from seqtk.runtime.thread_governor import ThreadGovernor
from seqtk.tasks import learned
from seqtk.tasks.contract import check_step_output
from seqtk.tasks.evaluation import EvalResult, call_with_result, evaluate
from seqtk.runtime.loggers import (
    JsonlLogger, MultiLogger, TensorBoardLogger, TrainProgress, format_seconds, summary_table,
)
from seqtk.config.recipe_io import to_toml
from seqtk.inference.checkpoint import FORMAT, VERSION, save_checkpoint
from seqtk.inference.loading import load_weights, recipe_changes
from seqtk.tasks.task import StepOutput, Task
from seqtk.training import best, budget, distributed
from seqtk.training.distributed import Dist
from seqtk.training.ema import WeightAverage
from seqtk.training.gradients import GradientLog
from seqtk.training.interrupts import SaveTriggers, TrainingStopped
from seqtk.training.optim import (apply_recipe, clip_gradients, load_optimizer_state, make_optimizer, make_scheduler,
                                  nt_asgd_switch, scaled_lr)  # fmt: skip
from seqtk.training.runs import write_config
from seqtk.training.scalars import ScalarWindow


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


class Session:
    """The objects of one training session and the loop over them."""

    def __init__(
        self, recipe: Recipe, task: Task, model: nn.Module, device: torch.device, run_dir: Path, console: Console,
        ctx: Dist | None = None, budget_record: dict[str, Any] | None = None, started: float | None = None,
    ) -> None:
        self.recipe, self.cfg, self.task, self.model = recipe, recipe.train, task, model
        self.budget_record = budget_record  # what train.time_budget measured and chose, kept in every checkpoint
        self.replans = budget.replan_points(budget_record)  # its re-plans, which the schedule follows
        self.keeper: budget.Keeper | None = None
        self.started = started  # time.perf_counter() at the start of the run, data preparation included
        self.device, self.run_dir, self.console = device, run_dir, console
        self.ctx, self.is_main = ctx, ctx is None or ctx.is_main
        self.optimizer = make_optimizer(model, self.cfg)
        self.scheduler = make_scheduler(self.optimizer, self.cfg, self.replans)
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
        # NT-ASGD (train.nt_asgd_nonmono): the val metric of every evaluation, and the step averaging began at
        self.nt_history: list[float] = []
        self.asgd_since: int | None = None
        self.thread_ceiling = torch.get_num_threads()  # torch's count at the start: the governor never goes above it

    def restore(self, payload: dict[str, Any], source: Path) -> None:
        """Continue from a checkpoint; the RNG streams are restored last."""
        entry = payload.get("ema")  # the checkpoint's model is a weight average; the trained weights are here
        load_weights(self.model, entry["raw"] if entry else payload["model"], source, payload["task"],
                     recipe_changes(payload.get("recipe"), self.recipe))
        if self._restore_nt_asgd(payload.get("nt_asgd"), payload["model"], entry):
            pass
        elif self.ema is not None and entry:
            self.ema.restore(payload["model"], entry)
            if float(entry.get("decay", self.ema.decay)) != self.ema.decay:
                self.console.print(f"  train.ema_decay changed from {entry['decay']} to {self.ema.decay}: the average "
                                   "goes on with the new decay.", highlight=False)
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
        self._replay_replans(payload.get("budget"))
        self._restore_threads(payload.get("threads"))
        apply_recipe(self.optimizer, self.scheduler, self.cfg, self.step, self.replans)  # a changed train.lr etc.
        self.metrics = dict(payload.get("metrics") or {})
        saved = payload.get("best")
        self.best = dict(saved) if saved and saved.get("metric") == self.metric else None
        rng = self._rng_of(payload)
        if rng is not None:
            set_rng_state(rng)

    def _replay_replans(self, record: dict[str, Any] | None) -> None:
        """A run resumed without its time budget keeps the schedule its re-plans bent; a max_steps changed on
        resume is one more re-plan, from this step."""
        if self.replans or not record or not record.get("replans"):
            return  # a budgeted resume has them already (its record)
        self.replans.extend(budget.replan_points(record))
        if self.cfg.max_steps != (current := budget.current_max_steps(record)):
            self.replans.append((self.step, current, self.cfg.max_steps))

    def _restore_nt_asgd(self, record: dict[str, Any] | None, averaged: dict[str, Any], entry: Any) -> bool:
        """Take NT-ASGD's history back, and its average once it had begun (True then)."""
        if not record or not self.cfg.nt_asgd_nonmono:
            return False
        self.nt_history, self.asgd_since = list(record["history"]), record["since"]
        if self.asgd_since is None or not entry:
            return False
        self.ema = WeightAverage(self.model, None)
        self.ema.restore(averaged, entry)
        return True

    def _nt_asgd_after_eval(self) -> None:
        """NT-ASGD: start averaging the weights once the val metric is worse than it was nonmono evaluations ago."""
        nonmono = self.cfg.nt_asgd_nonmono
        if not nonmono or self.asgd_since is not None or self.metric not in self.metrics:
            return
        value = self.metrics[self.metric]
        if nt_asgd_switch(self.nt_history, value, nonmono, self.mode):
            self.ema, self.asgd_since = WeightAverage(self.model, None), self.step
            self.console.print(f"NT-ASGD: val {self.metric} {value:.4g} is worse than the best before the last "
                               f"{nonmono} evaluations; averaging the weights from step {self.step} on.",
                               highlight=False)  # fmt: skip
        self.nt_history.append(value)

    def _rng_of(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """This rank's RNG state in the checkpoint; None (keep the fresh seed) if it has none."""
        if self.ctx is None or self.ctx.is_main:
            return payload["rng"]
        ranks = payload.get("rng_ranks") or []
        return ranks[self.ctx.rank] if len(ranks) == self.ctx.world else None

    def execute(self, command: str, resumed: bool) -> TrainResult:
        started, first = time.perf_counter(), self.step
        if self.is_main:
            note = budget.Plan.of(self.budget_record).comment() if self.budget_record else ""
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
        every = self.recipe.log.every
        batches, window = iter(self.loader), ScalarWindow()
        progress = TrainProgress(
            self.console, max_steps=self.cfg.max_steps, start_step=self.step, unit=self.task.unit,
            metric_name=self.metric, enabled=self.recipe.log.progress and self.is_main, every=every,
        )
        triggers = SaveTriggers(checks.duration("train.checkpoint_every", self.cfg.checkpoint_every), self.console)
        governor = self._thread_governor()
        self.keeper = self._budget_keeper()
        with progress, triggers.catching():
            self.progress = progress
            if self.metric in self.metrics:
                progress.set_metric(self.metrics[self.metric])
            self.model.train()
            while self.step < self.cfg.max_steps and not self.stopped_early:
                self.step += 1
                if governor is not None:
                    governor.step()
                loss, out, norm, lr = self.train_step(batches)
                window.add(loss, out, norm)
                evaluating = self.step % self.cfg.eval_every == 0 or self.step == self.cfg.max_steps
                progress.update(self.step, loss=loss, count=out.count, lr=lr, show=not evaluating)
                if self.step % every == 0 or self.step == self.cfg.max_steps:
                    self.logger.log_scalars(self.step, window.scalars(lr))
                    window = ScalarWindow()
                if evaluating:
                    self._eval_and_save()  # the progress line then shows this evaluation's value
                    triggers.saved()
                    if self.step >= self.cfg.max_steps and window.steps:  # a time budget's re-plan ended it here
                        self.logger.log_scalars(self.step, window.scalars(lr))
                save, stop = triggers.after_step(self.ctx, self.device)
                if save and not evaluating:
                    self._save(improved=False)
                    triggers.saved()
                if stop and self.step < self.cfg.max_steps and not self.stopped_early:  # else it ends normally
                    raise TrainingStopped(triggers.signal_name or "SIGINT", self.step, self.run_dir)

    def _budget_keeper(self) -> budget.Keeper | None:
        """A time budget's re-planning (seqtk.training.budget.Keeper): for a fresh budgeted run with
        train.time_budget_replan; a resumed one keeps its last plan."""
        if self.budget_record is None or not self.cfg.time_budget_replan or self.step > 0:
            return None
        now = time.perf_counter()
        started = self.started if self.started is not None else now - float(self.budget_record["spent_seconds"])
        return budget.Keeper.start(self.budget_record, self.cfg.eval_every, self.step, started, now)

    def _keep_budget(self) -> None:
        """After an evaluation: a new max_steps when the run would miss its time budget (every rank alike)."""
        if self.keeper is None:
            return
        steps = self.keeper.after_eval(self.step, self.cfg.max_steps, time.perf_counter()) if self.is_main else None
        if self.ctx is not None:
            steps = distributed.broadcast(steps, self.ctx)
        if steps is None:
            return
        assert self.budget_record is not None
        self.replans.append((self.step, self.cfg.max_steps, steps))
        self.console.print(budget.note_replan(self.budget_record, self.step, self.cfg.max_steps, steps), highlight=False)
        self.cfg = dataclasses.replace(self.cfg, max_steps=steps)
        self.recipe = self.recipe.replace(train=self.cfg)
        apply_recipe(self.optimizer, self.scheduler, self.cfg, self.step, self.replans)  # the next step's lr too
        self.logger.log_scalars(self.step, {"budget/max_steps": float(steps)})
        if self.progress is not None:
            self.progress.set_total(steps)

    def _governed(self) -> bool:
        """Does the run's thread count follow the cores other work leaves free? On a CPU, with
        train.num_threads = 0, outside torchrun."""
        return self.device.type == "cpu" and self.ctx is None and not self.cfg.num_threads

    def _thread_governor(self) -> ThreadGovernor | None:
        """Torch's thread count re-checked against other work on the cores (seqtk.runtime.thread_governor).

        Deterministic runs too: the count changes the last bits of some sums, so each change is printed, the
        count goes into every checkpoint and a resumed run starts at it (``_restore_threads``)."""
        if not self._governed():
            return None
        return ThreadGovernor(on_change=self._note_threads, threads=torch.get_num_threads(),
                              ceiling=self.thread_ceiling)  # fmt: skip

    def _note_threads(self, note: str) -> None:
        self.console.print(f"note: {note}", highlight=False)
        self.logger.log_scalars(self.step, {"system/threads": float(torch.get_num_threads())})

    def _restore_threads(self, threads: Any) -> None:
        """A governed run resumes on the thread count its checkpoint was written with, so that the steps
        after it sum in the same order as the unbroken run's; the governor moves it from there."""
        if not self._governed() or type(threads) is not int or threads < 1 or threads == torch.get_num_threads():
            return  # a GPU run's None, an older checkpoint without the count, or nothing to change
        if threads <= self.thread_ceiling:
            torch.set_num_threads(threads)
            self.console.print(f"  torch threads {threads}, as when the checkpoint was written (the governor moves "
                               "the count from there as other work allows).", highlight=False)  # fmt: skip
        else:
            self.console.print(f"  the checkpoint was written on {threads} torch threads, more than this machine's "
                               f"{self.thread_ceiling}: the steps after it may differ in their last bits from the "
                               "unbroken run's.", highlight=False)  # fmt: skip

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
            out = StepOutput(out.loss, count, metrics, lr_scale=out.lr_scale)
        if not math.isfinite(loss):
            raise self._nonfinite("loss", loss)
        lr = float(self.optimizer.param_groups[0]["lr"]) * out.lr_scale
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(objective).backward()
        if self.grads is not None:  # gradients through time, measured before clipping
            self.grads.after_backward(self.step, self.logger, self.scaler.get_scale() if self.scaler.is_enabled() else 1.0)
        self.scaler.unscale_(self.optimizer)
        max_norm = self.cfg.grad_clip if self.cfg.grad_clip > 0 else math.inf
        norm, clip = clip_gradients(self.model.parameters(), self.optimizer, max_norm, fold=not self.scaler.is_enabled())
        if not math.isfinite(norm) and not self.scaler.is_enabled():  # fp16 skips such steps itself
            raise self._nonfinite("gradient norm", norm)
        with scaled_lr(self.optimizer, out.lr_scale * clip):
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
        if self.keeper is not None:
            self.keeper.before_eval(self.step, time.perf_counter())
        if self.ctx is None:
            self.metrics = self.evaluate()
        else:  # rank 0 evaluates; every rank gets its metrics, so all stop early together
            self.metrics = distributed.broadcast(self.evaluate() if self.is_main else None, self.ctx)
        self.logger.log_scalars(self.step, {f"val/{k}": v for k, v in self.metrics.items()})
        missing = self.metric not in self.metrics
        improved = not missing and self._update_best()
        self._nt_asgd_after_eval()
        self._keep_budget()
        if self.progress is not None and not missing:
            self.progress.after_eval(self.step, self.metrics[self.metric])
        saved = time.perf_counter()
        self._save(improved)  # last.pt is kept even if we stop below
        if self.keeper is not None:
            self.keeper.after_save(self.step, time.perf_counter(), saved)
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
        """The checkpoint for the current step (see :mod:`seqtk.inference.checkpoint`).

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
            "threads": torch.get_num_threads() if self.device.type == "cpu" else None,
        }
        if self.ema is not None:  # eval, predict and export read "model": the average
            payload["model"], payload["ema"] = self.ema.checkpoint(self.model)
        if self.cfg.nt_asgd_nonmono:
            payload["nt_asgd"] = {"history": list(self.nt_history), "since": self.asgd_since}
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
