"""seqtk.load(...).predict on pixel_mnist: image files, and images as torch tensors, numpy arrays and PIL images
(issue 32), each giving the prediction its PNG gives; anything else a SeqtkError naming what the task reads, never
a TypeError from inside its image reader (issue 29). Uses the checkpoint test_pixel_mnist_task trains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seqtk.errors import SeqtkError
import seqtk
from test_pixel_mnist_task import pattern
from test_pixel_mnist_task import trained as pixel_trained  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def pixel(pixel_trained):  # noqa: F811
    result, pngs, _ = pixel_trained
    return seqtk.load(result.run_dir / "checkpoints" / "last.pt", device="cpu"), pngs


def same(got: list[dict], want: list[dict]) -> None:
    """The same labels, and probabilities equal to float rounding (a batch of another size may sum otherwise)."""
    assert [g["label"] for g in got] == [w["label"] for w in want]
    for g, w in zip(got, want):
        assert g["probabilities"] == pytest.approx(w["probabilities"], abs=1e-6)


def test_a_tensor_an_array_a_pil_image_and_its_png_give_the_same_prediction(pixel, tmp_path):
    p, pngs = pixel
    image = Image.open(pngs[0])  # the three, white on black, 28x28
    u8 = torch.from_numpy(np.array(image))  # (28, 28) uint8
    [want] = p.predict(pngs[0])
    assert want["label"] == "3"
    for given in (u8, u8.float() / 255, u8.unsqueeze(0), u8.view(1, 1, 28, 28), u8.numpy(), u8.numpy() / 255.0,
                  image, image.convert("RGBA")):  # fmt: skip
        same(p.predict(given), [want])


def test_a_pil_image_is_converted_as_its_file_is(pixel, tmp_path):
    p, pngs = pixel
    light = Image.open(pngs[1])  # the seven, dark on white: inverted like the file
    big = Image.fromarray((255 - pattern(2)).numpy()).resize((84, 84)).convert("RGB")  # framed like the file
    big.save(tmp_path / "big.png")
    same(p.predict([light, big]), p.predict([pngs[1], str(tmp_path / "big.png")]))
    assert p.predict(light)[0]["label"] == "7"


def test_a_batch_gives_one_prediction_per_image_and_lists_may_mix_kinds(pixel):
    p, pngs = pixel
    three, seven = torch.from_numpy(np.array(Image.open(pngs[0]))), 255 - torch.from_numpy(np.array(Image.open(pngs[1])))
    want = p.predict(pngs)
    same(p.predict(torch.stack([three, seven])), want)  # (2, 28, 28): a tensor is not inverted, as MNIST's are not
    same(p.predict(torch.stack([three, seven]).unsqueeze(1).numpy()), want)  # (2, 1, 28, 28) numpy
    same(p.predict([pngs[0], seven, Image.open(pngs[0]), Path(pngs[1])]), want + want)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (torch.zeros(3, 32, 32), r"reads 28x28 images: a torch tensor of shape \(28, 28\) .*; this one's shape is \(3, 32, 32\)"),
        (np.zeros((28, 28, 3), dtype=np.uint8), r"a numpy array of shape .* this one's shape is \(28, 28, 3\)"),
        (torch.full((28, 28), 255.0), r"reads float pixels in 0..1, and these run from 255 to 255"),
        (torch.full((28, 28), float("nan")), r"reads float pixels in 0..1, and these run from nan to nan"),
        (torch.ones(28, 28, dtype=torch.int64), r"uint8 \(0..255\) or as floats \(0..1\), and these are torch.int64"),
    ],
)
def test_a_tensor_it_cannot_read_unambiguously_is_refused_saying_why(pixel, given, message):
    p, _ = pixel
    with pytest.raises(SeqtkError, match=message):
        p.predict(given)


def test_a_float_image_in_0_255_is_refused_with_the_fix(pixel):
    p, _ = pixel
    with pytest.raises(SeqtkError) as err:
        p.predict(pattern(3).float())
    assert "reads float pixels in 0..1, and these run from 0 to 255" in str(err.value)
    assert "Fix: divide a 0..255 image by 255" in str(err.value)


def test_anything_else_names_the_files_and_images_it_reads(pixel):
    p, pngs = pixel
    with pytest.raises(SeqtkError) as err:  # was: TypeError from inside the task's image reader
        p.predict(28)
    message = str(err.value)
    assert "task 'pixel_mnist' predict() takes the path of a file (a string) or a 28x28 image as a torch tensor" in message
    assert "the input given is an int" in message
    assert 'Fix: pass each input as one of these, e.g. p.predict(["digit.png", torch.zeros(28, 28' in message
    with pytest.raises(SeqtkError, match=r"input 2 of 2 is a dict"):
        p.predict([pngs[0], {"image": pngs[1]}])


def test_a_batch_inside_a_list_is_refused_not_flattened(pixel):
    p, pngs = pixel
    with pytest.raises(SeqtkError, match=r"input 2 of 2 given to task 'pixel_mnist' predict\(\) holds 3 inputs"):
        p.predict([pngs[0], torch.zeros(3, 28, 28, dtype=torch.uint8)])


def test_paths_may_be_path_objects_in_any_iterable(pixel):
    p, pngs = pixel
    assert p.predict(Path(pngs[0])) == p.predict([pngs[0]])  # was: TypeError, 'PosixPath' object is not iterable
    assert p.predict(Path(png) for png in pngs) == p.predict(pngs)
