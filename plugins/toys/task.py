"""The ``toy_sequences`` task: the lectures' worked examples as one seqtk task.

``data.problem`` picks the example (:mod:`.problems`). The regression problems
train on the first 80% of the lectures' examples and validate on the rest, as
Keras' ``validation_split=0.2`` does; their ``test`` split is the lectures'
own test input, so ``seqtk eval CKPT --split test`` scores it and
``seqtk predict CKPT "50 51 52"`` reproduces the lectures' prediction.
``seqtk export`` writes the network as predict calls it (:mod:`.export`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqtk.data.batches import ResumableLoader, epoch_generator, sequential_batches, shuffled_batches
from seqtk.errors import SeqtkError
from seqtk.tasks.task import ExportSpec, StepOutput, Task
from seqtk_plugins.toys import problems
from seqtk_plugins.toys.config import ToyData, ToyModel
from seqtk_plugins.toys.problems import PROBES, REGRESSION, Examples

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.config.schema import Recipe
    from seqtk.runtime.loggers import Logger
    from seqtk.tasks.evaluation import EvalResult

OUTPUTS = {"one_to_many": 2, "many_to_one": 1, "many_to_many": 3, "binary_addition": 1, "first_bit": 1}


class ToySequencesTask(Task):
    """One-to-many, many-to-one, many-to-many, binary addition and first-bit toy problems."""

    name = "toy_sequences"
    description = "The lectures' worked examples (one-to-many, many-to-one, many-to-many, binary addition, first bit)"
    data_config = ToyData
    model_config = ToyModel
    main_metric = "loss"
    main_metric_mode = "min"

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.problem: str = recipe.data.problem
        self.regression = self.problem in REGRESSION
        self.splits_data: dict[str, Examples] = {}

    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        from seqtk_plugins.toys.checks import check_recipe

        check_recipe(recipe)

    # -- data ------------------------------------------------------------------------
    def load_data(self) -> None:
        """Generate (or take the lectures') examples; the task learns nothing from them (no ``learned``)."""
        cfg = self.recipe.data
        if self.regression:
            examples = problems.lecture_examples(self.problem)
            cut = len(examples) - max(1, round(len(examples) * cfg.val_fraction))  # Keras holds out the end
            self.splits_data = {"train": examples.take(slice(0, cut)), "val": examples.take(slice(cut, None)),
                                "test": problems.probe_examples(self.problem)}
            return
        gen = torch.Generator().manual_seed(self.recipe.train.seed)
        sizes = {"train": cfg.examples, "val": max(1, cfg.examples // 4), "test": max(1, cfg.examples // 4)}
        if self.problem == "binary_addition":
            self.splits_data = problems.addition_splits(sizes, cfg.bits, cfg.delay, gen)  # val/test pairs held out
        else:
            self.splits_data = {k: problems.first_bit(n, cfg.length, gen) for k, n in sizes.items()}

    def train_loader(self) -> ResumableLoader:
        # A batch_size above the number of examples is one full batch per step (the lectures' sets are tiny).
        train, bs, seed = self._split("train"), self.recipe.train.batch_size, self.recipe.train.seed
        def plan(epoch: int) -> list[list[int]]:
            return shuffled_batches(len(train), bs, epoch_generator(seed, epoch))

        return ResumableLoader(plan, lambda idx: _batch(train, idx))

    def eval_batches(self, split: str) -> list[tuple[Tensor, Tensor, Tensor]]:
        data = self._split(split)
        return [_batch(data, idx) for idx in sequential_batches(len(data), self.recipe.train.batch_size)]

    def _split(self, split: str) -> Examples:
        if split not in self.splits_data:
            raise SeqtkError(f"task 'toy_sequences' has no prepared split '{split}'",
                             fix="call prepare() first; the held-out splits are val and test")
        return self.splits_data[split]

    # -- model -------------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        from seqtk_plugins.toys.model import ToyNet

        m = self.recipe.model
        layers = m.stack()
        inputs = 2 if self.problem == "binary_addition" else 1
        model = ToyNet(inputs, layers, OUTPUTS[self.problem], per_step=self.problem == "binary_addition")
        if m.init == "keras":
            model.keras_init_()
        return model

    def step(self, model: nn.Module, batch: Any, *, train: bool) -> StepOutput:
        x, y, w = batch  # (B, T, F), (B, K), (B, K)
        out = model(x)  # (B, T, F) -> (B, K)
        total = w.sum()
        if self.regression:
            err = out - y
            loss = (err.square() * w).sum() / total  # MSE, as the lectures' Keras models
            return StepOutput(loss, len(x), {"mae": float((err.detach().abs() * w).sum() / total)})
        loss = F.binary_cross_entropy_with_logits(out, y, weight=w, reduction="sum") / total
        right = ((out.detach() > 0).float() == y) | (w == 0)
        metrics = {"accuracy": float(((right & (w > 0)).sum()) / total)}
        if self.problem == "binary_addition":
            metrics["sequence_accuracy"] = float(right.all(dim=1).float().mean())  # every sum bit right
        return StepOutput(loss, len(x), metrics)

    # -- reporting -----------------------------------------------------------------------
    def log_eval(self, model: nn.Module, logger: Logger, step: int, result: EvalResult | None = None) -> None:
        """The regression problems: the model's outputs for the lectures' probe input, as scalars."""
        if self.regression:
            outputs = self._probe(model)
            logger.log_scalars(step, {f"probe/output_{i}": v for i, v in enumerate(outputs)})

    def final_report(self, model: nn.Module, device: torch.device, result: EvalResult | None = None) -> str | None:
        """The regression problems: the probe's prediction beside the expected one and the lectures'."""
        if not self.regression:
            return None
        probe = PROBES[self.problem]
        got, lectures = (", ".join(f"{v:.2f}" for v in values) for values in (self._probe(model), probe.lectures))
        return (f"{self.problem}: input {list(probe.inputs)} -> [{got}] (expected {list(probe.expected)}; "
                f"the lectures' model predicted [{lectures}])")

    def _probe(self, model: nn.Module) -> list[float]:
        device = next(model.parameters()).device
        x = problems.as_input(self.problem, list(PROBES[self.problem].inputs)).to(device)
        with torch.no_grad():
            return model(x)[0].tolist()

    def export_spec(self, model: nn.Module) -> ExportSpec:
        """The network as predict calls it (steps in; numbers, or logits and probabilities, out) and the problem."""
        from seqtk_plugins.toys.export import export_spec

        return export_spec(self, model)

    # -- inference -------------------------------------------------------------------------
    def predict(self, model: nn.Module, inputs: list[str], device: torch.device) -> list[dict[str, Any]]:
        """Regression: numbers ("50 51 52"); binary_addition: "13+6"; first_bit: a bit string."""
        return [self._predict_one(model, text, device) for text in inputs]

    def _predict_one(self, model: nn.Module, text: str, device: torch.device) -> dict[str, Any]:
        if self.problem == "binary_addition":
            return self._predict_sum(model, text, device)
        if self.problem == "first_bit":
            if not text or set(text) - {"0", "1"}:
                raise SeqtkError(f"'{text}' is not a bit string", fix="pass a string of 0s and 1s, e.g. 1001011")
            x = (2.0 * torch.tensor([[float(c) for c in text]]) - 1.0).unsqueeze(-1).to(device)
            with torch.no_grad():
                p = float(torch.sigmoid(model(x))[0, 0])
            return {"input": text, "output": [p], "first_bit": int(p > 0.5)}
        values = _numbers(text, problems.input_steps(self.problem), self.problem)
        with torch.no_grad():
            out = model(problems.as_input(self.problem, values).to(device))[0].tolist()
        return {"input": values, "output": out}

    def _predict_sum(self, model: nn.Module, text: str, device: torch.device) -> dict[str, Any]:
        cfg = self.recipe.data
        match = re.fullmatch(r"\s*(\d+)\s*\+\s*(\d+)\s*", text)
        if not match or max(int(match[1]), int(match[2])) >= 2**cfg.bits:
            raise SeqtkError(f"'{text}' is not an addition of two {cfg.bits}-bit numbers",
                             fix=f"pass e.g. \"13+6\" with both numbers below {2**cfg.bits}")
        a, b = torch.tensor([int(match[1])]), torch.tensor([int(match[2])])
        x = problems.addition_examples(a, b, cfg.bits, cfg.delay).x.to(device)
        with torch.no_grad():
            bits = (model(x)[0, cfg.delay :] > 0).long().cpu()  # (T,) -> the bits+1 sum bits, least significant first
        total = problems.decode_bits(bits)
        return {"input": text, "output": [total], "bits": "".join(str(int(v)) for v in bits.flip(0)), "expected": int(a + b)}


def _batch(data: Examples, idx: list[int]) -> tuple[Tensor, Tensor, Tensor]:
    part = data.take(idx)
    return part.x, part.y, part.w


def _numbers(text: str, count: int, problem: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(",", " ").split()]
    except ValueError:
        values = []
    if len(values) != count:
        example = "10" if count == 1 else "50 51 52"
        raise SeqtkError(f"{problem} takes {count} number(s) per input, got '{text}'", fix=f'pass e.g. "{example}"')
    return values
