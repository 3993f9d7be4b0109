"""Evaluation over a whole split: loss, accuracy, per-class accuracy, and the digits it got wrong.

A confusion matrix is accumulated batch by batch (rows: true class, columns:
predicted class); accuracy and per-class accuracy (recall) are read off it at
the end. The first few misclassified images are kept for the TensorBoard grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.nn import functional as F

from seqtk.errors import SeqtkError
from seqtk.tasks.task import StepOutput

MAX_WRONG = 32  # misclassified images kept for the grid


@dataclass
class EvalRecord:
    """What one pass over a split accumulated."""

    split: str
    num_classes: int
    images: Tensor | None = None  # (N, 28, 28) uint8: the split's images, for the misclassified grid
    confusion: Tensor = field(init=False)  # (C, C) int64: [true, predicted]
    loss_sum: float = 0.0
    wrong_images: list[Tensor] = field(default_factory=list)  # each (28, 28) uint8
    wrong_pred: list[int] = field(default_factory=list)
    wrong_true: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.confusion = torch.zeros(self.num_classes, self.num_classes, dtype=torch.long)

    @property
    def count(self) -> int:
        return int(self.confusion.sum())

    def add(self, batch: tuple[Tensor, Tensor, Tensor], out: StepOutput) -> None:
        """The evaluation reducer's hook (seqtk.tasks.evaluation): an eval batch (x, y, index) and its step."""
        _, labels, index = batch
        assert self.images is not None, "EvalRecord.add needs the split's images"
        if "logits" not in out.outputs:
            raise SeqtkError(
                "the pixel_mnist task's step() returned no outputs['logits'], which its confusion matrix needs",
                fix="return StepOutput(..., outputs={'logits': logits.detach()}) from an overriding step(), "
                "as PixelMnistTask.step does",
            )
        self.add_logits(out.outputs["logits"], labels, self.images[index.cpu()])

    def add_logits(self, logits: Tensor, labels: Tensor, images: Tensor) -> None:
        """Add one batch: logits (B, C), labels (B,), the uint8 images (B, 28, 28) they came from."""
        logits, labels = logits.detach().float().cpu(), labels.cpu()
        self.loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
        pred = logits.argmax(dim=1)  # (B,)
        pairs = labels * self.num_classes + pred  # (B,) flat [true, predicted] cells
        self.confusion += torch.bincount(pairs, minlength=self.num_classes**2).view(self.num_classes, -1)
        for i in (pred != labels).nonzero().flatten().tolist():
            if len(self.wrong_images) >= MAX_WRONG:
                break
            self.wrong_images.append(images[i].cpu())
            self.wrong_pred.append(int(pred[i]))
            self.wrong_true.append(int(labels[i]))

    def metrics(self) -> dict[str, float]:
        """``loss``, ``accuracy`` and ``accuracy_<c>`` for each class present in the split."""
        out = {"loss": self.loss_sum / self.count, "accuracy": float(self.confusion.diag().sum()) / self.count}
        for cls, row in enumerate(self.confusion):
            if int(row.sum()):
                out[f"accuracy_{cls}"] = float(row[cls]) / float(row.sum())
        return out

    def most_confused(self) -> tuple[int, int, int] | None:
        """(true, predicted, count) of the largest off-diagonal cell; None if nothing is wrong."""
        off = self.confusion.clone()
        off.fill_diagonal_(0)
        if int(off.max()) == 0:
            return None
        flat = int(off.argmax())
        return flat // self.num_classes, flat % self.num_classes, int(off.max())
