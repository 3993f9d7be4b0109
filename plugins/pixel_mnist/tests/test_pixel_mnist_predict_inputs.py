"""seqtk.load(...).predict given something pixel_mnist cannot read: a SeqtkError naming the image files it reads,
never a TypeError from inside its image reader (issue 29). Uses the checkpoint test_pixel_mnist_task trains."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqtk.errors import SeqtkError
import seqtk
from test_pixel_mnist_task import trained as pixel_trained  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def pixel(pixel_trained):  # noqa: F811
    result, pngs, _ = pixel_trained
    return seqtk.load(result.run_dir / "checkpoints" / "last.pt", device="cpu"), pngs


def test_a_tensor_given_to_the_mnist_model_names_the_image_files_it_reads(pixel):
    p, _ = pixel
    with pytest.raises(SeqtkError) as err:  # was: TypeError from inside the task's image reader
        p.predict(torch.zeros(1, 28, 28, dtype=torch.uint8))
    message = str(err.value)
    assert "task 'pixel_mnist' predict() takes the path of a file (a string), or a list of paths" in message
    assert "the input given is a torch.Tensor of shape (1, 28, 28)" in message
    assert 'Fix: save each input as a file the task reads (an image as PNG, say) and pass the paths' in message


def test_a_tensor_among_the_paths_is_named_by_its_place(pixel):
    p, pngs = pixel
    with pytest.raises(SeqtkError, match=r"input 2 of 2 is a torch.Tensor of shape \(28, 28\)"):
        p.predict([pngs[0], torch.zeros(28, 28)])


def test_paths_may_be_path_objects_in_any_iterable(pixel):
    p, pngs = pixel
    assert p.predict(Path(pngs[0])) == p.predict([pngs[0]])  # was: TypeError, 'PosixPath' object is not iterable
    assert p.predict(Path(png) for png in pngs) == p.predict(pngs)
