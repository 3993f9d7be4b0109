"""seqtk.load: a checkpoint from Python gives what the CLI commands print."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from seqtk.cli.main import main
from seqtk.errors import SeqtkError
from seqtk.inference.predictor import predict_items
from seqtk.tasks.predict_inputs import as_tensor
from seqtk.tasks.task import Task
from seqtk.testing import train_recipe
import seqtk

ROOT = Path(__file__).resolve().parents[2]
PANGRAM = "the quick brown fox jumps over the lazy dog.\n"


train = train_recipe  # write a recipe, seqtk run it, return last.pt


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clf")
    rows = [f"{w} {x},{label}" for i in range(60) for label, w, x in [("time", "clock", i), ("rain", "umbrella", i)]]
    (folder / "q.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return train(folder, "clf", f'[task]\nname = "classify"\n[data]\npath = "{folder / "q.csv"}"\n'
                 '[train]\nmax_steps = 20\neval_every = 10\nbatch_size = 16\ndevice = "cpu"\n[log]\nprogress = false\n')


def test_predict_and_evaluate_match_the_cli(classifier, capsys):
    p = seqtk.load(classifier)
    assert main(["predict", str(classifier), "clock 3", "umbrella 9", "--top-k", "2", "--json"]) == 0
    assert p.predict(["clock 3", "umbrella 9"], top_k=2) == json.loads(capsys.readouterr().out)["predictions"]
    assert p.predict("clock 3")[0]["label"] == p.predict(["clock 3"])[0]["label"]  # one text is a list of one
    assert main(["eval", str(classifier), "--split", "test", "--json"]) == 0
    assert p.evaluate("test") == json.loads(capsys.readouterr().out)
    assert p.to("cpu") is p and p.task.name == "classify" and p.recipe.train.max_steps == 20
    assert "classify" in repr(p)


def test_options_a_task_does_not_read_and_generation_it_does_not_do_are_refused(classifier):
    p = seqtk.load(classifier)
    with pytest.raises(SeqtkError, match="top_k"):
        p.predict(["x"], top_k=0)
    with pytest.raises(SeqtkError, match="does not read the predict option"):
        p.predict(["x"], beam=5)
    with pytest.raises(SeqtkError, match="does not generate"):
        p.generate("x", length=5)


def test_generate_is_the_clis_text_character_for_character(tmp_path, capsys):
    (tmp_path / "t.txt").write_text(PANGRAM * 40, encoding="utf-8")
    ckpt = train(tmp_path, "lm", f'[task]\nname = "textgen"\n[data]\npath = "{tmp_path / "t.txt"}"\nseq_len = 16\n'
                 '[model]\nhidden_size = 32\nembedding_dim = 16\nnum_layers = 1\n'
                 '[train]\nmax_steps = 30\neval_every = 15\nbatch_size = 8\ndevice = "cpu"\n[log]\nprogress = false\n')
    capsys.readouterr()
    assert main(["generate", str(ckpt), "--prompt", "the ", "--length", "60", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    text = seqtk.load(ckpt).generate(prompt="the ", length=60, seed=1)
    assert printed == text + "\n"
    two = seqtk.load(ckpt).generate(prompt="the ", length=20, seed=1, n=2)
    assert isinstance(two, list) and len(two) == 2 and all(t.startswith("the ") for t in two)


def test_the_readme_library_example_runs(classifier):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "seqtk.load" in b)
    code = block.replace('"runs/classify_bbc/<time>/checkpoints/best.pt"', repr(str(classifier)))
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 (our own README)


def test_predict_streams_a_large_file_to_jsonl_in_order(classifier, tmp_path, capsys):
    texts = [f"{'clock' if i % 3 else 'umbrella'} {i}" for i in range(2500)]  # more than two chunks
    (tmp_path / "in.csv").write_text("id,text\n" + "".join(f"{i},{t}\n" for i, t in enumerate(texts)), encoding="utf-8")
    out = tmp_path / "preds.jsonl"
    assert main(["predict", str(classifier), "--file", str(tmp_path / "in.csv"), "--column", "text", "--out", str(out),
                 "--top-k", "1"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["input"] for r in rows] == texts
    assert rows[7] == {"input": texts[7]} | seqtk.load(classifier).predict([texts[7]], top_k=1)[0]
    assert "2,500 predictions written" in capsys.readouterr().err


def test_a_stream_that_fails_leaves_the_users_file_as_it_was(classifier, tmp_path, capsys):
    (tmp_path / "in.csv").write_text("id,text\n" + "".join(f"{i},clock {i}\n" for i in range(1500)) + "1500,\n",
                                     encoding="utf-8")
    out = tmp_path / "preds.jsonl"
    out.write_text("earlier predictions\n", encoding="utf-8")
    assert main(["predict", str(classifier), "--file", str(tmp_path / "in.csv"), "--column", "text", "--out", str(out)]) == 1
    assert "row 1501" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "earlier predictions\n" and sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "preds.jsonl"]


# -- what predict() reads: strings for every task, and what a task's predict_inputs() reads (issue 32) ----------


class Words(Task):
    """A task that reads strings only, as a third-party plugin written before predict_inputs() does."""

    name = "words"


class Counts(Task):
    """A task whose predict_inputs() reads ints (one input) and 1-D tensors or arrays (a batch of ints)."""

    name = "counts"
    predict_takes = "a count (an int) or a 1-D tensor of counts"
    predict_example = '["three", 3]'

    def predict_inputs(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        tensor = as_tensor(value)
        return tensor.tolist() if tensor is not None and tensor.dim() == 1 else None


class StringsOnly(Counts):
    def predict_inputs(self, value):
        raise AssertionError("strings never reach predict_inputs()")


def test_strings_and_paths_reach_every_task_as_before_without_its_hook():
    for task in (Words(None), StringsOnly(None)):
        assert predict_items(task, "a text") == ["a text"]
        assert predict_items(task, Path("digit.png")) == ["digit.png"]
        assert predict_items(task, ["a", Path("b")]) == ["a", "b"]
        assert predict_items(task, (t for t in ("a", "b"))) == ["a", "b"]
        assert predict_items(task, np.array(["a", "b"])) == ["a", "b"]  # numpy strings are str
        assert predict_items(task, []) == []


def test_a_task_hook_reads_a_batch_whole_and_a_mixed_list_element_by_element():
    counts = Counts(None)
    assert predict_items(counts, torch.tensor([4, 5, 6])) == [4, 5, 6]  # a batch: one input per row
    assert predict_items(counts, np.array([4, 5])) == [4, 5]
    assert predict_items(counts, 7) == [7]  # one input: a list of one
    assert predict_items(counts, ["three", 3, Path("x")]) == ["three", 3, "x"]
    assert predict_items(counts, iter(["three", 3])) == ["three", 3]  # an iterator is read once
    with pytest.raises(SeqtkError, match=r"input 2 of 2 given to task 'counts' predict\(\) holds 2 inputs"):
        predict_items(counts, ["three", torch.tensor([1, 2])])  # a batch in a list is refused, not flattened
    with pytest.raises(SeqtkError) as err:
        predict_items(counts, ["three", 2.5])
    assert str(err.value) == (
        "task 'counts' predict() takes a text (a string) or a count (an int) or a 1-D tensor of counts, or a list of "
        "these, one per input; input 2 of 2 is a float. Fix: pass each input as one of these, e.g. "
        'p.predict(["three", 3]).'
    )


@pytest.mark.parametrize(
    ("inputs", "which"),
    [
        (torch.zeros(1, 28, 28), "the input given is a torch.Tensor of shape (1, 28, 28)"),
        (np.zeros(3), "the input given is a numpy.ndarray of shape (3,)"),  # named whole, not by its first number
        (np.float32(2.0), "the input given is a numpy.float32 of shape ()"),
        (np.array(2.0), "the input given is a numpy.ndarray of shape ()"),
        (3, "the input given is an int"),
        (None, "the input given is None"),
        ({"a": 1}, "the input given is a dict"),
        ({"a", "b"}, "the input given is a set"),
        (b"a text", "the input given is a bytes"),
        (["a", 3], "input 2 of 2 is an int"),
    ],
)
def test_a_task_that_reads_strings_only_refuses_anything_else_in_one_paragraph(inputs, which):
    with pytest.raises(SeqtkError) as err:
        predict_items(Words(None), inputs)
    assert str(err.value) == (
        f"task 'words' predict() takes a text (a string), or a list of these, one per input; {which}. Fix: pass "
        'the texts as strings, e.g. p.predict(["first text", "second text"]); task \'words\' reads no tensors, '
        "arrays or other objects."
    )


def test_a_classifier_given_a_tensor_is_refused_and_its_cli_reads_strings_as_before(classifier, capsys):
    p = seqtk.load(classifier)
    with pytest.raises(SeqtkError, match="task 'classify' predict.. takes a text .a string., or a list of these"):
        p.predict(torch.tensor([1, 2]))
    assert main(["predict", str(classifier), "clock 3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"] == p.predict(("clock 3",))
