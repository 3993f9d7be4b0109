"""``seqtk eval --file`` for textgen (:mod:`seqtk_plugins.textgen.scoring`): a text the model has not seen, scored
as a held-out split is, without the recipe's text."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

import seqtk
from seqtk.cli.main import main
from seqtk.errors import SeqtkError
from seqtk.training.train import run_training
from seqtk_plugins.textgen.tests.test_textgen_task import PANGRAM, make_recipe

LINES = "".join(f"{PANGRAM.strip()} {i} times.\n" for i in range(60))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("textgen_scoring")
    path = folder / "text.txt"
    path.write_text(LINES, encoding="utf-8")
    recipe = make_recipe(path, data={"seq_len": 64}, train={"max_steps": 12, "eval_every": 12, "lr": 0.01})
    result = run_training(recipe, out=folder / "run", console=Console(file=io.StringIO()))
    return result.run_dir / "checkpoints" / "last.pt", path


def test_a_held_out_split_written_to_a_file_gives_the_splits_numbers_without_the_recipes_text(checkpoint, tmp_path):
    ckpt, data = checkpoint
    p = seqtk.load(ckpt)
    for split in ("val", "test"):
        on_split = p.evaluate(split)
        (tmp_path / f"{split}.txt").write_text(p.task._texts[split], encoding="utf-8")
        moved = data.rename(data.with_suffix(".gone"))
        try:
            on_file = seqtk.load(ckpt).evaluate(file=tmp_path / f"{split}.txt")
        finally:
            moved.rename(data)
        assert on_file.keys() - {"file"} == on_split.keys() - {"split", f"{split}_loss"}
        assert on_file["loss"] == pytest.approx(on_split["loss"], rel=1e-6)
        assert on_file["bits_per_char"] == pytest.approx(on_split["bits_per_char"], rel=1e-6)


def test_a_text_that_fits_one_window_scores_what_predict_gives_it(checkpoint, tmp_path):
    ckpt, _ = checkpoint
    p = seqtk.load(ckpt)
    text = "the lazy dog jumps over 7 brown foxes."  # shorter than data.seq_len = 64
    predicted = p.predict(text)[0]
    (tmp_path / "t.txt").write_text("\n" + text, encoding="utf-8")  # predict scores after a line break
    scored = p.evaluate(file=tmp_path / "t.txt")
    assert scored["loss"] == pytest.approx(predicted["nats_per_char"], rel=1e-5)
    assert scored["bits_per_char"] == pytest.approx(predicted["bits_per_char"], rel=1e-5)


def test_the_cli_prints_bits_per_char_of_a_file_and_refuses_one_character(checkpoint, tmp_path, capsys):
    ckpt, _ = checkpoint
    (tmp_path / "t.txt").write_text(LINES[:500], encoding="utf-8")
    assert main(["eval", str(ckpt), "--file", str(tmp_path / "t.txt"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["file"] == str(tmp_path / "t.txt") and result["bits_per_char"] > 0
    (tmp_path / "one.txt").write_text("x", encoding="utf-8")
    with pytest.raises(SeqtkError, match="holds 1 token"):
        seqtk.load(ckpt).evaluate(file=tmp_path / "one.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(SeqtkError, match="is not UTF-8 text"):
        seqtk.load(ckpt).evaluate(file=tmp_path / "latin1.txt")


def test_a_word_model_scores_a_file_in_perplexity_as_it_scores_its_split(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text(LINES, encoding="utf-8")
    recipe = make_recipe(path, data={"tokens": "word", "seq_len": 8}, train={"max_steps": 6, "eval_every": 6})
    result = run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
    ckpt = result.run_dir / "checkpoints" / "last.pt"
    p = seqtk.load(ckpt)
    on_split = p.evaluate("val")
    (tmp_path / "val.txt").write_text(p.task._texts["val"], encoding="utf-8")
    on_file = seqtk.load(ckpt).evaluate(file=tmp_path / "val.txt")
    assert "perplexity" in on_file and "bits_per_char" not in on_file
    assert on_file["perplexity"] == pytest.approx(on_split["perplexity"], rel=1e-6)
    assert on_file["loss"] == pytest.approx(on_split["loss"], rel=1e-6)
