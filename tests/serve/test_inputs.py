"""What a served model takes from a client: images as bytes or pixels, never a path."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from seqtk.errors import SeqtkError
from seqtk.serve.hosted import _image


def png_base64(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_an_image_comes_as_base64_a_data_url_or_pixel_rows():
    pixels = np.zeros((28, 28), np.uint8)
    pixels[4:24, 13:15] = 255
    encoded = png_base64(pixels)
    for item in ({"image": encoded}, {"image": "data:image/png;base64," + encoded}):
        assert np.array_equal(np.asarray(_image(item, "input 1")), pixels)
    rows = _image(pixels.tolist(), "input 1")
    assert rows.dtype == np.uint8 and np.array_equal(rows, pixels)
    floats = _image((pixels / 255).tolist(), "input 1")
    assert floats.dtype == np.float32 and floats.max() == 1.0


@pytest.mark.parametrize("item,words", [
    ("/etc/passwd", "reads no files"),
    ({"image": "not base64!"}, "not a base64 PNG or JPEG"),
    ({"image": base64.b64encode(b"GIF89a but not really").decode()}, "not a base64 PNG or JPEG"),
    ({"image": 3}, "must be an image"),
    ([[1, 2], [3]], "rows of pixel values"),
])  # fmt: skip
def test_anything_else_is_refused_with_what_to_send(item, words):
    with pytest.raises(SeqtkError) as error:
        _image(item, "input 2 of 3")
    assert words in error.value.message and "input 2 of 3" in error.value.message
