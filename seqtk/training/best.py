"""Which checkpoint is best, and when to stop early: the metric, its direction, and patience.

The trainer keeps one record, stored in every checkpoint as ``best``::

    {"metric": "loss", "mode": "min", "value": 1.2, "step": 200, "evals_since": 0}

``evals_since`` counts evaluations without improvement; a run stops early once
it reaches ``train.patience`` (0: never).

>>> record, improved = update(None, "loss", "min", 1.5, step=100)
>>> record, improved = update(record, "loss", "min", 1.7, step=200)
>>> improved, record["value"], record["evals_since"], patience_spent(record, 1)
(False, 1.5, 1, True)
"""

from __future__ import annotations

import math
from typing import Any

from seqtk.config.schema import TrainConfig

LOWER_IS_BETTER = ("loss", "ppl", "perplexity", "bpc", "bpb", "err", "wer", "cer", "mse", "mae")


def choose_metric(cfg: TrainConfig, task_cls: Any) -> tuple[str, str]:
    """The metric that picks best.pt, and whether it should go down ("min") or up ("max")."""
    name = cfg.metric or task_cls.main_metric
    if cfg.metric_mode != "auto":
        return name, cfg.metric_mode
    if name == task_cls.main_metric:
        return name, task_cls.main_metric_mode
    return name, "min" if any(word in name.lower() for word in LOWER_IS_BETTER) else "max"


def better(value: float, best: float, mode: str) -> bool:
    """Is ``value`` an improvement on ``best``? A non-finite value never is; anything beats a non-finite best."""
    if not math.isfinite(value):
        return False
    if not math.isfinite(best):
        return True
    return value < best if mode == "min" else value > best


def update(record: dict[str, Any] | None, metric: str, mode: str, value: float, step: int) -> tuple[dict[str, Any], bool]:
    """The best record after an evaluation that gave ``value``, and whether it improved."""
    if record is None or better(value, record["value"], mode):
        return {"metric": metric, "mode": mode, "value": value, "step": step, "evals_since": 0}, True
    return {**record, "evals_since": record["evals_since"] + 1}, False


def patience_spent(record: dict[str, Any] | None, patience: int) -> bool:
    """Has the run gone ``patience`` evaluations without improvement (never, with patience 0)?"""
    return bool(patience and record and record.get("evals_since", 0) >= patience)
