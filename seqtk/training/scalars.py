"""The training scalars a run logs: loss and metrics summed between two log lines, weighted by each
step's ``StepOutput.count``, with the learning rate, gradient norm and throughput."""

from __future__ import annotations

import time

from seqtk.tasks.step import StepOutput
class ScalarWindow:
    """Training scalars summed between two log lines (weighted by StepOutput.count)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.weight = self.count = self.steps = 0
        self.norm = 0.0
        self.start = time.perf_counter()

    def add(self, loss: float, out: StepOutput, norm: float) -> None:
        weight = max(out.count, 1)
        for key, value in {"loss": loss, **out.metrics}.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value) * weight
        self.weight += weight
        self.count += out.count
        self.steps += 1
        self.norm += norm

    def scalars(self, lr: float) -> dict[str, float]:
        seconds = max(time.perf_counter() - self.start, 1e-9)
        values = {f"train/{k}": v / self.weight for k, v in self.sums.items()}
        return values | {"train/lr": lr, "train/grad_norm": self.norm / self.steps, "train/throughput": self.count / seconds}
