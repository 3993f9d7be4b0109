"""One evaluation loop for every task: means weighted by count, and a reduce hook for the rest.

fairseq's ``reduce_metrics`` in miniature. The loop runs :meth:`Task.step`
with ``train=False`` over a held-out split and averages the loss and the
per-batch metrics, weighted by ``StepOutput.count``. Metrics that are not
means of batch means (F1, a confusion matrix, a corpus-level score) come from
the task's *reducer*: :meth:`Task.eval_reducer` returns an object with
``add(batch, out)``, called for every batch, and ``metrics()``, called once at
the end, whose values join (and win over) the means. The reducer itself is
kept in :class:`EvalResult` as ``details``, and the trainer hands that result
to :meth:`Task.log_eval` and :meth:`Task.final_report`, so no task has to
remember its last evaluation in an attribute of its own.

>>> from seqtk.tasks.step import StepOutput
>>> class Counts:
...     def __init__(self): self.hits = 0
...     def add(self, batch, out): self.hits += int(out.outputs["hits"])
...     def metrics(self): return {"hits": float(self.hits)}
>>> class Demo:
...     name = "demo"
...     def eval_batches(self, split): return [torch.tensor([1.0, 3.0]), torch.tensor([5.0])]
...     def step(self, model, batch, train):
...         return StepOutput(batch.mean(), len(batch), outputs={"hits": (batch > 2).sum()})
...     def eval_reducer(self, split): return Counts()
...     def finish_metrics(self, metrics): return metrics
>>> result = evaluate(Demo(), None, "val", torch.device("cpu"))
>>> result.metrics, result.details.hits
({'loss': 3.0, 'hits': 2.0}, 2)
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch

from seqtk.errors import SeqtkError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from torch import nn

    from seqtk.tasks.step import StepOutput


class Evaluable(Protocol):
    """What the loop needs of a task (every :class:`seqtk.tasks.task.Task` has it)."""

    name: str

    def eval_batches(self, split: str) -> Iterable[Any]: ...

    def step(self, model: Any, batch: Any, *, train: bool) -> StepOutput: ...

    def eval_reducer(self, split: str) -> Reducer | None: ...

    def finish_metrics(self, metrics: dict[str, float]) -> dict[str, float]: ...


class Reducer(Protocol):
    """What :meth:`Task.eval_reducer` returns: sees every batch, gives the metrics that are not means."""

    def add(self, batch: Any, out: StepOutput) -> None: ...

    def metrics(self) -> dict[str, float]: ...


@dataclass
class EvalResult:
    """One pass over a split: its metrics, and what the task's reducer kept (None without one)."""

    split: str
    metrics: dict[str, float]
    details: Any = None


def evaluate(task: Evaluable, model: nn.Module | None, split: str, device: torch.device, max_batches: int = 0) -> EvalResult:
    """Run ``task.step`` over ``split`` (at most ``max_batches``; 0: all) without gradients."""
    from seqtk.data.batches import move_to
    from seqtk.tasks.step import check_step_output

    reducer = task.eval_reducer(split)
    totals: dict[str, float] = {}
    count = 0.0
    with torch.no_grad():
        for i, batch in enumerate(task.eval_batches(split)):
            if max_batches and i >= max_batches:
                break
            batch = move_to(batch, device)
            out = check_step_output(task, task.step(model, batch, train=False), train=False)
            totals["loss"] = totals.get("loss", 0.0) + float(out.loss) * out.count
            for key, value in out.metrics.items():
                totals[key] = totals.get(key, 0.0) + value * out.count
            count += out.count
            if reducer is not None:
                reducer.add(batch, out)
    if count == 0:
        raise SeqtkError(f"the {split} split of task '{task.name}' is empty", fix="use more data or a smaller validation fraction")
    metrics = {key: value / count for key, value in totals.items()}
    if reducer is not None:
        metrics |= {key: float(value) for key, value in reducer.metrics().items()}
    return EvalResult(split, task.finish_metrics(metrics), reducer)


def call_with_result(method: Any, *args: Any, result: EvalResult | None) -> Any:
    """Call ``log_eval``/``final_report``, passing ``result`` where the task's method takes it.

    Plugins written before the hook existed define ``log_eval(model, logger, step)``; they keep working.
    """
    return method(*args, result=result) if _takes_result(method) else method(*args)


def _takes_result(method: Any) -> bool:
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):  # a builtin or a C callable: call it the old way
        return False
    return "result" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
