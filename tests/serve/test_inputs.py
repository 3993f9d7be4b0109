"""What a served model takes from a client: images as bytes or pixels (never a path, never a huge canvas)."""

from __future__ import annotations

import base64
import re
import io

import numpy as np
import pytest
from PIL import Image

from seqtk.errors import SeqtkError
from seqtk.serve.inputs import MAX_IMAGE_PIXELS, image


def png_base64(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_an_image_comes_as_base64_a_data_url_or_pixel_rows():
    pixels = np.zeros((28, 28), np.uint8)
    pixels[4:24, 13:15] = 255
    encoded = png_base64(pixels)
    for item in ({"image": encoded}, {"image": "data:image/png;base64," + encoded}):
        assert np.array_equal(np.asarray(image(item, "input 1")), pixels)
    rows = image(pixels.tolist(), "input 1")
    assert rows.dtype == np.uint8 and np.array_equal(rows, pixels)
    floats = image((pixels / 255).tolist(), "input 1")
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
        image(item, "input 2 of 3")
    assert words in error.value.message and "input 2 of 3" in error.value.message


def test_a_small_file_of_a_huge_canvas_is_refused_before_it_is_decoded():
    side = int(MAX_IMAGE_PIXELS**0.5) + 1
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, "PNG")  # a few kB of PNG, gigabytes of pixels once decoded
    assert len(buffer.getvalue()) < 100_000
    with pytest.raises(SeqtkError, match="more than this server decodes"):
        image({"image": base64.b64encode(buffer.getvalue()).decode()}, "input 1")


def test_options_are_numbers_the_task_reads_and_a_search_is_capped():
    from types import SimpleNamespace

    from seqtk.serve.inputs import check_predict_options
    from seqtk.serve.settings import ServeSettings

    task = SimpleNamespace(name="seq2seq", predict_options=frozenset({"beam", "n_best", "attention"}))
    settings = ServeSettings(max_beam=8)
    check_predict_options({"beam": 8, "n_best": 2, "attention": True}, task, settings)
    for options, words in (({"beam": 9}, "more than this server searches (8)"), ({"n_best": 100_000}, "n_best 100000"),
                           ({"beam": 2.5}, "whole number"), ({"attention": "/tmp/x.png"}, "no file names"),
                           ({"top_k": 3}, "does not read")):  # fmt: skip
        with pytest.raises(SeqtkError, match=re.escape(words)):
            check_predict_options(options, task, settings)
