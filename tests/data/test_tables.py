"""seqtk.data.tables: every supported file type read offline as strings, and each bad input's message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqtk.data import tables
from seqtk.data.tables import read_file
from seqtk.errors import SeqtkError

ROWS = [{"word": "007", "phones": "D AH1 B AH0 L"}, {"word": "null", "phones": "N AH1 L"}, {"word": "NA", "phones": "EH1 N EY1"}]


def write(path, rows, kind):
    if kind in ("csv", "tsv"):
        sep = "," if kind == "csv" else "\t"
        lines = [sep.join(rows[0])] + [sep.join(r.values()) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif kind == "jsonl":
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    elif kind == "json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_every_file_type_reads_the_same_strings(tmp_path, kind):
    table = read_file(write(tmp_path / f"pairs.{kind}", ROWS, kind))
    assert table.names == ["word", "phones"] and len(table) == 3
    assert table.column("word") == ["007", "null", "NA"]  # not 7, not missing
    assert table.column("phones")[0] == "D AH1 B AH0 L"
    assert table.where == f"the file '{tmp_path / f'pairs.{kind}'}'"


def test_a_suffix_is_matched_without_case(tmp_path):
    assert read_file(write(tmp_path / "PAIRS.CSV", ROWS, "csv")).column("word")[0] == "007"


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("gone.csv", None, "data.path '.*gone.csv' does not exist"),
        ("a.xlsx", "x", "unknown file type '.xlsx'"),
        ("noext", "x", r"unknown file type '\(none\)'"),
        ("empty.csv", "", "is empty"),
        ("blank.jsonl", " \n\n", "is empty"),
        ("bad.jsonl", '{"a": 1}\n{"a": \n', "cannot read '.*bad.jsonl' as JSONL"),
        ("ragged.csv", "a,b\n1,2\n3,4,5,6\n", "cannot read '.*ragged.csv' as CSV"),
    ],
)
def test_bad_files_are_named_with_the_problem(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SeqtkError, match=expected) as err:
        read_file(path, key="data.path")
    assert err.value.fix


def test_a_folder_is_not_a_file_and_the_key_is_the_callers(tmp_path):
    with pytest.raises(SeqtkError, match="data.test_path '.*' is not a file") as err:
        read_file(tmp_path, key="data.test_path")
    assert "data.test_path" in err.value.fix


def test_a_file_that_is_not_utf8_names_the_byte(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"word,phones\ncaf\xe9,K AE0 F EY1\n")
    with pytest.raises(SeqtkError, match=r"not UTF-8 text: byte 15 \(line 2, column 4\)"):
        read_file(path)


def test_pick_names_the_columns_found_and_the_closest(tmp_path):
    table = read_file(write(tmp_path / "p.csv", ROWS, "csv"))
    assert table.pick("phones", (), "target", "data.target_column") == "phones"
    assert table.pick("auto", ("source", "word"), "source", "data.source_column") == "word"
    with pytest.raises(SeqtkError) as err:
        table.pick("phonemes", (), "target", "data.target_column")
    assert err.value.problem.endswith("has no target column 'phonemes'. Did you mean 'phones'? Columns found: word, phones")
    assert err.value.fix == "set data.target_column to one of the columns found"
    with pytest.raises(SeqtkError, match=r"no source column \(looked for src, input\). Columns found: word, phones"):
        table.pick("auto", ("src", "input"), "source", "data.source_column")


def test_class_label_columns_give_their_names():
    from datasets import ClassLabel, Dataset, Features, Value

    ds = Dataset.from_dict({"t": ["a", "b"], "y": [1, 0]}, features=Features({"t": Value("string"), "y": ClassLabel(names=["neg", "pos"])}))
    table = tables.Table("demo", ds)
    assert table.class_names("y") == ("neg", "pos") and table.class_names("t") == ()


def test_the_hub_fails_at_once_without_a_network(monkeypatch):
    def no_dns(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(tables.socket, "getaddrinfo", no_dns)
    with pytest.raises(SeqtkError) as err:
        tables.load_hub("someone/pairs", None, "train", "set data.path to a local TSV file")
    assert "cannot reach the Hugging Face hub" in err.value.problem and "'someone/pairs'" in err.value.problem
    assert err.value.fix.endswith("or set data.path to a local TSV file")


def test_offline_mode_is_named(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    assert tables.offline_note() == " (Hugging Face offline mode is on)"
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    assert tables.offline_note() == ""


def test_reading_a_table_leaves_no_copy_in_the_datasets_cache_nor_a_temp_folder(tmp_path):
    # datasets kept an Arrow copy and a lock file of every distinct file it read in ~/.cache/huggingface
    # for good: one more copy of the data each time a user edited a CSV and trained again
    import tempfile

    from datasets import config

    cache = Path(config.HF_DATASETS_CACHE)
    before = set(cache.rglob("*")) if cache.exists() else set()
    temps = set(Path(tempfile.gettempdir()).glob("seqtk-table-*"))
    path = tmp_path / "t.csv"
    for n in range(3):
        path.write_text(f"text,label\nhello {n},a\nbye {n},b\n", encoding="utf-8")
        assert read_file(path).column("text") == [f"hello {n}", f"bye {n}"]
    after = set(cache.rglob("*")) if cache.exists() else set()
    assert after - before == set()
    assert set(Path(tempfile.gettempdir()).glob("seqtk-table-*")) == temps
