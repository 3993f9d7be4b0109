"""Small line plots drawn with PIL, for TensorBoard images and PNG files.

seqtk draws its few plots itself (forecast against truth, gradient norms
through time) rather than depend on matplotlib: a line plot with axes, tick
labels, an optional log-scale y axis and a legend is all they need.

>>> image = line_plot({"a": [1.0, 2.0, 4.0]}, title="demo", log_y=True)
>>> image.size, image_tensor(image).shape
((640, 400), torch.Size([3, 400, 640]))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image, ImageDraw, ImageFont

# Colour-blind-friendly (Okabe-Ito) line colours, in order.
COLOURS = [(0, 114, 178), (213, 94, 0), (0, 158, 115), (204, 121, 167), (230, 159, 0), (86, 180, 233), (0, 0, 0)]
MARGIN = (70, 46, 20, 44)  # left, top, right, bottom (pixels)


def line_plot(
    series: Mapping[str, Sequence[float]],
    *,
    x: Sequence[float] | None = None,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    log_y: bool = False,
    size: tuple[int, int] = (640, 400),
) -> Image.Image:
    """Draw each named series as a line over ``x`` (default 0, 1, ...); return an RGB image.

    Non-finite values (and non-positive ones on a log axis) leave gaps.
    """
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = _font()
    longest = max((len(v) for v in series.values()), default=0)
    xs = [float(v) for v in x] if x is not None else [float(i) for i in range(longest)]
    ys = [_transform(v, log_y) for values in series.values() for v in values]
    ys = [v for v in ys if v is not None]
    x_range = _padded_range(xs or [0.0, 1.0], pad=0.0)
    y_range = _padded_range(ys or [0.0, 1.0], pad=0.05)
    box = (MARGIN[0], MARGIN[1], size[0] - MARGIN[2], size[1] - MARGIN[3])
    _axes(draw, font, box, x_range, y_range, log_y)
    points: list[tuple[float, float]] = []
    for colour, values in zip(_cycle(len(series)), series.values()):
        points += _line(draw, box, x_range, y_range, xs, [_transform(v, log_y) for v in values], colour)
    _legend(draw, font, box, list(series), _cycle(len(series)), points)
    draw.text((size[0] // 2, 12), title, fill="black", font=font, anchor="mm")
    draw.text(((box[0] + box[2]) // 2, size[1] - 16), xlabel, fill="black", font=font, anchor="mm")
    draw.text((6, box[1] - 8), ylabel, fill="black", font=font, anchor="lb")
    return image


def image_tensor(image: Image.Image) -> torch.Tensor:
    """An RGB PIL image as the uint8 (3, H, W) tensor :meth:`Logger.log_image` takes."""
    data = torch.frombuffer(bytearray(image.convert("RGB").tobytes()), dtype=torch.uint8)
    return data.view(image.height, image.width, 3).permute(2, 0, 1).contiguous()


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=13)  # Pillow >= 10.1 with FreeType
    except TypeError:  # pragma: no cover - older Pillow: the small bitmap font
        return ImageFont.load_default()


def _cycle(n: int) -> list[tuple[int, int, int]]:
    return [COLOURS[i % len(COLOURS)] for i in range(n)]


def _transform(value: float, log_y: bool) -> float | None:
    value = float(value)
    if not math.isfinite(value) or (log_y and value <= 0):
        return None
    return math.log10(value) if log_y else value


def _padded_range(values: Sequence[float], pad: float) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high - low < 1e-12:
        low, high = low - 1.0, high + 1.0
    margin = (high - low) * pad
    return low - margin, high + margin


def _to_pixel(box: tuple[int, int, int, int], x_range: tuple[float, float], y_range: tuple[float, float],
              x: float, y: float) -> tuple[float, float]:
    px = box[0] + (x - x_range[0]) / (x_range[1] - x_range[0]) * (box[2] - box[0])
    py = box[3] - (y - y_range[0]) / (y_range[1] - y_range[0]) * (box[3] - box[1])
    return px, py


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) inside [low, high]."""
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10) if m * power >= raw), default=power * 10)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step) + 1)]


def _label(value: float, log_y: bool) -> str:
    if log_y:
        return f"1e{value:.0f}" if value == int(value) else ""
    return f"{value:.4g}"


def _axes(draw: ImageDraw.ImageDraw, font: object, box: tuple[int, int, int, int],
          x_range: tuple[float, float], y_range: tuple[float, float], log_y: bool) -> None:
    draw.rectangle(box, outline="black")
    y_ticks = _ticks(*y_range)
    if log_y and y_range[1] - y_range[0] >= 2:  # whole decades only, at most ~8 of them
        step = max(1, math.ceil((y_range[1] - y_range[0]) / 8))
        y_ticks = [float(v) for v in range(math.ceil(y_range[0]), math.floor(y_range[1]) + 1) if v % step == 0]
    for y in y_ticks:
        _, py = _to_pixel(box, x_range, y_range, x_range[0], y)
        draw.line([(box[0], py), (box[2], py)], fill=(225, 225, 225))
        draw.text((box[0] - 6, py), _label(y, log_y) or f"{10 ** y:.2g}", fill="black", font=font, anchor="rm")
    for x in _ticks(*x_range):
        px, _ = _to_pixel(box, x_range, y_range, x, y_range[0])
        draw.line([(px, box[3]), (px, box[3] + 4)], fill="black")
        draw.text((px, box[3] + 6), f"{x:.4g}", fill="black", font=font, anchor="mt")


def _line(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], x_range: tuple[float, float],
          y_range: tuple[float, float], xs: Sequence[float], ys: Sequence[float | None],
          colour: tuple[int, int, int]) -> list[tuple[float, float]]:
    run: list[tuple[float, float]] = []
    drawn: list[tuple[float, float]] = []
    for x, y in zip(xs, ys):
        if y is None:  # a gap: draw what we have and start a new run
            _flush(draw, run, colour)
            drawn += run
            run = []
            continue
        run.append(_to_pixel(box, x_range, y_range, x, y))
    _flush(draw, run, colour)
    return drawn + run


def _flush(draw: ImageDraw.ImageDraw, points: list[tuple[float, float]], colour: tuple[int, int, int]) -> None:
    if len(points) > 1:
        draw.line(points, fill=colour, width=2)
    elif points:
        x, y = points[0]
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)


def _legend(draw: ImageDraw.ImageDraw, font: object, box: tuple[int, int, int, int], names: list[str],
            colours: list[tuple[int, int, int]], points: list[tuple[float, float]]) -> None:
    if not names:
        return
    width = max(int(draw.textlength(name, font=font)) for name in names) + 34  # type: ignore[arg-type]
    height = 18 * len(names) + 6
    corners = [(box[2] - width - 8, box[1] + 8), (box[0] + 8, box[1] + 8),
               (box[2] - width - 8, box[3] - height - 8), (box[0] + 8, box[3] - height - 8)]

    def covered(corner: tuple[float, float]) -> int:  # the corner hiding the fewest data points wins
        return sum(corner[0] <= x <= corner[0] + width and corner[1] <= y <= corner[1] + height for x, y in points)

    left, top = min(corners, key=covered)
    draw.rectangle([left, top, left + width, top + height], fill="white", outline=(160, 160, 160))
    for i, (name, colour) in enumerate(zip(names, colours)):
        y = top + 12 + 18 * i
        draw.line([(left + 6, y), (left + 24, y)], fill=colour, width=3)
        draw.text((left + 30, y), name, fill="black", font=font, anchor="lm")


def heatmap(
    shades: torch.Tensor,
    rows: Sequence[str],
    columns: Sequence[str],
    *,
    labels: Sequence[Sequence[str]] | None = None,
    title: str = "",
    cell: int = 0,
) -> Image.Image:
    """A grid of cells shaded by ``shades`` (R, C) in [0, 1] (white to dark blue), with row and column names.

    ``labels[r][c]`` is written in each cell when given (and the cells are big
    enough). A confusion matrix and an attention map are both drawn with it.

    >>> heatmap(torch.tensor([[1.0, 0.0], [0.25, 0.75]]), ["a", "b"], ["x", "y"], title="demo").size
    (209, 225)
    """
    from PIL import Image, ImageDraw

    n_rows, n_cols = shades.shape
    cell = cell or max(12, min(90, 720 // max(n_rows, n_cols)))
    font = _font()
    left = 12 + 7 * max((len(r) for r in rows), default=1)
    top = (28 if title else 8) + 7 * max((len(c) for c in columns), default=1)
    image = Image.new("RGB", (left + n_cols * cell + 10, top + n_rows * cell + 10), "white")
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((8, 6), title, fill="black", font=font)
    for c, name in enumerate(columns):  # column names written upwards would need rotation; keep them short
        _vertical(image, (left + c * cell + cell // 2 - 5, top - 4), name, font)
    for r, name in enumerate(rows):
        draw.text((6, top + r * cell + cell // 2 - 6), name, fill="black", font=font)
        for c in range(n_cols):
            share = float(shades[r, c].clamp(0, 1))
            fill = tuple(int(255 - share * (255 - v)) for v in (8, 48, 107))
            box = (left + c * cell, top + r * cell, left + (c + 1) * cell - 1, top + (r + 1) * cell - 1)
            draw.rectangle(box, fill=fill)
            if labels is not None and cell >= 28:
                text = str(labels[r][c])
                draw.text((box[0] + 3, box[1] + cell // 2 - 6), text, fill="white" if share > 0.5 else "black", font=font)
    return image


def _vertical(image: Image.Image, bottom_left: tuple[int, int], text: str, font: object) -> None:
    """Write ``text`` rotated 90 degrees, its end at ``bottom_left``."""
    from PIL import Image, ImageDraw

    strip = Image.new("RGB", (7 * len(text) + 4, 14), "white")
    ImageDraw.Draw(strip).text((2, 1), text, fill="black", font=font)
    rotated = strip.rotate(90, expand=True)
    image.paste(rotated, (bottom_left[0], bottom_left[1] - rotated.height))
