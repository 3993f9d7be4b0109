"""``seqtk eval CKPT --file F`` and ``Predictor.evaluate(file=F)``: a file the model has not seen, scored by the
task's own evaluation, without the recipe's training data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqtk.cli.main import main
from seqtk.errors import SeqtkError
from seqtk.tasks.evaluation import check_eval_file
from seqtk.testing import train_recipe
import seqtk

ROWS = [f"{w} {i},{label}" for i in range(60) for label, w in [("time", "clock"), ("rain", "umbrella")]]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clf")
    (folder / "q.csv").write_text("text,label\n" + "\n".join(ROWS) + "\n", encoding="utf-8")
    return train_recipe(folder, "clf", f'[task]\nname = "classify"\n[data]\npath = "{folder / "q.csv"}"\n'
                        '[train]\nmax_steps = 20\neval_every = 10\nbatch_size = 16\ndevice = "cpu"\n'
                        '[log]\nprogress = false\n')


def test_a_file_is_scored_without_the_recipes_data_and_the_cli_prints_what_python_returns(classifier, tmp_path, capsys):
    data = classifier.parents[2] / "q.csv"
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("label,text\ntime,clock 7\nrain,umbrella 8\nrain,clock 9\n", encoding="utf-8")
    moved = data.rename(data.with_suffix(".gone"))  # the training data are not read
    try:
        p = seqtk.load(classifier)
        result = p.evaluate(file=unseen)
        assert main(["eval", str(classifier), "--file", str(unseen), "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == result
        assert main(["eval", str(classifier), "--file", str(unseen)]) == 0
        printed = capsys.readouterr().out
    finally:
        moved.rename(data)
    assert result["file"] == str(unseen) and "split" not in result and result["step"] == 20
    assert {"loss", "accuracy", "macro_f1", "per_class"} <= result.keys()
    assert f"the file {unseen}, scored by" in printed and "accuracy" in printed and "macro_f1" in printed


def test_the_file_and_split_evaluations_have_the_same_keys_but_split_and_its_loss(classifier, tmp_path):
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("text,label\nclock 1,time\numbrella 2,rain\n", encoding="utf-8")
    p = seqtk.load(classifier)
    on_file, on_split = p.evaluate(file=unseen), p.evaluate("val")
    assert on_file.keys() - {"file"} == on_split.keys() - {"split", "val_loss"}
    assert p.evaluate(file=unseen) == on_file  # after the split was read, a file is scored the same


def test_a_file_and_a_split_together_are_refused_naming_the_fix(classifier, tmp_path, capsys):
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("text,label\nclock 1,time\n", encoding="utf-8")
    with pytest.raises(SeqtkError, match="drop split to score the file"):
        seqtk.load(classifier).evaluate("test", file=unseen)
    assert main(["eval", str(classifier), "--file", str(unseen), "--split", "test"]) == 1
    assert "--file and --split test were both given" in capsys.readouterr().err


@pytest.mark.parametrize("make, message", [
    (lambda t: t / "nope.csv", "does not exist"),
    (lambda t: t, "is a folder"),
    (lambda t: _write(t / "empty.csv", ""), "is empty"),
    (lambda t: _write(t / "blank.csv", "\n \n"), "is empty (blank lines only)"),
])
def test_a_missing_folder_or_empty_file_is_one_paragraph(tmp_path, make, message):
    with pytest.raises(SeqtkError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        check_eval_file(make(tmp_path))
    assert "\n" not in str(info.value)


def test_an_unreadable_file_is_named(tmp_path, monkeypatch):
    secret = _write(tmp_path / "secret.csv", "text,label\na,b\n")

    def refused(self):  # as chmod 0 does for anyone but root, who runs these tests in CI
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refused)
    with pytest.raises(SeqtkError, match="cannot read the file to evaluate, '.*secret.csv': Permission denied"):
        check_eval_file(secret)


def test_a_label_the_model_does_not_know_is_refused(classifier, tmp_path):
    unseen = _write(tmp_path / "new.csv", "text,label\nclock 1,time\nsun 2,sunny\n")
    with pytest.raises(SeqtkError, match=r"the file '.*new.csv' has the label\(s\) 'sunny', which the model was never"):
        seqtk.load(classifier).evaluate(file=unseen)


def test_a_task_that_cannot_score_a_file_says_what_it_can_do(toy_task, tmp_path):
    task = toy_task.ToySumTask(toy_task.make_recipe(str(tmp_path / "runs")))
    with pytest.raises(SeqtkError, match="task 'toy_sum' cannot score a file") as info:
        task.read_eval_file(tmp_path / "any.txt")  # the Task default
    assert "seqtk eval CKPT --split val" in str(info.value) and "seqtk predict CKPT --file F" in str(info.value)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
