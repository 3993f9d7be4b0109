"""``seqtk eval --file`` for classify and sentiment: a labelled table the model has not seen, scored as a split is."""

from __future__ import annotations

import json
import random

import pytest

from seqtk.errors import SeqtkError
from seqtk.testing import train_recipe
import seqtk

WORDS = {"time": ["clock", "hour", "late"], "weather": ["rain", "sunny", "cold"], "music": ["song", "album", "radio"]}
FILLER = ["what", "is", "the", "please", "tell", "me", "can", "you", "it", "today"]
MODEL = '[model]\nembedding_dim = 16\nnum_layers = 1\nhidden_size = 16\n'
TRAIN = '[train]\nmax_steps = 12\neval_every = 12\nbatch_size = 16\ndevice = "cpu"\n[log]\nprogress = false\n'


def questions(n, seed, labels=WORDS):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = list(labels)[i % len(labels)]
        words = [rng.choice(FILLER) for _ in range(rng.randint(1, 9))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(labels[label]))
        out.append((" ".join(words), label))
    return out


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clf")
    csv = folder / "intents.csv"
    csv.write_text("question,intent\n" + "".join(f"{t},{lab}\n" for t, lab in questions(150, 0)), encoding="utf-8")
    recipe = f'[task]\nname = "classify"\n[data]\npath = "{csv}"\ntext_column = "question"\nlabel_column = "intent"\n'
    return train_recipe(folder, "clf", recipe + MODEL + TRAIN)


def same_numbers(on_file, on_split):
    """The file's evaluation is the split's (within float noise), its keys those of the split's but the split."""
    assert on_file.keys() - {"file"} == on_split.keys() - {"split", f"{on_split['split']}_loss"}
    for key, value in on_split.items():
        if isinstance(value, float) and key in on_file:
            assert on_file[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    assert {k: v for k, v in on_file.items() if not isinstance(v, float) and k not in ("file", "step")} == \
        {k: v for k, v in on_split.items() if not isinstance(v, float) and k not in ("split", "step")}


def test_the_test_split_written_to_a_file_gives_the_splits_numbers(classifier, tmp_path):
    p = seqtk.load(classifier)
    on_split = p.evaluate("test")
    test, names = p.task.texts["test"], p.task.label_names
    rows = list(zip(test.texts, (names[i] for i in test.labels)))
    csv = tmp_path / "held_out.csv"
    csv.write_text("question,intent\n" + "".join(f"{t},{lab}\n" for t, lab in rows), encoding="utf-8")
    jsonl = tmp_path / "held_out.jsonl"
    jsonl.write_text("".join(json.dumps({"question": t, "intent": lab}) + "\n" for t, lab in rows), encoding="utf-8")
    for file in (csv, jsonl):
        fresh = seqtk.load(classifier)  # reads no training data, pads as predict does
        same_numbers(fresh.evaluate(file=file), on_split)
        assert not fresh.task.texts.keys() - {"file"}


def test_a_file_with_fewer_labels_and_other_column_names_is_scored_with_the_models_labels(tmp_path, classifier):
    tsv = tmp_path / "new.tsv"  # TSV, the recipe's column names, two of the three labels
    tsv.write_text("question\tintent\n" + "".join(f"{t}\t{lab}\n" for t, lab in questions(20, 5, {
        "weather": WORDS["weather"], "time": WORDS["time"]})), encoding="utf-8")
    result = seqtk.load(classifier).evaluate(file=tsv)
    assert set(result["per_class"]) == set(WORDS)  # the model's three labels, one with no support
    assert result["per_class"]["music"]["support"] == 0 and sum(r["support"] for r in result["per_class"].values()) == 20


def test_a_file_without_the_recipes_columns_names_the_columns_it_has(tmp_path, classifier):
    csv = tmp_path / "other.csv"
    csv.write_text("sentence,topic\nwhat time,time\n", encoding="utf-8")
    with pytest.raises(SeqtkError, match="has no text column .question.*Columns found: sentence, topic.*Fix: name the file.s columns"):
        seqtk.load(classifier).evaluate(file=csv)


def test_sentiment_scores_a_file_of_pos_and_neg_labels(tmp_path):
    rng = random.Random(1)
    good, bad = ["great", "superb", "funny"], ["awful", "dull", "boring"]

    def review(i):
        words = [rng.choice(["the", "movie", "was", "plot", "really"]) for _ in range(rng.randint(1, 6))]
        return " ".join([*words, rng.choice(good if i % 2 else bad)]), i % 2

    data = tmp_path / "reviews.csv"
    data.write_text("text,label\n" + "".join("{},{}\n".format(*review(i)) for i in range(120)), encoding="utf-8")
    ckpt = train_recipe(tmp_path, "sent", f'[task]\nname = "sentiment"\n[data]\npath = "{data}"\n' + MODEL + TRAIN)
    unseen = tmp_path / "unseen.jsonl"
    unseen.write_text('{"text": "a superb movie", "label": "pos"}\n{"text": "so dull", "label": "neg"}\n'
                      '{"text": "really funny", "label": "positive"}\n', encoding="utf-8")
    result = seqtk.load(ckpt).evaluate(file=unseen)
    assert {"accuracy", "macro_f1", "per_class"} <= result.keys()
    assert sum(r["support"] for r in result["per_class"].values()) == 3
    three = tmp_path / "three.csv"
    three.write_text("text,label\ngood,pos\nbad,neg\nmeh,neutral\n", encoding="utf-8")
    with pytest.raises(SeqtkError, match="neutral"):  # sentiment's own reader: the labels must be binary
        seqtk.load(ckpt).evaluate(file=three)
