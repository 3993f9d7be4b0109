"""Binary classification metrics from counts, the confusion-matrix image, and the worst mistakes.

Precision, recall and F1 are not means of per-batch values, so evaluation
accumulates one :class:`Confusion` (TP, FP, TN, FN) over the whole split and
derives them at the end. Positive is class 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Confusion:
    """Counts of a binary classifier's outcomes.

    >>> c = Confusion(tp=3, fp=1, tn=4, fn=2)
    >>> c.accuracy, c.precision, c.recall, round(c.f1, 4)
    (0.7, 0.75, 0.6, 0.6667)
    """

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    def add(self, predicted: Tensor, target: Tensor) -> None:
        """Count a batch: ``predicted`` and ``target`` are (B,) bool (True: positive)."""
        self.tp += int((predicted & target).sum())
        self.fp += int((predicted & ~target).sum())
        self.tn += int((~predicted & ~target).sum())
        self.fn += int((~predicted & target).sum())

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.total if self.total else 0.0

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 0 when nothing was predicted positive."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 0 when there are no positives."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def metrics(self) -> dict[str, float]:
        return {"accuracy": self.accuracy, "precision": self.precision, "recall": self.recall, "f1": self.f1}

    def rows(self) -> list[list[int]]:
        """[[TN, FP], [FN, TP]]: rows are true classes, columns predicted (negative first)."""
        return [[self.tn, self.fp], [self.fn, self.tp]]

    def text(self, names: Sequence[str]) -> str:
        """A small plain-text table."""
        width = max(len(n) for n in names) + 6
        lines = [" " * width + "".join(f"{'pred ' + n:>{width}}" for n in names)]
        for name, row in zip(names, self.rows()):
            lines.append(f"{'true ' + name:<{width}}" + "".join(f"{v:>{width},}" for v in row))
        return "\n".join(lines)


def confusion_image(conf: Confusion, names: Sequence[str], title: str = "") -> Tensor:
    """Render the confusion matrix as a uint8 (3, H, W) image for TensorBoard.

    Each cell shows its count and its share of the true class (the row), and is
    shaded by that share: white 0%, dark blue 100%.
    """
    from PIL import Image, ImageDraw

    cell, left, top = 130, 130, 60 if title else 40
    image = Image.new("RGB", (left + 2 * cell + 10, top + 2 * cell + 10), "white")
    draw = ImageDraw.Draw(image)
    font, small = _font(15), _font(13)
    if title:
        draw.text((10, 8), title, fill="black", font=small)
    for c, name in enumerate(names):
        _centered(draw, (left + c * cell + cell // 2, top - 14), f"pred {name}", small, "black")
        _centered(draw, (left // 2, top + c * cell + cell // 2), f"true {name}", small, "black")
    for r, row in enumerate(conf.rows()):
        total = max(sum(row), 1)
        for c, count in enumerate(row):
            share = count / total
            shade = tuple(int(255 - share * (255 - v)) for v in (8, 48, 107))  # white -> dark blue
            box = (left + c * cell, top + r * cell, left + (c + 1) * cell - 2, top + (r + 1) * cell - 2)
            draw.rectangle(box, fill=shade)
            ink = "white" if share > 0.5 else "black"
            middle = (left + c * cell + cell // 2, top + r * cell + cell // 2)
            _centered(draw, (middle[0], middle[1] - 10), f"{count:,}", font, ink)
            _centered(draw, (middle[0], middle[1] + 10), f"{share:.1%}", small, ink)
    pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    return pixels.view(image.height, image.width, 3).permute(2, 0, 1).contiguous()  # (H, W, 3) -> (3, H, W)


def _font(size: int):  # noqa: ANN202 (a PIL font)
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def _centered(draw, xy: tuple[int, int], text: str, font, fill: str) -> None:  # noqa: ANN001 (PIL objects)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text((xy[0] - (right - left) // 2, xy[1] - (bottom - top) // 2 - top), text, fill=fill, font=font)


def confident_mistakes(probs: Tensor, labels: Tensor, k: int = 5) -> list[int]:
    """Positions of the (at most) ``k`` wrong predictions made with the most confidence.

    # probs (N,) P(positive), labels (N,) 0/1 -> up to k positions, most confident first

    >>> confident_mistakes(torch.tensor([0.9, 0.2, 0.6, 0.01]), torch.tensor([0.0, 0.0, 0.0, 1.0]), k=2)
    [3, 0]
    """
    wrong = (probs >= 0.5) != labels.bool()
    confidence = torch.where(probs >= 0.5, probs, 1 - probs)  # of the predicted label
    order = torch.argsort(confidence.masked_fill(~wrong, -1.0), descending=True, stable=True)
    return [int(i) for i in order[: min(k, int(wrong.sum()))]]


def mistakes_text(rows: list[tuple[str, int, float]], names: Sequence[str]) -> str:
    """``(text, true label, P(positive))`` rows as readable lines."""
    if not rows:
        return "no mistakes"
    lines = []
    for n, (text, label, prob) in enumerate(rows, start=1):
        predicted = int(prob >= 0.5)
        confidence = prob if predicted else 1 - prob
        shown = text if len(text) <= 300 else text[:297] + "..."
        lines.append(f"{n}. predicted {names[predicted]} ({confidence:.1%}), labelled {names[label]}: {shown}")
    return "\n".join(lines)
