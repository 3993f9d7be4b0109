"""Training-time augmentation: random translations of whole images.

MNIST digits are centred by their centre of mass in the 28x28 frame, so a
digit moved by a pixel or two is still a plausible digit; showing the model
such copies is the classic cheap regulariser for small training sets
(``data.augment_shift``). Each batch draws its shifts from a generator
seeded by the batch plan (:func:`batch_seeds`), so a resumed run sees exactly
the same shifted images as an uninterrupted one. Evaluation never shifts.
"""

from __future__ import annotations

import torch


def batch_seeds(count: int, generator: torch.Generator) -> list[int]:
    """One seed per batch of an epoch, drawn from the epoch's generator."""
    return torch.randint(0, 2**62, (count,), generator=generator).tolist()


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Move each (28, 28) image by dx, dy in [-max_shift, max_shift]; uncovered pixels are 0.

    (B, H, W) -> (B, H, W), same dtype. ``max_shift = 0`` returns the input.

    >>> img = torch.zeros(1, 5, 5, dtype=torch.uint8); img[0, 2, 2] = 255
    >>> moved = random_shift(img, 2, torch.Generator().manual_seed(0))
    >>> int(moved.sum()) == 255  # the one bright pixel moved but stayed inside
    True
    """
    if max_shift <= 0:
        return images
    batch, height, width = images.shape
    padded = torch.nn.functional.pad(images, (max_shift, max_shift, max_shift, max_shift))  # (B, H+2s, W+2s)
    offsets = torch.randint(0, 2 * max_shift + 1, (2, batch), generator=generator)  # top-left corner of the crop
    rows = offsets[0, :, None] + torch.arange(height)  # (B, H)
    cols = offsets[1, :, None] + torch.arange(width)  # (B, W)
    which = torch.arange(batch)[:, None, None]
    return padded[which, rows[:, :, None], cols[:, None, :]]  # (B, H, W)
