"""seqtk.load: a checkpoint from Python gives what the CLI commands print."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from seqtk.cli.main import main
from seqtk.errors import SeqtkError
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
