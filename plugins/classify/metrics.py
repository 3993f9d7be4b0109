"""Classification metrics from counts over a whole split, the per-class table, and the confusion-matrix image.

Precision, recall and F1 are not means of per-batch values, so evaluation
accumulates a :class:`Confusion` (a C x C count matrix: rows true, columns
predicted) or, for multi-label data, :class:`LabelCounts` (TP/FP/FN per
label), and derives the metrics at the end: accuracy, macro-F1 (the mean of
the classes' F1, as scikit-learn's ``f1_score(average="macro")``), and with two
classes the precision, recall and F1 of the second class ("positive").
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


class Confusion:
    """Counts of a single-label classifier's outcomes.

    >>> c = Confusion(2)
    >>> c.add(torch.tensor([1, 1, 0, 0, 1]), torch.tensor([1, 0, 0, 1, 1]))
    >>> c.matrix.tolist()
    [[1, 1], [1, 2]]
    >>> m = c.metrics(); m["accuracy"], round(m["precision"], 4), round(m["recall"], 4), round(m["macro_f1"], 4)
    (0.6, 0.6667, 0.6667, 0.5833)
    """

    def __init__(self, num_classes: int) -> None:
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.long)

    def add(self, predicted: Tensor, target: Tensor) -> None:
        """Count a batch. # predicted (B,) long, target (B,) long"""
        c = self.matrix.size(0)
        flat = target.long().cpu() * c + predicted.long().cpu()
        self.matrix += torch.bincount(flat, minlength=c * c).view(c, c)

    @property
    def total(self) -> int:
        return int(self.matrix.sum())

    @property
    def accuracy(self) -> float:
        return _ratio(int(self.matrix.diagonal().sum()), self.total)

    def per_class(self) -> list[dict[str, float]]:
        """precision, recall, f1 and support (true count) of each class."""
        tp = self.matrix.diagonal().tolist()
        predicted, support = self.matrix.sum(0).tolist(), self.matrix.sum(1).tolist()
        rows = []
        for k in range(self.matrix.size(0)):
            p, r = _ratio(tp[k], predicted[k]), _ratio(tp[k], support[k])
            rows.append({"precision": p, "recall": r, "f1": _f1(p, r), "support": support[k]})
        return rows

    def metrics(self) -> dict[str, float]:
        rows = self.per_class()
        out = {"accuracy": self.accuracy, "macro_f1": sum(r["f1"] for r in rows) / max(len(rows), 1)}
        if len(rows) == 2:  # binary: the second class is "positive" (sentiment's convention)
            out |= {k: rows[1][k] for k in ("precision", "recall", "f1")}
        return out


class LabelCounts:
    """Counts of a multi-label classifier's outcomes, per label, and exact matches per text.

    >>> c = LabelCounts(3)
    >>> c.add(torch.tensor([[1, 0, 1], [0, 1, 0]]).bool(), torch.tensor([[1, 0, 0], [0, 1, 0]]).bool())
    >>> m = c.metrics(); m["accuracy"], m["micro_f1"], round(m["macro_f1"], 4)
    (0.5, 0.8, 0.6667)
    """

    def __init__(self, num_labels: int) -> None:
        self.tp, self.fp, self.fn = (torch.zeros(num_labels, dtype=torch.long) for _ in range(3))
        self.texts = self.exact = 0

    def add(self, predicted: Tensor, target: Tensor) -> None:
        """Count a batch. # predicted (B, C) bool, target (B, C) bool"""
        predicted, target = predicted.cpu(), target.cpu()
        self.tp += (predicted & target).sum(0)
        self.fp += (predicted & ~target).sum(0)
        self.fn += (~predicted & target).sum(0)
        self.texts += predicted.size(0)
        self.exact += int((predicted == target).all(dim=1).sum())

    def per_class(self) -> list[dict[str, float]]:
        rows = []
        for tp, fp, fn in zip(self.tp.tolist(), self.fp.tolist(), self.fn.tolist()):
            p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
            rows.append({"precision": p, "recall": r, "f1": _f1(p, r), "support": tp + fn})
        return rows

    def metrics(self) -> dict[str, float]:
        """accuracy is the share of texts whose label set is exactly right (scikit-learn's subset accuracy)."""
        tp, fp, fn = int(self.tp.sum()), int(self.fp.sum()), int(self.fn.sum())
        rows = self.per_class()
        return {
            "accuracy": _ratio(self.exact, self.texts),
            "micro_f1": _f1(_ratio(tp, tp + fp), _ratio(tp, tp + fn)),
            "macro_f1": sum(r["f1"] for r in rows) / max(len(rows), 1),
        }


def class_table(rows: list[dict[str, float]], names: Sequence[str]) -> str:
    """The per-class precision/recall/F1/support table as plain text (scikit-learn's report layout)."""
    width = max(12, *(len(n) for n in names)) + 2
    lines = [f"{'class':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, r in zip(names, rows):
        lines.append(f"{name:<{width}}{r['precision']:>10.3f}{r['recall']:>10.3f}{r['f1']:>10.3f}{int(r['support']):>10,}")
    return "\n".join(lines)


def confusion_text(matrix: Tensor, names: Sequence[str]) -> str:
    """A plain-text confusion matrix (rows true, columns predicted)."""
    first = max(5, *(len(n) for n in names)) + 2
    counts = len(f"{int(matrix.max()) if matrix.numel() else 0:,}")
    width = max(7, counts, min(14, max(len(n) for n in names))) + 2  # long names are cut at 14 characters
    lines = [" " * first + "".join(f"{n[:width - 1]:>{width}}" for n in names) + "  <- predicted"]
    for name, row in zip(names, matrix.tolist()):
        lines.append(f"{name:<{first}}" + "".join(f"{v:>{width},}" for v in row))
    return "\n".join(lines)


def confident_mistakes(probs: Tensor, labels: Tensor, k: int = 5) -> list[int]:
    """Positions of the (at most) ``k`` wrong predictions made with the most confidence.

    # probs (N, C) softmax, labels (N,) long -> up to k positions, most confident first

    >>> confident_mistakes(torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.4, 0.6], [0.99, 0.01]]), torch.tensor([0, 0, 0, 1]), k=2)
    [3, 0]
    """
    confidence, predicted = probs.max(dim=1)
    wrong = predicted != labels
    order = torch.argsort(confidence.masked_fill(~wrong, -1.0), descending=True, stable=True)
    return [int(i) for i in order[: min(k, int(wrong.sum()))]]


def mistakes_text(rows: list[tuple[str, str, str, float]]) -> str:
    """``(text, true label, predicted label, its probability)`` rows as readable lines."""
    if not rows:
        return "no mistakes"
    lines = []
    for n, (text, label, predicted, confidence) in enumerate(rows, start=1):
        text = " ".join(text.split())  # one line per text, however it was laid out
        shown = text if len(text) <= 300 else text[:297] + "..."
        lines.append(f"{n}. predicted {predicted} ({confidence:.1%}), labelled {label}: {shown}")
    return "\n".join(lines)
