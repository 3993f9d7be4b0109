"""What a client may send a served model, checked before it is queued.

Inputs are JSON: texts, token lists, numbers, or an image as base64 PNG/JPEG. Nothing is unpickled or run, no
option names a file, and a task that reads files (``predict_reads == "file"``) is sent the image itself, never
a path on the server's disk.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import TYPE_CHECKING, Any

from seqtk.errors import SeqtkError
from seqtk.serve.settings import ServeSettings

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.tasks.task import Task

#: the largest image a client may send, in pixels: a digit pad needs far less, and PIL decodes lazily, so a small
#: PNG of a huge canvas would otherwise cost the worker its size in memory
MAX_IMAGE_PIXELS = 4096 * 4096
#: predict options that size a search (seq2seq): each costs time and memory in proportion
SEARCH_OPTIONS = ("beam", "n_best")


def read_inputs(inputs: Any, task: Task, settings: ServeSettings) -> list[Any]:
    """``inputs`` as the list the task's predict reads; refuses an empty, too long or unreadable one."""
    limit = settings.max_inputs
    if not isinstance(inputs, list) or not inputs:
        raise SeqtkError('"inputs" must be a non-empty JSON list', fix='send e.g. {"inputs": ["a text"]}')
    if len(inputs) > limit:
        raise SeqtkError(f"{len(inputs)} inputs were sent and this server takes at most {limit} per request",
                         fix=f"split them into requests of {limit} (the server batches them again)")  # fmt: skip
    reads_files = task.predict_reads == "file"
    return [_input(item, f"input {n + 1} of {len(inputs)}", reads_files, settings) for n, item in enumerate(inputs)]


def _input(item: Any, where: str, reads_files: bool, settings: ServeSettings) -> Any:
    if reads_files:
        return image(item, where)
    most = settings.max_input_chars
    if isinstance(item, (str, list)) and len(item) > most:
        raise SeqtkError(f"{where} is {len(item):,} long and this server takes at most {most:,}",
                         fix="send a shorter input, or start the server with a larger --max-input-chars")  # fmt: skip
    return item


def check_predict_options(options: dict[str, Any], task: Task, settings: ServeSettings) -> None:
    """Options are numbers or true/false (never a file name), read by the task, and a search is capped."""
    from seqtk.inference.predictor import check_options

    for name, value in options.items():
        if not isinstance(value, (int, float, bool)):
            raise SeqtkError(f"option '{name}' must be a number or true/false over HTTP, not {type(value).__name__}",
                             fix=f"send e.g. {{\"{name}\": 3}}, or leave it out; the server takes no file names")  # fmt: skip
    check_options(task, options)
    for name in SEARCH_OPTIONS:
        if isinstance(options.get(name), int) and options[name] > settings.max_beam:
            raise SeqtkError(f"{name} {options[name]} is more than this server searches ({settings.max_beam})",
                             fix=f"ask for {name} {settings.max_beam} or less, or start the server with a larger --max-beam")  # fmt: skip


def image(item: Any, where: str) -> Any:
    """An image sent as ``{"image": "<base64 PNG or JPEG, or a data: URL>"}``, as a PIL image; or a list of
    pixel rows, as a numpy array. A string is refused: it would name a file on the server."""
    import numpy as np

    if isinstance(item, dict) and set(item) == {"image"} and isinstance(item["image"], str):
        return _decoded(item["image"], where)
    if isinstance(item, list):
        try:
            pixels = np.asarray(item)
            if pixels.dtype.kind in "iu" and pixels.size and 0 <= pixels.min() and pixels.max() <= 255:
                return pixels.astype(np.uint8)  # 0..255, as an image file's pixels
            return pixels.astype(np.float32)  # 0..1
        except (TypeError, ValueError):
            raise SeqtkError(f"{where} is a list but not rows of pixel values",
                             fix="send equal rows of numbers (e.g. 28 rows of 28), or the image as base64") from None  # fmt: skip
    raise SeqtkError(f"{where} must be an image: {{\"image\": \"<base64 PNG>\"}} or rows of pixel values",
                     fix="the server reads no files on its own disk; send the image itself, base64-encoded")  # fmt: skip


def _decoded(text: str, where: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    data = text.partition("base64,")[2] or text
    try:
        picture = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise SeqtkError(f"{where}'s \"image\" is not a base64 PNG or JPEG image",
                         fix='send {"image": "<the file\'s bytes in base64>"}, e.g. base64 -w0 digit.png') from None  # fmt: skip
    if picture.width * picture.height > MAX_IMAGE_PIXELS:
        raise SeqtkError(f"{where} is a {picture.width}x{picture.height} image, more than this server decodes "
                         f"({MAX_IMAGE_PIXELS:,} pixels)", fix="scale it down first (a digit needs 28x28)")  # fmt: skip
    return picture
