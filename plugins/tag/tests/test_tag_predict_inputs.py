"""seqtk.load(...).predict given something a text task cannot read: a SeqtkError, never its printed form tagged
as a text (issue 29). Uses the checkpoint test_tag_task trains."""

from __future__ import annotations

import pytest
import torch

from seqtk.errors import SeqtkError
import seqtk
from test_tag_task import trained as tag_trained  # noqa: F401 (a fixture)


@pytest.fixture(scope="module")
def tagger(tag_trained):  # noqa: F811
    result, _ = tag_trained
    return seqtk.load(result.run_dir / "checkpoints" / "last.pt", device="cpu")


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
