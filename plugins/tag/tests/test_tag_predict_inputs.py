"""seqtk.load(...).predict on a tagger: texts, and sentences given as token lists (issue 32), tagged alike; anything
else a SeqtkError, never its printed form tagged as a text (issue 29). Uses the checkpoint test_tag_task trains."""

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
    assert "task 'tag' predict() takes a text (a string) or a list of tokens (a list of strings" in message
    assert "the input given is a torch.Tensor of shape (2,)" in message
    assert 'Fix: pass each input as one of these, e.g. p.predict(["The dog barks", ["The", "dog", "barks"]])' in message


@pytest.mark.parametrize(
    ("inputs", "which"),
    [
        (None, "the input given is None"),
        (42, "the input given is an int"),
        (b"Anna visited Oslo", "the input given is a bytes"),
        ({"Anna visited Oslo": 1}, "the input given is a dict"),  # its keys would be tagged
        ({"Anna visited Oslo", "Lee left"}, "the input given is a set"),  # in no set order
        (["Anna visited Oslo", 7], "input 2 of 2 is an int"),
        ([["Anna", 7]], "input 1 of 1 is a list"),  # a token list holds strings only
    ],
)
def test_other_inputs_a_text_task_cannot_read_are_refused(tagger, inputs, which):
    with pytest.raises(SeqtkError, match=which):
        tagger.predict(inputs)


def test_a_token_list_gives_the_tags_of_its_joined_string(tagger):
    texts = ["Anna Lee visited Oslo today", "Zyxx Qwer met Lima"]
    lists = [text.split() for text in texts]
    assert tagger.predict(lists) == tagger.predict(texts)
    assert tagger.predict([texts[0], tuple(lists[1])]) == tagger.predict(texts)  # mixed, a tuple alike
    assert tagger.predict(texts[0].split()) == tagger.predict(lists[0])  # a list of strings alone: several texts


def test_a_token_list_skips_the_tokenizer_and_keeps_its_tokens_exactly(tagger):
    [pred] = tagger.predict([["Anna", "visited", "New York", "today."]])
    assert pred["tokens"] == ["Anna", "visited", "New York", "today."] and len(pred["tags"]) == 4
    assert pred["tagged"].startswith("Anna/")
    [split] = tagger.predict("Anna visited New York today.")  # the string is split at whitespace, as before
    assert split["tokens"] == ["Anna", "visited", "New", "York", "today."]


def test_an_empty_or_blank_token_list_is_refused(tagger):
    with pytest.raises(SeqtkError, match="input 1 of 1 is empty; there is nothing to tag"):
        tagger.predict([[]])
    with pytest.raises(SeqtkError, match=r"token 2 of the token list \['Anna', ' '\] given to task 'tag' is blank"):
        tagger.predict([["Anna", " "]])
