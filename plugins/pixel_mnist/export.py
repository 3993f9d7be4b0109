"""What ``seqtk export`` writes for the image classifier.

The exported model takes images already read as sequences, (B, T, F) float32
in [0, 1] in the recipe's view (28 rows of 28 pixels, 28 columns, or 784
single pixels, after the fixed permutation of permuted pixel-MNIST), and
returns the logits and the softmax ``seqtk predict`` reports. ``view.json``
holds what turns a 28x28 image into that sequence (:mod:`.views`);
``labels.json`` the class names. The README's Python does it with numpy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from seqtk.nn.traceable import WholeEncoder
from seqtk.tasks.task import ExportSpec
from seqtk_plugins.pixel_mnist.views import SIDE, sequence_shape

if TYPE_CHECKING:  # pragma: no cover
    from seqtk_plugins.pixel_mnist.model import PixelClassifier
    from seqtk_plugins.pixel_mnist.task import PixelMnistTask


class ExportedPixelClassifier(nn.Module):
    """:class:`PixelClassifier`'s forward, branch-free, with the probabilities too.

    # x (B, T, F) float in [0, 1] -> logits (B, C), probabilities (B, C)
    """

    def __init__(self, model: PixelClassifier) -> None:
        super().__init__()
        self.encoder, self.head = WholeEncoder(model.encoder), model.head  # dropout: off in eval mode

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logits = self.head(self.encoder(x))  # (B, T, F) -> (B, D*H) final state -> (B, C)
        return logits, torch.softmax(logits, dim=1)


def export_spec(task: PixelMnistTask, model: PixelClassifier) -> ExportSpec:
    """The classifier, the view and class names, and the README's text and code."""
    view = task.recipe.data.view
    steps, features = sequence_shape(view)
    files = {
        "view.json": {
            "view": view,
            "side": SIDE,
            "scale": 255.0,
            "permutation": task.perm.tolist() if task.perm is not None else None,
        },
        "labels.json": {"labels": list(task.class_names)},
    }
    return ExportSpec(
        module=ExportedPixelClassifier(model).eval(),
        example_inputs=(torch.rand(3, steps, features),), check_inputs=(torch.rand(5, steps, features),),
        input_names=("x",), output_names=("logits", "probabilities"), input_axes={"x": {0: "batch"}},
        files=files, signature=_signature(view, steps, features, len(task.class_names)), usage=USAGE,
        model_output=_logits,
    )


def _logits(outputs: tuple[Tensor, ...]) -> Tensor:
    return outputs[0]  # (B, C): what the model's forward returns


def _signature(view: str, steps: int, features: int, classes: int) -> str:
    return f"""\
Inputs: `x` (B, {steps}, {features}) float32: B images of 28x28 pixels read as a sequence of {steps} steps of {features}
(the `{view}` view, `view.json`), each pixel value / 255, in [0, 1]. The model reads no other length.

Outputs:

- `logits` (B, {classes}) float32;
- `probabilities` (B, {classes}) float32: the softmax, column i for `labels.json`'s `labels[i]`.

From an image to `x`, as seqtk does it: a 28x28 grayscale image, white digit on black (MNIST's form; `seqtk predict`
also inverts a light background and frames a larger image, see the task's docs), flattened row by row to 784
values; if `view.json`'s `permutation` is not null, pixel i of the new order is pixel `permutation[i]` of the old;
then `rows`: 28 steps of one row each, `columns`: 28 steps of one column each (top to bottom), `pixels`: 784
steps of one pixel. Divide by `scale` (255)."""


USAGE = '''\
import json

VIEW = json.load(open(f"{FOLDER}/view.json", encoding="utf-8"))
LABELS = json.load(open(f"{FOLDER}/labels.json", encoding="utf-8"))["labels"]


def to_input(images):
    """(B, 28, 28) uint8 images, white on black -> x (B, T, F) float32 in the model's view.
    A file: np.asarray(PIL.Image.open(path).convert("L").resize((28, 28)))[None]."""
    side = VIEW["side"]
    flat = np.asarray(images).reshape(-1, side * side)  # row-major
    if VIEW["permutation"] is not None:
        flat = flat[:, VIEW["permutation"]]
    x = flat.astype(np.float32) / np.float32(VIEW["scale"])
    if VIEW["view"] == "rows":
        return x.reshape(-1, side, side)
    if VIEW["view"] == "columns":
        return np.ascontiguousarray(x.reshape(-1, side, side).transpose(0, 2, 1))
    return x.reshape(-1, side * side, 1)


def classify(images):
    """What `seqtk predict` reports for each image."""
    probabilities = run(x=to_input(images))["probabilities"]
    return [{"label": LABELS[int(p.argmax())], "probabilities": p.tolist()} for p in probabilities]


bar = np.zeros((1, 28, 28), dtype=np.uint8)
bar[0, 4:24, 12:15] = 255  # a vertical stroke, something like a 1
print(classify(bar)[0]["label"])
'''
