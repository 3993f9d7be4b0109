"""``seqtk eval --file`` for music: the tunes of an ABC file the model has not seen, scored per token as a split is."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import seqtk
from seqtk.errors import SeqtkError

pytest.importorskip("music21")

from seqtk.training.train import run_training  # noqa: E402
from seqtk_plugins.music.tests.test_music import jig, make_recipe, write_tunes  # noqa: E402


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("music_eval_file")
    recipe = make_recipe(write_tunes(tmp / "abc"))  # test_music.py's 60 steps: an untrained model samples tunes music21 parses for minutes
    result = run_training(recipe, out=tmp / "run", console=Console(file=io.StringIO(), width=100))
    return result.run_dir / "checkpoints" / "last.pt"


def test_the_val_tunes_written_to_a_file_give_the_splits_numbers_and_sample_nothing(checkpoint, tmp_path):
    p = seqtk.load(checkpoint)
    on_split = p.evaluate("val")
    abc = tmp_path / "val.abc"
    abc.write_text("".join(f"X:{i}\n{tune.text.strip()}\n\n" for i, tune in enumerate(p.task.tunes["val"], 1)),
                   encoding="utf-8")
    on_file = seqtk.load(checkpoint).evaluate(file=abc)  # reads no training tunes
    assert on_file["loss"] == pytest.approx(on_split["loss"], rel=1e-6)
    assert on_file["bits_per_token"] == pytest.approx(on_split["bits_per_token"], rel=1e-6)
    assert "parse_rate" in on_split and "parse_rate" not in on_file  # sampled tunes say nothing of the file


def test_a_new_tune_is_scored_and_a_file_without_tunes_is_refused(checkpoint, tmp_path):
    (tmp_path / "new.abc").write_text(jig("A new one", shift=3, ending=1), encoding="utf-8")
    result = seqtk.load(checkpoint).evaluate(file=tmp_path / "new.abc")
    assert result["file"] == str(tmp_path / "new.abc") and result["bits_per_token"] > 0
    (tmp_path / "notes.abc").write_text("just some words\n", encoding="utf-8")
    with pytest.raises(SeqtkError, match="no usable tunes"):
        seqtk.load(checkpoint).evaluate(file=tmp_path / "notes.abc")
