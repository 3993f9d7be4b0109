"""``seqtk eval --file`` for tag: tagged sentences the model has not seen, scored as a split is."""

from __future__ import annotations

import json
import random

import pytest

from seqtk.cli.main import main
from seqtk.errors import SeqtkError
from seqtk.testing import train_recipe
import seqtk

NAMES, PLACES = ["Anna", "Peter", "Maria", "Lee"], ["Paris", "Oslo", "Lima"]
WORDS = ["met", "in", "the", "city", "saw", "and", "today", "visited"]


def sentences(n, seed):
    """BIO-tagged sentences: one-word names and places among filler words."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        pairs = [(rng.choice(NAMES), "B-PER") if r < 0.2 else (rng.choice(PLACES), "B-LOC") if r < 0.35
                 else (rng.choice(WORDS), "O") for r in (rng.random() for _ in range(rng.randint(2, 7)))]
        out.append(([w for w, _ in pairs], [t for _, t in pairs]))
    return out


def jsonl(rows):
    return "".join(json.dumps({"tokens": list(words), "tags": list(tags)}) + "\n" for words, tags in rows)


@pytest.fixture(scope="module")
def tagger(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tag")
    (folder / "ner.jsonl").write_text(jsonl(sentences(160, 0)), encoding="utf-8")
    return train_recipe(folder, "tag", f'[task]\nname = "tag"\n[data]\npath = "{folder / "ner.jsonl"}"\n'
                        '[model]\nhidden_size = 16\nembedding_dim = 12\nchar_embedding_dim = 8\nchar_features = 8\n'
                        '[train]\nmax_steps = 12\neval_every = 12\nbatch_size = 16\ndevice = "cpu"\n'
                        '[log]\nprogress = false\n')


def test_the_test_split_written_in_each_format_gives_the_splits_numbers(tagger, tmp_path):
    p = seqtk.load(tagger)
    on_split = p.evaluate("test")
    rows = p.task.sentences["test"]
    files = {
        "test.jsonl": jsonl(rows),
        "test.conll": "\n\n".join("\n".join(f"{w} X {t}" for w, t in zip(*s)) for s in rows) + "\n",
        "test.txt": "\n".join(" ".join(f"{w}/{t}" for w, t in zip(*s)) for s in rows) + "\n",
        "test.conllu": "\n\n".join("\n".join(f"{i}\t{w}\t_\t{t}\t_\t_\t_\t_\t_\t_" for i, (w, t) in
                                             enumerate(zip(*s), start=1)) for s in rows) + "\n",
    }  # fmt: skip
    assert {"token_accuracy", "span_f1", "per_tag"} <= on_split.keys()  # BIO tags: the chunk scores too
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        on_file = seqtk.load(tagger).evaluate(file=tmp_path / name)  # no training data read
        assert on_file.keys() - {"file"} == on_split.keys() - {"split", "test_loss"}, name
        for key, value in on_split.items():
            if isinstance(value, float) and key != "test_loss":
                assert on_file[key] == pytest.approx(value, rel=1e-5, abs=1e-6), (name, key)
        assert on_file["per_tag"] == on_split["per_tag"], name


def test_the_cli_prints_the_per_tag_table_for_a_file(tagger, tmp_path, capsys):
    unseen = tmp_path / "unseen.txt"
    unseen.write_text("Anna/B-PER visited/O Oslo/B-LOC\nLee/B-PER met/O Maria/B-PER today/O\n", encoding="utf-8")
    assert main(["eval", str(tagger), "--file", str(unseen)]) == 0
    out = capsys.readouterr().out
    assert "token_accuracy" in out and "B-PER" in out and "precision" in out


def test_a_file_in_another_tagset_is_refused_and_one_unknown_tag_counts_as_an_error(tagger, tmp_path):
    other = tmp_path / "upos.txt"
    other.write_text("Anna/PROPN visited/VERB Oslo/PROPN\n", encoding="utf-8")
    with pytest.raises(SeqtkError, match="none of the tags of .*upos.txt' \\(PROPN, VERB\\) is one the model"):
        seqtk.load(tagger).evaluate(file=other)
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("Anna/B-PER visited/O Oslo/B-GPE\n", encoding="utf-8")
    result = seqtk.load(tagger).evaluate(file=mixed)
    assert result["token_accuracy"] <= 2 / 3  # B-GPE cannot be predicted
