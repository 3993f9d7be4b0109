"""Images given to ``seqtk.load(...).predict`` as objects rather than files: tensors, numpy arrays, PIL images.

- A **PIL image**, of any mode and size, is converted as an image file is (:mod:`.imagefile`: grayscale,
  transparency flattened, a light background inverted, other sizes framed like MNIST).
- A **torch tensor or numpy array** is taken as the model's input, as MNIST holds it: 28x28 pixels, a white
  digit on black, nothing inverted or framed. Its shape is (28, 28) or (1, 28, 28) for one image, (N, 28, 28)
  or (N, 1, 28, 28) for a batch of N. Its pixels are uint8 in 0..255, or floats in 0..1 (what torchvision's
  ``ToTensor`` gives), rounded to MNIST's 256 levels. Any other dtype is refused rather than guessed: an
  int64 tensor of 0s and 1s could be either scale, and floats above 1 are a 0..255 image or a normalised one.

A path, as ``seqtk predict`` passes it, is still read by :func:`.imagefile.read_digit`.
"""

from __future__ import annotations

from typing import Any

import torch

from seqtk.errors import SeqtkError
from seqtk.tasks.predict_inputs import as_tensor, is_array
from seqtk_plugins.pixel_mnist.views import SIDE  # PIL is imported when an image is read, not with the task

#: for PixelMnistTask.predict_takes and the errors below
TAKES = ("a 28x28 image as a torch tensor or numpy array (uint8 0..255 or float 0..1; N x 28 x 28 for a batch) "
         "or as a PIL image")  # fmt: skip
EXAMPLE = '["digit.png", torch.zeros(28, 28, dtype=torch.uint8), PIL.Image.open("digit.jpg")]'


def image_items(value: Any) -> list[torch.Tensor] | None:
    """The (28, 28) uint8 images ``value`` holds (one for an image, N for a batch); None when it is no image."""
    from PIL import Image

    from seqtk_plugins.pixel_mnist.imagefile import from_image

    if isinstance(value, Image.Image):
        return [from_image(value)]
    tensor = as_tensor(value)
    if tensor is None:
        return None
    return list(pixels(batch_of(tensor, value)))


def read_input(item: str | torch.Tensor) -> torch.Tensor:
    """One input of predict() as a (28, 28) uint8 image: a path is read as an image file."""
    from seqtk_plugins.pixel_mnist.imagefile import read_digit

    return read_digit(item) if isinstance(item, str) else item


def batch_of(tensor: torch.Tensor, value: Any) -> torch.Tensor:
    """A tensor of one of the accepted shapes -> (N, 28, 28); any other shape is refused."""
    image = (SIDE, SIDE)
    if tuple(tensor.shape) == image:
        return tensor.unsqueeze(0)
    if tensor.dim() == 3 and tuple(tensor.shape[1:]) == image:
        return tensor  # (N, 28, 28), or (1, 28, 28): one image with its channel, a batch of one alike
    if tensor.dim() == 4 and tensor.size(1) == 1 and tuple(tensor.shape[2:]) == image:
        return tensor.squeeze(1)
    raise SeqtkError(
        f"task 'pixel_mnist' reads 28x28 images: a {kind(value)} of shape (28, 28) or (1, 28, 28) for one, "
        f"(N, 28, 28) or (N, 1, 28, 28) for a batch; this one's shape is {tuple(tensor.shape)}",
        fix="pass an image of another size or with colour channels as a PIL image (PIL.Image.fromarray(array)), "
        "which is converted as an image file is: grayscale, framed in 28x28 like MNIST",
    )


def pixels(images: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) uint8 in 0..255 or float in 0..1 -> (N, 28, 28) uint8; other dtypes and ranges refused."""
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise SeqtkError(
            f"task 'pixel_mnist' reads pixels as uint8 (0..255) or as floats (0..1), and these are {images.dtype}, "
            "whose scale it cannot tell",
            fix="convert them: .to(torch.uint8) for values in 0..255 (numpy: .astype('uint8')), or .float() / 255",
        )
    low, high = (float(v) for v in images.float().aminmax()) if images.numel() else (0.0, 0.0)
    if not (0.0 <= low and high <= 1.0):  # NaN fails both
        raise SeqtkError(
            f"task 'pixel_mnist' reads float pixels in 0..1, and these run from {low:g} to {high:g}",
            fix="divide a 0..255 image by 255, undo any normalisation (MNIST's: x * 0.3081 + 0.1307), or pass "
            "uint8 pixels in 0..255",
        )
    return images.float().mul(255).round().to(torch.uint8)


def kind(value: Any) -> str:
    return "torch tensor" if isinstance(value, torch.Tensor) else "numpy array" if is_array(value) else "value"
