"""seqtk.load(...).predict given an input its task cannot read: a SeqtkError saying what predict() takes.

The check is the core's (seqtk.inference.predictor.predict_items), so it is tried on an image task and a text task,
with the trained checkpoints of their own tests (the fixtures are imported, and train once per module here).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import seqtk
from seqtk.errors import SeqtkError
from test_pixel_mnist_task import trained as pixel_trained  # noqa: F401 (a fixture)
from test_tag_task import trained as tag_trained  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def pixel(pixel_trained):  # noqa: F811
    result, pngs, _ = pixel_trained
    return seqtk.load(result.run_dir / "checkpoints" / "last.pt", device="cpu"), pngs


@pytest.fixture(scope="module")
def tagger(tag_trained):  # noqa: F811
    result, _ = tag_trained
    return seqtk.load(result.run_dir / "checkpoints" / "last.pt", device="cpu")


def test_a_tensor_given_to_the_mnist_model_names_the_image_files_it_reads(pixel):
    p, _ = pixel
    with pytest.raises(SeqtkError) as err:  # was: TypeError from inside the task's image reader
        p.predict(torch.zeros(1, 28, 28, dtype=torch.uint8))
    message = str(err.value)
    assert "task 'pixel_mnist' predict() takes the path of an image file" in message
    assert "the input given is a torch.Tensor of shape (1, 28, 28)" in message
    assert 'Fix: save each image as a PNG or JPEG file and pass the paths, e.g. p.predict(["digit.png"])' in message


def test_a_tensor_among_the_paths_is_named_by_its_place(pixel):
    p, pngs = pixel
    with pytest.raises(SeqtkError, match=r"input 2 of 2 is a torch.Tensor of shape \(28, 28\)"):
        p.predict([pngs[0], torch.zeros(28, 28)])


def test_paths_may_be_path_objects_in_any_iterable(pixel):
    p, pngs = pixel
    assert p.predict(Path(pngs[0])) == p.predict([pngs[0]])  # was: TypeError, 'PosixPath' object is not iterable
    assert p.predict(Path(png) for png in pngs) == p.predict(pngs)


def test_a_tensor_given_to_a_text_task_is_refused_not_tagged_as_its_printed_form(tagger):
    with pytest.raises(SeqtkError) as err:  # was: the words "tensor(1)" and "tensor(2)" tagged, silently
        tagger.predict(torch.tensor([1, 2]))
    message = str(err.value)
    assert "task 'tag' predict() takes a text (a string), or a list of texts" in message
    assert "the input given is a torch.Tensor of shape (2,)" in message
    assert 'Fix: pass the texts as strings, e.g. p.predict(["first text", "second text"])' in message


@pytest.mark.parametrize(
    ("inputs", "which"),
    [
        (None, "the input given is None"),
        (42, "the input given is an int"),
        (b"Anna visited Oslo", "the input given is a bytes"),
        ({"Anna visited Oslo": 1}, "the input given is a dict"),  # its keys would be tagged
        ({"Anna visited Oslo", "Lee left"}, "the input given is a set"),  # in no set order
        (["Anna visited Oslo", 7], "input 2 of 2 is an int"),
    ],
)
def test_other_inputs_a_text_task_cannot_read_are_refused(tagger, inputs, which):
    with pytest.raises(SeqtkError, match=which):
        tagger.predict(inputs)

