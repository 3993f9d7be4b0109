"""Time-budgeted training: ``train.time_budget = "8m"`` fixes ``max_steps`` at the start of a run.

Lightning's ``max_time`` stops the clock in the middle of a schedule, so a
cosine schedule never reaches its floor and a resumed run cannot know where
the first one would have stopped. seqtk instead measures, at the start of a
fresh run, how long a training step and an evaluation (with its checkpoint)
take on this machine, then picks the largest ``max_steps`` (at most the
recipe's) whose steps and evaluations fit in what is left of the budget. The
measuring steps train a throwaway copy: the weights, the RNG streams and the
task's carried state are put back afterwards, so the run that follows is the
run ``train.max_steps = <chosen>`` would give, bit for bit, as long as the
machine keeps its speed.

A machine's speed drifts: another job starts, a laptop throttles, a shared
host slows (a 15-minute PTB run here measured 24.6 ms a step at its start,
averaged 30 and ended 2 min 40 s late). So at each evaluation a :class:`Keeper`
compares the time its steps and evaluations took since the last one with
what is left, and when the run would end more than ``SLACK`` of the budget
late (or early, below the recipe's cap) it re-plans ``max_steps``: the
cosine's rest is squeezed or stretched to end there, without a jump
(:func:`seqtk.training.optim.lr_factor`). ``train.time_budget_replan = false``
keeps the first plan.

The plan and its re-plans go into ``config.toml`` (the plan), every
checkpoint (``"budget"``, with ``"replans"``) and the console. ``--resume``
reuses them instead of measuring again, which keeps resuming exact; a
resumed run keeps the last plan and does not re-plan, as its budget was the
first session's.
"""

from __future__ import annotations

import dataclasses
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch

from seqtk.config import checks
from seqtk.config.schema import Recipe
from seqtk.errors import SeqtkError
from seqtk.runtime.device import rng_state, set_rng_state

WARMUP_STEPS = 2  # the first steps pay one-off costs (allocations, oneDNN/cuDNN plans): not timed
MIN_STEPS, MAX_STEPS = 3, 200  # timed steps
SLACK = 0.02  # of the budget: a run projected to end within this of its deadline keeps its plan
MIN_WINDOW = 0.01  # of the budget: training time since the last evaluation that a re-plan needs to trust its timing


@dataclass(frozen=True)
class Plan:
    """What a budgeted run measured and chose."""

    time_budget: str
    budget_seconds: float
    step_seconds: float
    eval_seconds: float
    spent_seconds: float  # data preparation and measuring, before the first real step
    max_steps: int
    cap: int

    def record(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"replans": []}

    @classmethod
    def of(cls, record: dict[str, Any]) -> Plan:
        """The plan in a checkpoint's ``"budget"`` record."""
        return cls(**{f.name: record[f.name] for f in dataclasses.fields(cls)})

    def describe(self) -> str:
        """The console line that says what was chosen and why."""
        capped = f" (the recipe's train.max_steps = {self.cap} caps it)" if self.max_steps == self.cap else ""
        return (
            f"Time budget {self.time_budget}: a step takes {self.step_seconds * 1e3:.1f} ms and an evaluation "
            f"{self.eval_seconds:.1f} s here; {self.spent_seconds:.0f} s went to data and measuring, so the run "
            f"trains max_steps = {self.max_steps}{capped}."
        )

    def comment(self) -> str:
        """The same, as a config.toml comment line."""
        return (f"# train.time_budget {self.time_budget}: {self.step_seconds * 1e3:.1f} ms/step, "
                f"{self.eval_seconds:.1f} s/evaluation measured -> max_steps = {self.max_steps}")


def current_max_steps(record: dict[str, Any]) -> int:
    """The ``max_steps`` a budget record holds now: its last re-plan's, else the first plan's."""
    replans = record.get("replans") or []
    return int(replans[-1]["max_steps"] if replans else record["max_steps"])


def replan_points(record: dict[str, Any] | None) -> list[tuple[int, int, int]]:
    """A record's re-plans as :func:`seqtk.training.optim.lr_factor` takes them: (step, before, after)."""
    return [(int(r["step"]), int(r["before"]), int(r["max_steps"])) for r in (record or {}).get("replans") or []]


@dataclass
class Keeper:
    """Keeps a budgeted run inside its budget as the machine's speed changes.

    Call :meth:`before_eval` as an evaluation starts, :meth:`after_eval` once it is done (it returns a new
    ``max_steps``, or None to keep it) and :meth:`after_save` once its checkpoint is written. The speed is
    the mean of the last ``WINDOWS`` spans of training between evaluations; an evaluation's cost is its
    own time and its checkpoint's.

    >>> keeper = Keeper(budget_seconds=100.0, deadline=100.0, cap=1000, eval_every=100, mark=(0.0, 0))
    >>> keeper.before_eval(100, now=20.0)  # 100 steps in 20 s: 0.2 s a step, not the 0.1 planned for 900 steps
    >>> keeper.after_eval(100, 900, now=21.0)  # 79 s left: 375 more steps and 4 evaluations fit
    475
    """

    WINDOWS = 3

    budget_seconds: float
    deadline: float  # time.perf_counter() by which the steps and evaluations must be done
    cap: int  # the recipe's train.max_steps
    eval_every: int
    mark: tuple[float, int]  # (time.perf_counter(), step) where the current span of training began
    spans: list[tuple[float, int]] = field(default_factory=list)  # (seconds, steps) of the last spans
    eval_started: float = 0.0
    save_seconds: float = 0.0  # the last checkpoint's write

    @classmethod
    def start(cls, record: dict[str, Any], eval_every: int, step: int, started: float, now: float) -> Keeper:
        """A keeper for a run whose plan is ``record``, started (data preparation included) at ``started``, its
        steps beginning at ``now``; the plan's reserve for the end is kept."""
        budget = float(record["budget_seconds"])
        return cls(budget, started + budget - reserve_seconds(budget), int(record["cap"]), eval_every, (now, step))

    def before_eval(self, step: int, now: float) -> None:
        if step > self.mark[1]:
            self.spans = [*self.spans, (now - self.mark[0], step - self.mark[1])][-self.WINDOWS:]
        self.eval_started = now

    def after_eval(self, step: int, max_steps: int, now: float) -> int | None:
        """The ``max_steps`` that ends the run by the deadline at the recent speed; None to keep ``max_steps``."""
        seconds, steps = sum(s for s, _ in self.spans), sum(n for _, n in self.spans)
        if step >= max_steps or steps < 1 or seconds < MIN_WINDOW * self.budget_seconds:
            return None  # the end, or too little training yet to judge the speed by
        step_seconds, eval_seconds = seconds / steps, now - self.eval_started + self.save_seconds
        left, todo = self.deadline - now, max_steps - step
        late = todo * step_seconds + math.ceil(todo / self.eval_every) * eval_seconds - left
        if abs(late) <= SLACK * self.budget_seconds or (late < 0 and max_steps >= self.cap):
            return None
        new = step + fit_steps(left, step_seconds, eval_seconds, self.eval_every, self.cap - step)
        return new if new != max_steps else None

    def after_save(self, step: int, now: float, saved: float) -> None:
        """The checkpoint that began at ``saved`` is written: the next span of training starts ``now``."""
        self.save_seconds, self.mark = now - saved, (now, step)


def note_replan(record: dict[str, Any], step: int, before: int, steps: int) -> str:
    """Add a re-plan at ``step`` from ``before`` to ``steps`` to a budget record; the console line that says so."""
    record["replans"] = [*record.get("replans", []), {"step": step, "before": before, "max_steps": steps}]
    return (f"Time budget {record['time_budget']}: at the speed of the last steps the run would end "
            f"{'late' if steps < before else 'early'}, so it now trains max_steps = {steps} (was {before}); the "
            "learning-rate schedule's rest is fitted to it.")


def reserve_seconds(budget: float) -> float:
    """What a plan keeps back for the summary, the final report and closing the loggers."""
    return max(1.0, 0.03 * budget)


def seconds_of(recipe: Recipe) -> float:
    return checks.duration("train.time_budget", recipe.train.time_budget)


def is_on(recipe: Recipe) -> bool:
    """Whether the recipe has a time budget: ``""`` and ``"0"`` (or ``"0s"``) turn it off."""
    return seconds_of(recipe) > 0


def plan_run(recipe: Recipe, session_for: Callable[[Recipe], Any], model: torch.nn.Module, task: Any,
             device: torch.device, started: float, agree: Callable[[Any], Any] | None = None) -> Plan:
    """Measure on a throwaway session (``session_for(recipe)``), put everything back, choose ``max_steps``.

    ``started`` is the ``time.perf_counter()`` of the start of the run: data preparation counts too.
    ``agree`` (distributed: rank 0's value on every rank) makes the ranks step and plan alike.
    """
    budget, cfg = seconds_of(recipe), recipe.train
    probe = recipe.replace(train=dataclasses.replace(cfg, time_budget="", checkpoint_every="0"),
                           log=dataclasses.replace(recipe.log, grad_through_time=False))
    weights = {name: value.detach().clone() for name, value in model.state_dict().items()}
    rng = rng_state(device)
    try:
        step_seconds, eval_seconds = _measure(session_for(probe), min(max(0.03 * budget, 0.5), 20.0), agree)
    finally:
        model.load_state_dict(weights)
        set_rng_state(rng)
        task.reset_state()
        model.train()
    spent = time.perf_counter() - started
    if agree is not None:
        step_seconds, eval_seconds, spent = agree((step_seconds, eval_seconds, spent))
    reserve = reserve_seconds(budget)
    steps = fit_steps(budget - spent - reserve, step_seconds, eval_seconds, cfg.eval_every, cfg.max_steps)
    if steps < 1:
        need = spent + reserve + step_seconds * min(cfg.eval_every, cfg.max_steps) + eval_seconds
        raise SeqtkError(
            f"train.time_budget = {cfg.time_budget!r} leaves no time to train: the data and the measuring took "
            f"{spent:.0f} s, a step takes {step_seconds:.2f} s and an evaluation {eval_seconds:.1f} s on this machine",
            fix=f'raise train.time_budget to at least "{math.ceil(need)}s", or set train.time_budget = "" and a '
            "train.max_steps of your own",
        )
    return Plan(cfg.time_budget, budget, step_seconds, eval_seconds, spent, steps, cfg.max_steps)


def fit_steps(seconds: float, step_seconds: float, eval_seconds: float, eval_every: int, cap: int) -> int:
    """The most steps (at most ``cap``) whose time, an evaluation every ``eval_every`` and one at the end
    included, fits in ``seconds``.

    >>> fit_steps(100.0, 0.1, 5.0, 200, 10_000)  # 800 steps and 4 evaluations: 80 s + 20 s
    800
    >>> fit_steps(100.0, 0.1, 5.0, 200, 500), fit_steps(1.0, 0.1, 5.0, 200, 500)
    (500, 0)
    """
    if seconds <= 0:
        return 0
    steps = min(cap, int(seconds / (step_seconds + eval_seconds / eval_every)) + 1)
    while steps > 0 and steps * step_seconds + math.ceil(steps / eval_every) * eval_seconds > seconds:
        steps -= 1
    return steps


def _measure(session: Any, seconds: float, agree: Callable[[Any], Any] | None = None) -> tuple[float, float]:
    """(seconds per training step, seconds per evaluation and checkpoint) on ``session``."""
    batches = iter(session.loader)
    for _ in range(WARMUP_STEPS):
        session.train_step(batches)
    start, steps = time.perf_counter(), 0
    while True:
        more = steps < MIN_STEPS or (steps < MAX_STEPS and time.perf_counter() - start < seconds)
        if not (agree(more) if agree is not None else more):  # every rank takes as many steps as rank 0
            break
        session.train_step(batches)
        steps += 1
    step_seconds = (time.perf_counter() - start) / steps
    start = time.perf_counter()
    session.evaluate()
    torch.save(session.payload(), io.BytesIO())  # a checkpoint's pickling; its disk write is left out
    return step_seconds, time.perf_counter() - start


def fit_recipe(recipe: Recipe, session_for: Callable[[Recipe], Any], model: torch.nn.Module, task: Any,
               device: torch.device, started: float, console: Any, ctx: Any = None) -> tuple[Recipe, dict[str, Any]]:
    """The recipe with the ``max_steps`` that fits ``train.time_budget``, and the record of why (printed too).

    With several processes (``ctx``, a :class:`seqtk.training.distributed.Dist`) every rank measures the same
    throwaway steps (rank 0 says when to stop, so their all-reduces pair up), then every rank plans from rank 0's
    timings, which already include waiting for the slowest rank: they all choose the same ``max_steps``.
    """
    agree = None
    if ctx is not None:
        from seqtk.training import distributed

        agree = partial(distributed.broadcast, ctx=ctx)
    plan = plan_run(recipe, session_for, model, task, device, started, agree)
    if ctx is None or ctx.is_main:
        console.print(plan.describe(), highlight=False)
    return recipe.replace(train=dataclasses.replace(recipe.train, max_steps=plan.max_steps)), plan.record()


def on_resume(recipe: Recipe, payload: dict[str, Any]) -> Recipe:
    """The recipe a budgeted run resumes with: the ``max_steps`` its start chose (or its last re-plan), not a new
    measurement."""
    record = payload.get("budget")
    if not is_on(recipe):
        return recipe
    if record is None:
        raise SeqtkError(
            f"train.time_budget = {recipe.train.time_budget!r}, but the run being resumed was not started with a "
            "time budget, so its schedule has a fixed train.max_steps",
            fix='resume with train.time_budget="" (and train.max_steps as you want it), or start a new run',
        )
    if record["time_budget"] != recipe.train.time_budget:
        raise SeqtkError(
            f"the run was started with train.time_budget = {record['time_budget']!r}, which fixed "
            f"train.max_steps = {current_max_steps(record)}; resuming with {recipe.train.time_budget!r} cannot change that",
            fix=f"resume with train.time_budget={record['time_budget']!r}, or with train.time_budget=\"\" and the "
            "train.max_steps you want",
        )
    return recipe.replace(train=dataclasses.replace(recipe.train, max_steps=current_max_steps(record)))
