"""One evaluation loop for every task: means weighted by count, and a reduce hook for the rest.

fairseq's ``reduce_metrics`` in miniature. The loop runs :meth:`Task.step`
with ``train=False`` over a held-out split and averages the loss and the
per-batch metrics, weighted by ``StepOutput.count``. Metrics that are not
means of batch means (F1, a confusion matrix, a corpus-level score) come from
the task's *reducer*: :meth:`Task.eval_reducer` returns an object with
``add(batch, out)``, called for every batch, and ``metrics()``, called once at
the end, whose values join (and win over) the means. Metrics of the model
itself rather than of its batches (tunes it samples, scored) come from
:meth:`Task.model_metrics`, called once after the batches with the model,
the split and the device; what it keeps for logging goes into
``EvalResult.extras``. The reducer itself is kept in :class:`EvalResult` as
``details``, and the trainer hands that result to :meth:`Task.log_eval` and
:meth:`Task.final_report`, so no task has to remember its last evaluation in
an attribute of its own (and none overrides :meth:`Task.evaluate`).

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
...     def model_metrics(self, model, split, device, result):
...         result.extras["sample"] = "3.0"  # what the model would sample, kept for log_eval
...         return {"sampled": 1.0}
...     def finish_metrics(self, metrics): return metrics
>>> result = evaluate(Demo(), None, "val", torch.device("cpu"))
>>> result.metrics, result.details.hits, result.extras
({'loss': 3.0, 'hits': 2.0, 'sampled': 1.0}, 2, {'sample': '3.0'})
"""

from __future__ import annotations

import inspect
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
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

    def model_metrics(self, model: Any, split: str, device: torch.device, result: EvalResult) -> dict[str, float]:
        """Optional outside :class:`~seqtk.tasks.task.Task`: the loop calls it only where it exists."""
        ...

    def finish_metrics(self, metrics: dict[str, float]) -> dict[str, float]: ...


class Reducer(Protocol):
    """What :meth:`Task.eval_reducer` returns: sees every batch, gives the metrics that are not means."""

    def add(self, batch: Any, out: StepOutput) -> None: ...

    def metrics(self) -> dict[str, float]: ...


@dataclass
class EvalResult:
    """One pass over a split: its metrics, what the task's reducer kept (None without one), and what
    :meth:`Task.model_metrics` kept for :meth:`Task.log_eval` (sampled texts, say)."""

    split: str
    metrics: dict[str, float]
    details: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


def evaluate(task: Evaluable, model: nn.Module | None, split: str, device: torch.device, max_batches: int = 0,
             *, model_metrics: bool = True) -> EvalResult:
    """Run ``task.step`` over ``split`` (at most ``max_batches``; 0: all) without gradients, then
    ``task.model_metrics`` (unless ``model_metrics`` is false: a file's evaluation, whose numbers are the
    file's alone); ``task.finish_metrics`` derives the rest from all of them."""
    reducer = task.eval_reducer(split)
    with torch.no_grad():
        result = EvalResult(split, _means(task, model, split, device, max_batches, reducer), reducer)
        if reducer is not None:
            result.metrics |= {key: float(value) for key, value in reducer.metrics().items()}
        hook = getattr(task, "model_metrics", None) if model_metrics else None  # an object made for the loop alone may lack it
        extra = hook(model, split, device, result) if hook is not None else {}  # after the reducer's: it may read them
        result.metrics |= {key: float(value) for key, value in extra.items()}
    result.metrics = task.finish_metrics(result.metrics)
    return result


def check_eval_file(path: Path) -> Path:
    """``path`` if it is a readable file with something in it; else the error that says which it is not."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise SeqtkError(f"'{path}' is a folder, and seqtk eval --file (evaluate(file=...)) scores one file",
                         fix="name a file in it, or join its files into one")  # fmt: skip
    if not path.exists():
        raise SeqtkError(f"the file to evaluate, '{path}', does not exist",
                         fix="check the path given to seqtk eval --file (evaluate(file=...))")  # fmt: skip
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SeqtkError(f"cannot read the file to evaluate, '{path}': {exc.strerror}",
                         fix="check its permissions, or copy it somewhere readable") from None  # fmt: skip
    if not data.strip():
        raise SeqtkError(f"the file to evaluate, '{path}', is empty" + (" (blank lines only)" if data else ""),
                         fix="pass a file with the texts (and labels or tags) to score, in a format the task reads")  # fmt: skip
    return path


def _means(task: Evaluable, model: nn.Module | None, split: str, device: torch.device, max_batches: int,
           reducer: Reducer | None) -> dict[str, float]:
    """The loss and ``step()``'s metrics over the split's batches, weighted by ``StepOutput.count``."""
    from seqtk.data.batches import move_to
    from seqtk.tasks.step import check_step_output

    totals: dict[str, float] = {}
    count = 0.0
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
    return {key: value / count for key, value in totals.items()}


#: the reporting methods whose older form takes no ``result``
REPORTING = ("log_eval", "final_report")
_warned: weakref.WeakSet[type] = weakref.WeakSet()  # task classes told once about their older signatures


def call_with_result(method: Any, *args: Any, result: EvalResult | None) -> Any:
    """Call ``log_eval``/``final_report`` with ``result``, the one signature the core documents.

    A third-party plugin written before ``result`` existed defines ``log_eval(model, logger, step)`` or
    ``final_report(model, device)``: it is still called without it, after a warning, once per task class.
    """
    if _takes_result(method):
        return method(*args, result=result)
    owner = getattr(method, "__self__", None)
    if owner is not None:
        warn_older_signature(owner if isinstance(owner, type) else type(owner))
    return method(*args)


def warn_older_signature(task_cls: type) -> None:
    """A ``FutureWarning`` naming the task's reporting methods that take no ``result``, and the fix; once
    per class, so a run that evaluates a hundred times says it once."""
    if task_cls in _warned:
        return
    _warned.add(task_cls)
    methods = {name: getattr(task_cls, name, None) for name in REPORTING}
    older = [name for name, method in methods.items() if callable(method) and not _takes_result(method)]
    if not older:
        return
    from seqtk.tasks.step import where

    signatures = {"log_eval": "log_eval(self, model, logger, step, result=None)",
                  "final_report": "final_report(self, model, device, result=None)"}
    them = "it" if len(older) == 1 else "them"
    warnings.warn(
        f"task '{getattr(task_cls, 'name', task_cls.__qualname__)}'{where(task_cls)}: {' and '.join(older)} "
        f"{'takes' if len(older) == 1 else 'take'} no 'result' parameter (the older signature); seqtk still "
        f"calls {them} without the evaluation just made, but documents only the newer form. Fix: define "
        f"{' and '.join(signatures[name] for name in older)}; 'result' holds the split, the metrics and the "
        "reducer (docs/plugins.md, the Task members).",
        FutureWarning,
        stacklevel=3,
    )


def _takes_result(method: Any) -> bool:
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):  # a builtin or a C callable: call it the old way
        return False
    return "result" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
