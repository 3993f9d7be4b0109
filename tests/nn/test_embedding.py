"""Tests for seqtk.nn.embedding.Embedding."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from seqtk.errors import SeqtkError, SeqtkValueError
from seqtk.nn.embedding import Embedding
from seqtk.text.vectors import CoverageReport, vector_file_dim
from seqtk.text.vocab import Vocab, oov_bucket

WORDS = ["like", "love", "bad", "fantastic", "not", "recommend"]

GLOVE = """like 0.1 0.2 0.3
love 1.0 1.1 1.2
the 9.0 9.0 9.0
Bad -1 -2 -3
bad 2.0 2.0 2.0
not 0 0 1e-3
like 7 7 7
"""


@pytest.fixture
def vocab() -> Vocab:
    return Vocab.build([WORDS], specials=("<pad>", "<unk>"), num_oov_buckets=2)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ basics


def test_rows_from_vocab_include_buckets(vocab: Vocab) -> None:
    emb = Embedding(vocab, 5)
    assert emb.num_embeddings == len(vocab) == 10
    assert emb.embedding_dim == 5 and emb.padding_idx == 0
    assert torch.equal(emb.weight[0], torch.zeros(5))


def test_forward_shapes(vocab: Vocab) -> None:
    emb = Embedding(vocab, 8)
    ids, _ = vocab.encode_batch([["like", "movie", "terrible"], ["bad"]])
    out = emb(ids)
    assert out.shape == (2, 3, 8)
    assert torch.equal(out[1, 1:], torch.zeros(2, 8))
    assert emb(ids.int()).shape == (2, 3, 8)
    assert emb(torch.tensor([1, 2, 3])).shape == (3, 8)


def test_int_rows_and_no_padding() -> None:
    emb = Embedding(20, 3, padding_idx=None)
    assert emb.num_embeddings == 20 and emb.padding_idx is None
    assert emb.vocab is None


@pytest.mark.parametrize("args", [(0, 3), (5, 0), (5, 3.0), (True, 3)])
def test_bad_sizes(args: tuple) -> None:
    with pytest.raises(SeqtkValueError):
        Embedding(*args)


def test_bad_padding_idx() -> None:
    with pytest.raises(SeqtkValueError, match="padding_idx"):
        Embedding(5, 3, padding_idx=5)


def test_non_integer_ids_rejected(vocab: Vocab) -> None:
    emb = Embedding(vocab, 4)
    with pytest.raises(SeqtkValueError, match=r"ids\.long\(\)"):
        emb(torch.tensor([[1.0, 2.0]]))
    with pytest.raises(SeqtkValueError, match="LongTensor"):
        emb([[1, 2]])  # type: ignore[arg-type]


def test_out_of_range_ids_rejected(vocab: Vocab) -> None:
    emb = Embedding(vocab, 4)
    with pytest.raises(SeqtkValueError, match=r"0\.\.9"):
        emb(torch.tensor([[1, 10]]))
    with pytest.raises(SeqtkValueError):
        emb(torch.tensor([[-1, 2]]))
    assert emb(torch.zeros(0, 3, dtype=torch.long)).shape == (0, 3, 4)


def test_freeze() -> None:
    emb = Embedding(10, 4, freeze=True)
    assert not emb.weight.requires_grad and emb.frozen
    emb.freeze(False)
    assert emb.weight.requires_grad
    trainable = Embedding(10, 4)
    trainable(torch.tensor([[1, 0]])).sum().backward()
    assert trainable.weight.grad is not None
    assert torch.equal(trainable.weight.grad[0], torch.zeros(4))  # pad row gets no gradient


def test_pretrained_tensor() -> None:
    weights = torch.arange(12, dtype=torch.float).view(4, 3)
    emb = Embedding(4, 3, pretrained=weights, freeze=True)
    assert torch.equal(emb.weight, weights) and emb.frozen
    with pytest.raises(SeqtkValueError, match="shape"):
        Embedding(5, 3, pretrained=weights)


def test_state_dict_roundtrip(vocab: Vocab) -> None:
    a, b = Embedding(vocab, 4), Embedding(vocab, 4)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.weight, b.weight)


# -------------------------------------------------------------- pretrained


def test_glove_file(vocab: Vocab, tmp_path: Path) -> None:
    path = write(tmp_path / "glove.txt", GLOVE)
    emb = Embedding.from_pretrained_file(path, vocab)
    assert emb.embedding_dim == 3 and emb.num_embeddings == len(vocab)
    w = emb.weight
    row = vocab.token_to_id
    assert torch.allclose(w[row("like")], torch.tensor([0.1, 0.2, 0.3]))  # first occurrence wins
    assert torch.allclose(w[row("love")], torch.tensor([1.0, 1.1, 1.2]))
    assert torch.allclose(w[row("bad")], torch.tensor([2.0, 2.0, 2.0]))  # exact case only
    assert torch.allclose(w[row("not")], torch.tensor([0.0, 0.0, 1e-3]))
    assert torch.equal(w[0], torch.zeros(3))
    assert w.requires_grad
    report = emb.coverage
    assert isinstance(report, CoverageReport)
    assert (report.found, report.total) == (4, 6)
    assert report.coverage == pytest.approx(4 / 6)
    assert report.missing_examples == ["fantastic", "recommend"]
    text = str(report)
    assert "glove.txt" in text and "4 of 6" in text and "66.7%" in text and "'fantastic'" in text


def test_missing_rows_keep_random_init(vocab: Vocab, tmp_path: Path) -> None:
    torch.manual_seed(0)
    emb = Embedding(vocab, 3)
    before = emb.weight.detach().clone()
    report = emb.load_pretrained(write(tmp_path / "g.txt", GLOVE))
    assert report is emb.coverage
    for token in ("fantastic", "recommend", "<unk>"):
        assert torch.equal(emb.weight[vocab.token_to_id(token)], before[vocab.token_to_id(token)])
    for bucket in range(vocab.num_known, len(vocab)):
        assert torch.equal(emb.weight[bucket], before[bucket])


def test_word2vec_header_and_freeze(vocab: Vocab, tmp_path: Path) -> None:
    path = write(tmp_path / "w2v.txt", "3 2\nfantastic 0.5 0.25 \nrecommend 1 2\nzebra 3 3\n")
    assert vector_file_dim(path) == 2
    emb = Embedding.from_pretrained_file(path, vocab, freeze=True)
    assert emb.embedding_dim == 2 and emb.frozen
    assert torch.allclose(emb.weight[vocab.token_to_id("fantastic")], torch.tensor([0.5, 0.25]))
    assert emb.coverage is not None and emb.coverage.found == 2


def test_gzip_file(vocab: Vocab, tmp_path: Path) -> None:
    path = tmp_path / "glove.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(GLOVE)
    assert Embedding.from_pretrained_file(path, vocab).coverage.found == 4  # type: ignore[union-attr]


def test_lowercase_matching(tmp_path: Path) -> None:
    vocab = Vocab.build([["great", "movie", "Paris"]])
    path = write(tmp_path / "cased.txt", "Great 1 1\nMOVIE 2 2\nmovie 3 3\nparis 4 4\n")
    plain = Embedding.from_pretrained_file(path, vocab)
    assert plain.coverage is not None and plain.coverage.found == 1  # only exact "movie"
    folded = Embedding.from_pretrained_file(path, vocab, lowercase=True)
    report = folded.coverage
    assert report is not None and report.found == 3 and report.lowercase_matches == 2
    assert torch.allclose(folded.weight[vocab.token_to_id("great")], torch.tensor([1.0, 1.0]))
    # An exact match beats an earlier lowercase match.
    assert torch.allclose(folded.weight[vocab.token_to_id("movie")], torch.tensor([3.0, 3.0]))
    assert torch.allclose(folded.weight[vocab.token_to_id("Paris")], torch.tensor([4.0, 4.0]))


def test_pretrained_path_argument(vocab: Vocab, tmp_path: Path) -> None:
    emb = Embedding(vocab, 3, pretrained=write(tmp_path / "g.txt", GLOVE))
    assert emb.coverage is not None and emb.coverage.found == 4


def test_words_with_spaces_are_tolerated(tmp_path: Path) -> None:
    vocab = Vocab.build([["ok"]])
    path = write(tmp_path / "g.txt", "ok 1 2\n. . . 3 4\n")
    assert Embedding.from_pretrained_file(path, vocab).coverage.found == 1  # type: ignore[union-attr]


# ------------------------------------------------------------------ errors


def test_dimension_mismatch_names_file_and_line(vocab: Vocab, tmp_path: Path) -> None:
    path = write(tmp_path / "glove.txt", GLOVE)
    with pytest.raises(SeqtkError, match=r"line 1 .*glove\.txt.* 3 values, expected 4"):
        Embedding(vocab, 4).load_pretrained(path)
    header = write(tmp_path / "w2v.txt", "2 5\nlike 1 2 3 4 5\n")
    with pytest.raises(SeqtkError, match=r"line 1 .*w2v\.txt.*5-dimensional"):
        Embedding(vocab, 4).load_pretrained(header)


@pytest.mark.parametrize(
    ("text", "line", "pattern"),
    [
        ("like 1 2 3\nlove 1 2\n", 2, "2 values, expected 3"),
        ("like 1 2 3\nzebra 1 2 3 4\n", 2, "4 values, expected 3"),
        ("like 1 2 3\n\nlove 1 x 3\n", 3, "non-number value 'x'"),
        ("like 1 2 3\nbad 1 2 3\nzebra\n", 3, "0 values"),
    ],
)
def test_malformed_line(vocab: Vocab, tmp_path: Path, text: str, line: int, pattern: str) -> None:
    path = write(tmp_path / "broken.txt", text)
    with pytest.raises(SeqtkError, match=pattern) as info:
        Embedding.from_pretrained_file(path, vocab)
    message = str(info.value)
    assert f"line {line} " in message and "broken.txt" in message and "Fix:" in message


def test_binary_or_non_utf8_file(vocab: Vocab, tmp_path: Path) -> None:
    path = tmp_path / "vectors.bin"
    path.write_bytes(b"like 1 2 3\nlove \xff\xfe 2 3\n")
    with pytest.raises(SeqtkError, match=r"line 2 .*vectors\.bin.*UTF-8"):
        Embedding.from_pretrained_file(path, vocab)


def test_missing_and_empty_files(vocab: Vocab, tmp_path: Path) -> None:
    with pytest.raises(SeqtkError, match="nope.txt.*does not exist"):
        Embedding.from_pretrained_file(tmp_path / "nope.txt", vocab)
    with pytest.raises(SeqtkError, match="empty"):
        Embedding.from_pretrained_file(write(tmp_path / "empty.txt", ""), vocab)


def test_load_pretrained_needs_vocab(tmp_path: Path) -> None:
    with pytest.raises(SeqtkValueError, match="needs a Vocab"):
        Embedding(10, 3).load_pretrained(write(tmp_path / "g.txt", GLOVE))
    big = Vocab.build([[f"w{i}" for i in range(20)]])
    with pytest.raises(SeqtkValueError, match="rows"):
        Embedding(10, 3).load_pretrained(write(tmp_path / "g.txt", GLOVE), vocab=big)


# ---------------------------------------------------------------- word dropout


def _word_ids(vocab: Vocab, rows: int = 64) -> torch.Tensor:
    ids = torch.tensor(vocab.encode(["good", "movie", "bad", "film"] * 8)).repeat(rows, 1)
    ids[:, -3:] = vocab.pad_id  # right padding
    return ids


def test_word_dropout_reads_a_share_of_the_words_through_their_oov_bucket() -> None:
    vocab = Vocab.build([["good", "movie", "bad"]], num_oov_buckets=3)
    emb = Embedding(vocab, 6, word_dropout=0.25).train()
    ids = _word_ids(vocab)
    buckets = torch.tensor([vocab.num_known + oov_bucket(t, 3) for t in ("good", "movie", "bad")])
    assert emb.unknown_ids()[1:vocab.num_known].tolist() == buckets.tolist()
    torch.manual_seed(0)
    out = emb(ids)  # (B, T, D)
    own, unknown = emb.embedding(ids), emb.embedding(emb.unknown_ids()[ids])
    as_known = (out == own).all(-1)
    as_unknown = (out == unknown).all(-1) & ~as_known
    assert (as_known | as_unknown).all()  # every token is read either as itself or as unknown
    words = ids != vocab.pad_id
    assert not as_unknown[~words].any() and (out[~words] == 0).all()  # padding stays padding
    share = as_unknown[words & (ids < vocab.num_known)].float().mean().item()
    assert 0.2 < share < 0.3
    assert torch.equal(emb.eval()(ids), own)  # evaluation reads every word


def test_word_dropout_without_buckets_zeroes_the_word_and_with_unk_uses_it() -> None:
    bare = Vocab.build([["good", "movie"]], num_oov_buckets=0)
    emb = Embedding(bare, 4, word_dropout=0.5).train()
    assert emb.unknown_ids() is None
    out = emb(torch.tensor([[1, 2, 1, 2] * 16]))
    dropped = (out == 0).all(-1)
    assert 0.2 < dropped.float().mean().item() < 0.8
    with_unk = Vocab.build([["good", "movie"]], specials=("<pad>", "<unk>"), num_oov_buckets=0)
    assert Embedding(with_unk, 4, word_dropout=0.5).unknown_ids().tolist() == [0, 1, 1, 1]


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_word_dropout_must_be_a_probability(vocab: Vocab, p: float) -> None:
    with pytest.raises(SeqtkValueError, match="word_dropout"):
        Embedding(vocab, 4, word_dropout=p)
