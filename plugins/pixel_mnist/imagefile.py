"""Reading an image file as an MNIST-style digit for ``seqtk predict``.

What the model expects is what MNIST holds: a **white digit on a black
background**, 28x28 grayscale, the digit about 20x20 pixels and centred by
its centre of mass. Any image Pillow reads (PNG, JPEG, BMP, ...) is accepted
and brought to that form:

1. colour is converted to grayscale; transparent pixels are laid on a
   background that contrasts with the opaque ones (a digit drawn on a
   transparent canvas works);
2. a light background is detected and inverted: when the median of the
   border pixels is above mid-grey (a dark digit on white paper), every
   pixel becomes 255 - value;
3. a 28x28 image is used as it is; any other size is cropped to the digit's
   bounding box, scaled so its longer side is 20 pixels and pasted into a
   28x28 black frame centred on its centre of mass, as MNIST was made.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from seqtk.errors import SeqtkError

SIDE = 28
BOX = 20  # MNIST fits each digit into 20x20 before centring it in 28x28
INK = 0.2  # a pixel brighter than 20% of the brightest one is part of the digit


def read_digit(path: str | Path) -> torch.Tensor:
    """The image at ``path`` as a (28, 28) uint8 tensor, white digit on black."""
    return _pixels(to_mnist(open_gray(Path(path)))).clone()


def from_image(img: Image.Image) -> torch.Tensor:
    """A PIL image of any mode and size as a (28, 28) uint8 tensor, converted as an image file is."""
    return _pixels(to_mnist(flatten_alpha(img))).clone()


def open_gray(path: Path) -> Image.Image:
    """Open ``path`` as an 8-bit grayscale image, or raise a clear :class:`SeqtkError`."""
    if not path.exists():
        raise SeqtkError(f"the image file '{path}' does not exist", fix="pass the path of a PNG or JPEG image of one digit")
    if not path.is_file():
        raise SeqtkError(f"'{path}' is not a file", fix="pass the path of a PNG or JPEG image of one digit")
    try:
        with Image.open(path) as img:
            img.load()
            return flatten_alpha(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise SeqtkError(
            f"'{path}' is not an image Pillow can read ({type(exc).__name__}: {exc})",
            fix="pass a PNG or JPEG image of one digit (28x28 grayscale, white on black, like MNIST)",
        ) from None


def flatten_alpha(img: Image.Image) -> Image.Image:
    """Grayscale ("L"); transparent areas take the shade opposite to the opaque pixels' mean."""
    if img.mode not in ("RGBA", "LA", "PA") and not (img.mode == "P" and "transparency" in img.info):
        return img.convert("L")
    rgba = img.convert("RGBA")
    alpha = rgba.getchannel("A")
    gray = rgba.convert("L")
    shades, opacity = _pixels(gray), _pixels(alpha)
    opaque = shades[opacity > 127]
    dark_ink = not opaque.numel() or float(opaque.float().mean()) < 128
    background = Image.new("L", img.size, 255 if dark_ink else 0)
    return Image.composite(gray, background, alpha)


def to_mnist(gray: Image.Image) -> Image.Image:
    """An "L" image -> 28x28 "L", white on black, framed like MNIST (see the module docstring)."""
    if is_light_background(gray):
        gray = ImageOps.invert(gray)
    if gray.size == (SIDE, SIDE):
        return gray
    return frame_digit(gray)


def is_light_background(gray: Image.Image) -> bool:
    """True when the median border pixel is above mid-grey (dark ink on light paper)."""
    px = _pixels(gray)
    border = torch.cat([px[0], px[-1], px[:, 0], px[:, -1]])
    return float(border.float().median()) > 127


def frame_digit(gray: Image.Image) -> Image.Image:
    """Crop to the ink, fit into 20x20 keeping the aspect ratio, centre by mass in 28x28."""
    peak = gray.getextrema()[1]
    if peak == 0:
        return gray.resize((SIDE, SIDE), Image.BILINEAR)  # blank: nothing to centre
    mask = gray.point(lambda v: 255 if v > INK * peak else 0)
    digit = gray.crop(mask.getbbox())
    scale = BOX / max(digit.size)
    size = (max(1, round(digit.width * scale)), max(1, round(digit.height * scale)))
    digit = digit.resize(size, Image.LANCZOS)
    cx, cy = _centre_of_mass(digit)
    left = min(max(round(SIDE / 2 - cx), 0), SIDE - size[0])
    top = min(max(round(SIDE / 2 - cy), 0), SIDE - size[1])
    frame = Image.new("L", (SIDE, SIDE), 0)
    frame.paste(digit, (left, top))
    return frame


def _pixels(img: Image.Image) -> torch.Tensor:
    """An "L" image -> (H, W) uint8."""
    return torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(img.height, img.width)


def _centre_of_mass(img: Image.Image) -> tuple[float, float]:
    values = _pixels(img).float()
    total = float(values.sum())
    if total == 0:
        return img.width / 2, img.height / 2
    ys = torch.arange(img.height, dtype=torch.float32) + 0.5
    xs = torch.arange(img.width, dtype=torch.float32) + 0.5
    return float((values.sum(0) * xs).sum()) / total, float((values.sum(1) * ys).sum()) / total
