"""Sentiment data sources and splits, on tiny files written here (no network)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk_plugins.classify.sentiment import SentimentTask
from seqtk_plugins.classify.sentiment_data import load_corpus, read_rt, resolve_source, to_binary
from seqtk_plugins.classify.splits import make_splits, stratified_indices


def data_cfg(**data):
    raw = {"task": {"name": "sentiment"}, "data": data}
    return resolve(raw, "sentiment_test", SentimentTask).data


def write_acl(root, n=3, test=True):
    """A tiny aclImdb layout: train/{pos,neg} (+ test/), n reviews each, plus unsup/ to ignore."""
    for split in ("train", "test") if test else ("train",):
        for label in ("pos", "neg"):
            folder = root / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                (folder / f"{i}_{7 if label == 'pos' else 2}.txt").write_text(
                    f"A {label} {split} review number {i}.<br /><br />The end.", encoding="utf-8"
                )
    (root / "aclImdb" / "train" / "unsup").mkdir()
    (root / "aclImdb" / "train" / "unsup" / "0_0.txt").write_text("unlabelled", encoding="utf-8")


# -- sources ------------------------------------------------------------------------


def test_aclimdb_folder_keeps_its_own_test_split(tmp_path):
    write_acl(tmp_path, n=5)
    cfg = data_cfg(path=str(tmp_path))  # the parent of aclImdb/ works too
    assert resolve_source(cfg) == "aclimdb"
    corpus = load_corpus(cfg)
    assert len(corpus.train) == 10 and corpus.test is not None and len(corpus.test) == 10
    assert sorted(set(corpus.train.labels)) == [0, 1]
    assert "<br" not in corpus.train.texts[0] and "unlabelled" not in corpus.train.texts
    splits = make_splits(corpus, 0.2, 0.1, seed=0)
    assert splits.own_test and len(splits.test) == 10 and len(splits.val) == 2 and len(splits.train) == 8


def test_a_folder_that_is_not_aclimdb_is_explained(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(SeqtkError, match="not an aclImdb folder.*train/pos"):
        load_corpus(data_cfg(path=str(tmp_path / "stuff")))


def test_csv_with_named_columns_and_string_labels(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('review,verdict\n"Loved it, truly",Fresh\nDull,rotten\n"Great fun",fresh\n', encoding="utf-8")
    corpus = load_corpus(data_cfg(path=str(path), text_column="review", label_column="verdict", positive_label="fresh"))
    assert corpus.train.texts == ["Loved it, truly", "Dull", "Great fun"]
    assert corpus.train.labels == [1, 0, 1]  # labels are matched case-insensitively
    assert corpus.label_names == ("rotten", "fresh")


def test_csv_tsv_jsonl_and_the_npm_json_list_load(tmp_path):
    rows = [("good movie", 1), ("bad movie", 0), ("fine film", 1), ("awful film", 0)]
    (tmp_path / "a.csv").write_text("text,label\n" + "".join(f"{t},{y}\n" for t, y in rows), encoding="utf-8")
    (tmp_path / "a.tsv").write_text("sentence\tsentiment\n" + "".join(f"{t}\t{'pos' if y else 'neg'}\n" for t, y in rows), encoding="utf-8")
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"text": t, "label": bool(y)}) + "\n" for t, y in rows), encoding="utf-8")
    npm = [{"text": t, "class": y} for t, y in rows] + [{"text": "", "class": None}]  # imdb.json's shape
    (tmp_path / "imdb.json").write_text(json.dumps(npm), encoding="utf-8")
    for name in ("a.csv", "a.tsv", "a.jsonl", "imdb.json"):
        corpus = load_corpus(data_cfg(path=str(tmp_path / name)))
        assert corpus.train.texts == [t for t, _ in rows], name
        assert corpus.train.labels == [y for _, y in rows], name
    assert any("dropped 1 empty row" in note for note in load_corpus(data_cfg(path=str(tmp_path / "imdb.json"))).notes)


def test_rotten_tomatoes_ground_truth_format(tmp_path):
    path = tmp_path / "movieReviewSnippets_GroundTruth.txt"
    lines = ["1\t2.5\tA joy from start to finish.", "2\t-1.2\tClich\u00e9d and dull.", "3\t0.0\tIt exists."]
    path.write_bytes("\r\n".join(lines).encode("utf-8"))  # CRLF, no final newline, like the real file
    cfg = data_cfg(path=str(path))
    assert resolve_source(cfg) == "rt"
    corpus = read_rt(path)
    assert corpus.train.texts == ["A joy from start to finish.", "Clich\u00e9d and dull."]
    assert corpus.train.labels == [1, 0]
    assert "dropped 1 sentences with a mean rating of exactly 0" in corpus.notes


# -- errors ---------------------------------------------------------------------------


def test_missing_path(tmp_path):
    with pytest.raises(SeqtkError, match="does not exist"):
        load_corpus(data_cfg(path=str(tmp_path / "nope.csv")))


def test_empty_file(tmp_path):
    (tmp_path / "e.csv").write_text("", encoding="utf-8")
    with pytest.raises(SeqtkError, match="is empty"):
        load_corpus(data_cfg(path=str(tmp_path / "e.csv")))


def test_missing_columns_name_the_columns_found(tmp_path):
    (tmp_path / "c.csv").write_text("body,stars\nnice,1\n", encoding="utf-8")
    with pytest.raises(SeqtkError, match="no text column.*Columns found: body, stars"):
        load_corpus(data_cfg(path=str(tmp_path / "c.csv")))
    with pytest.raises(SeqtkError, match="no label column 'label'.*Columns found: body, stars"):
        load_corpus(data_cfg(path=str(tmp_path / "c.csv"), text_column="body", label_column="label"))


def test_labels_that_are_not_binary(tmp_path):
    (tmp_path / "l.csv").write_text("text,label\na,0\nb,1\nc,2\n", encoding="utf-8")
    with pytest.raises(SeqtkError, match="not binary.*'0', '1', '2'"):
        load_corpus(data_cfg(path=str(tmp_path / "l.csv")))
    with pytest.raises(SeqtkError, match="positive_label"):
        to_binary(["fresh", "rotten"])
    assert to_binary(["fresh", "rotten"], positive="fresh") == ([1, 0], ("rotten", "fresh"))


def test_non_utf8_file_names_the_byte(tmp_path):
    (tmp_path / "latin.csv").write_bytes("text,label\nCaf\xe9 noir,1\n".encode("latin-1"))
    with pytest.raises(SeqtkError, match=r"not UTF-8 text: byte 14 \(line 2, column 4\) is 0xe9"):
        load_corpus(data_cfg(path=str(tmp_path / "latin.csv")))


def test_hub_in_offline_mode_names_the_local_alternatives(tmp_path):
    # datasets reads HF_DATASETS_OFFLINE when imported, so this runs in a fresh process
    code = (
        "from seqtk.config.conversion import resolve; from seqtk.errors import SeqtkError\n"
        "from seqtk_plugins.classify.sentiment import SentimentTask; from seqtk_plugins.classify.sentiment_data import load_corpus\n"
        "raw = {'task': {'name': 'sentiment'}, 'data': {'source': 'hub', 'hub_name': 'seqtk-tests/no-such-dataset'}}\n"
        "try:\n    load_corpus(resolve(raw, 't', SentimentTask).data)\n"
        "except SeqtkError as e:\n    print(e.message)\n"
    )
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120).stdout
    assert "offline mode is on" in out
    assert "aclImdb" in out and "CSV" in out


def test_hub_without_network_fails_at_once_naming_the_local_alternatives(monkeypatch):
    from seqtk.data import tables

    def no_dns(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(tables.socket, "getaddrinfo", no_dns)
    with pytest.raises(SeqtkError) as err:
        load_corpus(data_cfg(source="hub"))
    assert "cannot reach the Hugging Face hub" in err.value.problem
    assert "aclImdb" in err.value.fix and "CSV" in err.value.fix


# -- splits ---------------------------------------------------------------------------


def test_split_is_reproducible_and_stratified():
    labels = [1] * 300 + [0] * 100  # 3:1
    a = stratified_indices(labels, {"test": 0.1, "val": 0.1}, seed=7)
    b = stratified_indices(labels, {"test": 0.1, "val": 0.1}, seed=7)
    c = stratified_indices(labels, {"test": 0.1, "val": 0.1}, seed=8)
    assert a == b and a["val"] != c["val"]
    for name, size in (("train", 320), ("val", 40), ("test", 40)):
        assert len(a[name]) == size
        assert sum(labels[i] for i in a[name]) == size * 3 // 4  # the class balance of the whole
    everything = sorted(a["train"] + a["val"] + a["test"])
    assert everything == list(range(400))  # disjoint and complete
