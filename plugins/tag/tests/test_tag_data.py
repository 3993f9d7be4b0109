"""The tag task's data: Brown tag sets, splits by file and by sentence, folders, and two real corpora.

The real-data tests fetch through seqtk.data.fetch into the seqtk data folder (as a run would) and skip, with the
reason, when the download is unavailable (no network and no cached copy).
"""

from __future__ import annotations

import collections
import json

import pytest

from seqtk.data.archives import extract_members
from seqtk.data.fetch import Pinned, data_dir, fetch
from seqtk.errors import SeqtkError
from seqtk_plugins.tag.config import TagData
from seqtk_plugins.tag.corpus import load_splits
from seqtk_plugins.tag.readers import ReadOptions, Sentence, read_file
from seqtk_plugins.tag.splits import Document, shares, split_documents
from seqtk_plugins.tag.tagsets import UNIVERSAL_TAGS, strip_markers, to_universal

TURKISH = Pinned(
    name="the Turkish web and wiki treebanks (PyPI turkish-treebanks 1.0.0)",
    filename="turkish_treebanks-1.0.0-py3-none-any.whl",
    sha256="5a009c29a8e96e8f7e25059d59ac293c3baead6d746bf0fa4c9d3349b1e37ba0",
    size=1_169_164,
    pip_spec="turkish-treebanks==1.0.0",
)


def fetched(pinned: Pinned):
    try:
        return fetch(pinned)
    except SeqtkError as exc:
        pytest.skip(f"{pinned.name} is not in the data folder and cannot be downloaded: {exc.problem}")


def test_brown_tag_markers_and_universal_mapping():
    assert strip_markers("fw-nn-tl-nc") == "nn" and strip_markers("NN-HL") == "nn" and strip_markers("ppss+ber-n") == "ppss+ber-n"
    cases = {"ppss+md": "PRT", "md+ppss": "VERB", "in+in": "ADP", "nil": "X", "od-tl": "ADJ", "ql": "ADV", "cs": "ADP",
             "wps+bez-nc": "PRT", "cd$": "NOUN", "pp$$": "PRON", "*": "ADV", "'": ".", "fw-*": "X", "uh": "PRT"}  # fmt: skip
    assert {tag: to_universal(tag) for tag in cases} == cases
    assert set(map(to_universal, ["at", "nn", "vb", "jj", "rb", "in", "cc", "cd", "pps", "rp", ".", "fw-nn"])) == set(UNIVERSAL_TAGS)


def test_brown_corpus_counts_and_the_universal_counts_of_nltk():
    from seqtk_plugins.tag.brown import BROWN, brown_folder, read_brown

    fetched(BROWN)
    folder = brown_folder()
    raw = read_brown(folder, "raw")
    assert len(raw) == 500 and len({d.genre for d in raw}) == 15
    sentences = [s for d in raw for s in d.sentences]
    assert (len(sentences), sum(len(s.words) for s in sentences)) == (57_340, 1_161_192)
    tags = collections.Counter(t for s in sentences for t in s.tags)
    assert len(tags) == 472
    assert len({strip_markers(t) for t in tags}) == 190
    universal = collections.Counter()
    for tag, n in tags.items():
        universal[to_universal(tag)] += n
    assert universal == {"NOUN": 275_558, "VERB": 182_750, ".": 147_565, "ADP": 144_766, "DET": 137_019, "ADJ": 83_721,
                         "ADV": 56_239, "PRON": 49_334, "CONJ": 38_151, "PRT": 29_829, "NUM": 14_874, "X": 1_386}  # fmt: skip


def test_brown_is_split_by_file_stratified_by_genre():
    from seqtk_plugins.tag.brown import BROWN

    fetched(BROWN)
    splits, name = load_splits(TagData(source="brown", tags="universal"))
    assert name == "Brown corpus, universal tags"
    docs = splits.documents
    assert [len(docs[n]) for n in ("train", "val", "test")] == [400, 50, 50]
    assert not set(docs["train"]) & set(docs["val"]) and not set(docs["val"]) & set(docs["test"])
    per_genre = collections.Counter(d[1] for n in docs for d in docs[n])  # ca01 -> a
    assert collections.Counter(d[1] for d in docs["val"]) == {g: n for g, n in shares(per_genre, 50).items() if n}
    again, _ = load_splits(TagData(source="brown", tags="universal"))
    other, _ = load_splits(TagData(source="brown", tags="universal", split_seed=1))
    assert again.fingerprint() == splits.fingerprint() != other.fingerprint()


def test_turkish_treebanks_read_as_conllu():
    archive = fetched(TURKISH)
    folder = data_dir() / "turkish-treebanks-1.0.0"
    files = {name: folder / name for name in ("web.conllu", "wiki.conllu")}
    if not all(path.is_file() for path in files.values()):
        extract_members(archive, {f"data/{name}": path for name, path in files.items()})
    web, wiki = read_file(files["web.conllu"]), read_file(files["wiki.conllu"])
    assert (len(web), len(wiki)) == (2_541, 2_310)
    upos = {t for s in web + wiki for t in s.tags}
    assert {"NOUN", "VERB", "PUNCT", "ADJ"} <= upos and "_" not in upos
    assert read_file(files["web.conllu"], ReadOptions(conllu_tag="xpos"))[0].tags == ("PRD", "RPC", "NOMP", "CC", "NOMP", "RPQ", ".")


def test_shares_are_proportional_and_sum_to_the_total():
    sizes = {"a": 44, "b": 27, "r": 9, "j": 80}
    for total in (1, 5, 16, 50):
        got = shares(sizes, total)
        assert sum(got.values()) == total
        assert all(abs(got[g] - sizes[g] * total / 160) < 1 for g in sizes)


def test_split_documents_keeps_documents_whole():
    docs = [Document(f"d{i}", "ab"[i % 2], [Sentence((f"w{i}", "x"), ("T", "U"))] * 3) for i in range(20)]
    splits = split_documents(docs, 0.2, 0.1, seed=3)
    assert [len(splits.documents[n]) for n in ("train", "val", "test")] == [14, 4, 2]
    assert len(splits.train) == 42
    with pytest.raises(SeqtkError, match="the test split is empty.*more documents"):
        split_documents(docs[:2], 0.5, 0.4, seed=0)


def test_a_file_with_val_file_and_a_carved_test_split(tmp_path):
    rows = [{"tokens": [f"w{i}", "x"], "tags": ["A", "B"]} for i in range(50)]
    (tmp_path / "all.jsonl").write_text("\n".join(map(json.dumps, rows)), encoding="utf-8")
    (tmp_path / "dev.txt").write_text("a/A b/B\n", encoding="utf-8")
    splits, _ = load_splits(TagData(path=str(tmp_path / "all.jsonl"), val_path=str(tmp_path / "dev.txt"), test_fraction=0.2))
    assert [len(splits[n]) for n in ("train", "val", "test")] == [40, 1, 10]
    assert splits.how == "by sentence"


def test_a_folder_of_split_files_and_a_folder_of_documents(tmp_path):
    ud = tmp_path / "ud"
    ud.mkdir()
    line = "1\tA\ta\tX\tX\t_\t0\troot\t_\t_\n\n"
    for name, n in (("xx-ud-train.conllu", 8), ("xx-ud-dev.conllu", 2), ("xx-ud-test.conllu", 3)):
        (ud / name).write_text(line * n, encoding="utf-8")
    (ud / "README.md").write_text("# a treebank\n", encoding="utf-8")
    splits, _ = load_splits(TagData(path=str(ud)))
    assert [len(splits[n]) for n in ("train", "val", "test")] == [8, 2, 3]
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(10):
        (docs / f"doc{i:02d}").write_text("\tThe/at dog/nn\n\tA/at cat/nn\n", encoding="utf-8")
    splits, _ = load_splits(TagData(path=str(docs), max_documents=5, val_fraction=0.2, test_fraction=0.2))
    assert sum(len(splits.documents[n]) for n in splits.documents) == 5
    assert splits.how == "by file" and len(splits.val) == 2
