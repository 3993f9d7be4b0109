"""Sequence views of a 28x28 image: what one time step of the RNN sees.

=========  =====  ========  ==========================================
view       steps  features  step t holds
=========  =====  ========  ==========================================
rows       28     28        row t, left to right (the lectures' view)
columns    28     28        column t, top to bottom
pixels     784    1         pixel t in row-major (raster) order
=========  =====  ========  ==========================================

With a permutation (``data.permute``), the 784 pixel positions are first
shuffled by one fixed permutation drawn from ``data.permute_seed`` (the
permuted pixel-MNIST benchmark); the view is then taken of the shuffled image.

Pixels are scaled from 0..255 to [0, 1] (value / 255); no mean or variance
normalisation, so an IRNN's ReLU state starts from non-negative inputs.
"""

from __future__ import annotations

import torch

SIDE = 28
VIEWS = ("rows", "columns", "pixels")


def sequence_shape(view: str) -> tuple[int, int]:
    """(steps, features) of ``view``.

    >>> sequence_shape("rows"), sequence_shape("pixels")
    ((28, 28), (784, 1))
    """
    if view in ("rows", "columns"):
        return SIDE, SIDE
    if view == "pixels":
        return SIDE * SIDE, 1
    raise ValueError(f"unknown view {view!r}; use one of {', '.join(VIEWS)}")


def permutation(seed: int) -> torch.Tensor:
    """The fixed permutation of the 784 pixel positions for ``seed``: (784,) int64."""
    return torch.randperm(SIDE * SIDE, generator=torch.Generator().manual_seed(seed))


def to_sequences(images: torch.Tensor, view: str, perm: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 28, 28) uint8 images -> (B, T, F) float32 sequences in [0, 1].

    >>> img = torch.arange(784).reshape(1, 28, 28) % 256
    >>> to_sequences(img.to(torch.uint8), "columns")[0, 1, :3].mul(255).tolist()
    [1.0, 29.0, 57.0]
    """
    flat = images.reshape(images.size(0), SIDE * SIDE)  # (B, 784), row-major
    if perm is not None:
        flat = flat[:, perm.to(flat.device)]  # (B, 784), positions shuffled
    x = flat.to(torch.float32).div_(255.0)
    if view == "rows":
        return x.view(-1, SIDE, SIDE)  # (B, 28 rows, 28 pixels)
    if view == "columns":
        return x.view(-1, SIDE, SIDE).transpose(1, 2).contiguous()  # (B, 28 columns, 28 pixels)
    if view == "pixels":
        return x.unsqueeze(-1)  # (B, 784, 1)
    raise ValueError(f"unknown view {view!r}; use one of {', '.join(VIEWS)}")
