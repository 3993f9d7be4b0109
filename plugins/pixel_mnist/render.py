"""TensorBoard images drawn with Pillow: a confusion matrix and a grid of misclassified digits.

Both return uint8 tensors of shape (3, H, W), what
:meth:`seqtk.runtime.loggers.Logger.log_image` takes. No matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image, ImageDraw, ImageFont

CELL = 30  # confusion-matrix cell, pixels
MARGIN = 34  # room for the axis labels
DIGIT_SCALE = 2  # misclassified digits are drawn at 56x56
CAPTION = 14  # caption strip under each digit


def confusion_image(confusion: torch.Tensor, names: Sequence[str] = ()) -> torch.Tensor:
    """(C, C) counts [true, predicted] -> (3, H, W) uint8: a heat map with the counts written in.

    Each row is shaded by its own total (the fraction of that class), so rare
    and common classes read alike; the diagonal is green, mistakes red. Axes
    show class indices; ``names`` other than the indices themselves are listed
    in a legend underneath.
    """
    n = confusion.size(0)
    size = MARGIN + n * CELL + 4
    legend = [f"{i} {name}" for i, name in enumerate(names) if name != str(i)]
    img = Image.new("RGB", (max(size, 240), size + 14 + 12 * len(legend)), "white")
    draw = ImageDraw.Draw(img)
    font = _font()
    draw.text((2, 1), "rows: true class, columns: predicted", fill="black", font=font)
    for i, line in enumerate(legend):
        draw.text((4, size + 12 + 12 * i), line, fill="black", font=font)
    top = MARGIN + 14
    rows = confusion.float() / confusion.sum(dim=1, keepdim=True).clamp(min=1)
    for t in range(n):
        draw.text((MARGIN - 14, top + t * CELL + CELL // 3), str(t), fill="black", font=font)
        draw.text((MARGIN + t * CELL + CELL // 3, top - 14), str(t), fill="black", font=font)
        for p in range(n):
            share = float(rows[t, p])
            fade = int(255 * (1 - share))
            colour = (fade, 255, fade) if t == p else (255, fade, fade)
            box = (MARGIN + p * CELL, top + t * CELL, MARGIN + (p + 1) * CELL - 1, top + (t + 1) * CELL - 1)
            draw.rectangle(box, fill=colour, outline=(200, 200, 200))
            count = int(confusion[t, p])
            if count:
                draw.text((box[0] + 3, box[1] + CELL // 3), str(count), fill="black", font=font)
    return to_chw(img)


def digit_grid(images: Sequence[torch.Tensor], captions: Sequence[str], columns: int = 8, title: str = "") -> torch.Tensor:
    """(28, 28) uint8 images with captions -> (3, H, W) uint8, ``columns`` per row, under ``title``.

    Digits are drawn white on black as the model sees them, twice their size,
    each with its caption (e.g. ``3 / 5``: predicted 3, true 5) below.
    """
    side = 28 * DIGIT_SCALE
    width = max(side, _caption_width(captions)) + 4
    rows = max(1, -(-len(images) // columns))
    head = 16 if title else 0
    img = Image.new("RGB", (columns * width, head + rows * (side + CAPTION + 4)), "white")
    draw = ImageDraw.Draw(img)
    font = _font()
    if title:
        draw.text((2, 2), title, fill="black", font=font)
    for i, (digit, caption) in enumerate(zip(images, captions)):
        x, y = (i % columns) * width + 2, head + (i // columns) * (side + CAPTION + 4) + 2
        tile = Image.fromarray(digit.to(torch.uint8).numpy(), mode="L").resize((side, side), Image.NEAREST)
        img.paste(tile.convert("RGB"), (x + (width - 4 - side) // 2, y))
        draw.text((x, y + side + 1), caption, fill=(200, 0, 0), font=font)
    return to_chw(img)


def to_chw(img: Image.Image) -> torch.Tensor:
    """A PIL RGB image -> (3, H, W) uint8."""
    data = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    return data.view(img.height, img.width, 3).permute(2, 0, 1).contiguous()


def _caption_width(captions: Sequence[str]) -> int:
    font = _font()
    return max((int(font.getlength(c)) for c in captions), default=0)


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default()
