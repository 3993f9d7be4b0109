"""Tests for seqtk.text.vocab.Vocab."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqtk.errors import SeqtkError, SeqtkValueError
from seqtk.text.vocab import UnknownTokenError, Vocab, oov_bucket

REPO = Path(__file__).resolve().parents[2]
MOVIE_WORDS = ["like", "love", "bad", "fantastic", "not", "recommend"]
ALL_SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


@pytest.fixture
def movie_vocab() -> Vocab:
    return Vocab.build([MOVIE_WORDS], num_oov_buckets=2)


# ------------------------------------------------------------------ layout


def test_movie_review_layout(movie_vocab: Vocab) -> None:
    assert len(movie_vocab) == 9
    assert movie_vocab.num_known == 7
    assert movie_vocab.num_oov_buckets == 2
    assert movie_vocab.encode(MOVIE_WORDS) == [1, 2, 3, 4, 5, 6]
    assert movie_vocab.encode(["movie", "terrible"]) == [7, 8]
    assert movie_vocab.decode([0, 7, 8]) == ["<pad>", "<oov:0>", "<oov:1>"]
    # Every unknown word lands in one of the two bucket ids.
    others = "the a film plot actor boring great brilliant awful".split()
    assert set(movie_vocab.encode(others)) <= {7, 8}
    assert all(movie_vocab.is_oov(i) for i in movie_vocab.encode(others))


def test_special_ids_and_layout() -> None:
    v = Vocab.build([["x", "y"]], specials=ALL_SPECIALS, num_oov_buckets=3)
    assert (v.pad_id, v.bos_id, v.eos_id, v.unk_id) == (0, 1, 2, 3)
    assert v.decode(range(len(v))) == [*ALL_SPECIALS, "x", "y", "<oov:0>", "<oov:1>", "<oov:2>"]
    assert v.num_known == 6 and len(v) == 9
    assert v.tokens == ["x", "y"]


def test_optional_specials_absent() -> None:
    v = Vocab.build([["x"]])
    assert v.pad_id == 0
    assert v.bos_id is None and v.eos_id is None and v.unk_id is None


def test_ordering_by_frequency_then_first_appearance() -> None:
    v = Vocab.build([["c", "b", "a"], ["a", "b", "d"], ["e"]])
    # a and b appear twice (b first); c, d, e once, in order of first appearance.
    assert v.tokens == ["b", "a", "c", "d", "e"]


def test_specials_in_data_are_not_known_tokens() -> None:
    v = Vocab.build([["<pad>", "x", "<unk>"]], specials=("<pad>", "<unk>"))
    assert v.tokens == ["x"]
    assert v.encode(["<unk>", "<pad>"]) == [1, 0]


def test_min_freq_and_max_size() -> None:
    seqs = [["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"]]
    assert Vocab.build(seqs, min_freq=2).tokens == ["a", "b", "c"]
    assert Vocab.build(seqs, max_size=2).tokens == ["a", "b"]
    assert Vocab.build(seqs, min_freq=3, max_size=10).tokens == ["a", "b"]
    assert Vocab.build(seqs, max_size=0).tokens == []
    # max_size counts known tokens only, not specials or buckets.
    v = Vocab.build(seqs, max_size=2, specials=ALL_SPECIALS, num_oov_buckets=4)
    assert len(v) == 4 + 2 + 4


@pytest.mark.parametrize("kwargs", [{"min_freq": 0}, {"max_size": -1}, {"num_oov_buckets": -1}, {"min_freq": 1.5}])
def test_bad_build_arguments(kwargs: dict) -> None:
    with pytest.raises(SeqtkValueError):
        Vocab.build([["a"]], **kwargs)


@pytest.mark.parametrize(
    "specials", [(), ("<unk>", "<pad>"), ("<bos>",), ("<pad>", "<pad>"), ("<pad>", "")]
)
def test_bad_specials(specials: tuple) -> None:
    with pytest.raises(SeqtkValueError):
        Vocab.build([["a"]], specials=specials)


def test_build_rejects_single_string_and_non_strings() -> None:
    with pytest.raises(SeqtkValueError, match="single string"):
        Vocab.build("hello world")
    with pytest.raises(SeqtkValueError, match="strings"):
        Vocab.build([[1, 2]])


# ---------------------------------------------------------------- unknowns


def test_unknown_without_buckets_maps_to_unk() -> None:
    v = Vocab.build([["a"]], specials=("<pad>", "<unk>"), num_oov_buckets=0)
    assert len(v) == 3
    assert v.encode(["a", "zzz"]) == [2, 1]
    assert v.token_to_id("qqq") == 1


def test_unknown_without_buckets_or_unk_raises() -> None:
    v = Vocab.build([["a"]], num_oov_buckets=0)
    with pytest.raises(UnknownTokenError) as info:
        v.encode(["a", "gobbledygook"])
    message = str(info.value)
    assert "'gobbledygook'" in message
    assert "num_oov_buckets" in message and "<unk>" in message
    assert isinstance(info.value, KeyError) and isinstance(info.value, SeqtkError)


def test_buckets_take_precedence_over_unk() -> None:
    v = Vocab.build([["a"]], specials=("<pad>", "<unk>"), num_oov_buckets=1)
    assert v.encode(["zzz", "<unk>"]) == [3, 1]


def test_oov_is_cached_and_consistent(movie_vocab: Vocab) -> None:
    first = movie_vocab.encode(["movie", "movie", "plot"])
    assert first[0] == first[1]
    assert movie_vocab.encode(["plot", "movie"]) == [first[2], first[0]]
    assert "movie" not in movie_vocab  # caching must not make it "known"
    assert movie_vocab.token_to_id("movie") == 7 + oov_bucket("movie", 2)


def test_oov_buckets_spread() -> None:
    v = Vocab.build([["a"]], num_oov_buckets=8)
    ids = v.encode([f"word{i}" for i in range(2000)])
    assert set(ids) == set(range(v.num_known, len(v)))


def test_encode_accepts_generators_and_rejects_nested(movie_vocab: Vocab) -> None:
    assert movie_vocab.encode(t for t in ["like", "movie"]) == [1, 7]
    with pytest.raises(SeqtkValueError, match="encode_batch"):
        movie_vocab.encode([["like"]])
    with pytest.raises(SeqtkValueError, match="strings"):
        movie_vocab.encode([3])


def test_bos_eos() -> None:
    v = Vocab.build([["a"]], specials=ALL_SPECIALS)
    assert v.encode(["a"], add_bos=True, add_eos=True) == [1, 4, 2]
    with pytest.raises(SeqtkValueError, match="<bos>"):
        Vocab.build([["a"]]).encode(["a"], add_bos=True)


SCRIPT = (
    "from seqtk.text.vocab import Vocab;"
    "v = Vocab.build([['like','love','bad','fantastic','not','recommend']], num_oov_buckets=5);"
    "print(v.encode('the movie was terrible boring plot acting great wow'.split()))"
)


def test_oov_buckets_stable_across_hash_seeds() -> None:
    outputs = []
    for seed in ("0", "12345", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True, timeout=120
        )
        outputs.append(done.stdout.strip())
    assert outputs[0] == outputs[1] == outputs[2]
    in_process = Vocab.build([MOVIE_WORDS], num_oov_buckets=5)
    assert outputs[0] == str(in_process.encode("the movie was terrible boring plot acting great wow".split()))


def test_bucket_hash_is_pinned() -> None:
    # Changing the hash would silently re-map every saved model's OOV ids.
    assert [oov_bucket(w, 1000) for w in ("movie", "terrible", "ü", "")] == [704, 699, 525, 756]
    assert (oov_bucket("movie", 2), oov_bucket("terrible", 2)) == (0, 1)


# ---------------------------------------------------------- decode & batch


def test_decode_errors(movie_vocab: Vocab) -> None:
    for bad in ([9], [-1], [1.5]):
        with pytest.raises(SeqtkValueError, match="0..8"):
            movie_vocab.decode(bad)
    assert movie_vocab.decode(torch.tensor([1, 2])) == ["like", "love"]
    assert movie_vocab.id_to_token(8) == "<oov:1>"


def test_encode_batch_shapes_padding_lengths(movie_vocab: Vocab) -> None:
    batch = [["like", "movie", "not"], ["bad"], []]
    ids, lengths = movie_vocab.encode_batch(batch)
    assert ids.dtype == torch.long and lengths.dtype == torch.long
    assert ids.shape == (3, 3) and lengths.tolist() == [3, 1, 0]
    assert ids.tolist() == [[1, 7, 5], [3, 0, 0], [0, 0, 0]]
    assert movie_vocab.decode_batch(ids, lengths) == [["like", "<oov:0>", "not"], ["bad"], []]
    assert movie_vocab.decode_batch(ids) == [["like", "<oov:0>", "not"], ["bad"], []]


def test_encode_batch_max_len_and_empty(movie_vocab: Vocab) -> None:
    ids, lengths = movie_vocab.encode_batch([MOVIE_WORDS, ["not"]], max_len=4)
    assert ids.shape == (2, 4) and lengths.tolist() == [4, 1]
    ids, lengths = movie_vocab.encode_batch([])
    assert ids.shape == (0, 0) and lengths.shape == (0,)
    with pytest.raises(SeqtkValueError):
        movie_vocab.encode_batch([["a"]], max_len=0)


def test_encode_batch_with_eos() -> None:
    v = Vocab.build([["a", "b"]], specials=ALL_SPECIALS)
    ids, lengths = v.encode_batch([["a", "b"], ["b"]], add_bos=True, add_eos=True)
    assert ids.tolist() == [[1, 4, 5, 2], [1, 5, 2, 0]] and lengths.tolist() == [4, 3]


def test_decode_batch_length_mismatch(movie_vocab: Vocab) -> None:
    ids, _ = movie_vocab.encode_batch([["like"]])
    with pytest.raises(SeqtkValueError):
        movie_vocab.decode_batch(ids, [1, 1])


known_token = st.sampled_from(["alpha", "beta", "gamma", "δ", "x y", "<oov:0>"])
any_token = st.text(min_size=0, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.lists(known_token, max_size=30))
def test_roundtrip_known_tokens(tokens: list[str]) -> None:
    v = Vocab.build([["alpha", "beta", "gamma", "δ", "x y", "<oov:0>"]], num_oov_buckets=3)
    assert v.decode(v.encode(tokens)) == tokens


@settings(max_examples=200, deadline=None)
@given(st.lists(any_token, max_size=20), st.integers(min_value=1, max_value=50))
def test_oov_deterministic(tokens: list[str], buckets: int) -> None:
    v1 = Vocab.build([["alpha"]], num_oov_buckets=buckets)
    v2 = Vocab.from_dict(v1.to_dict())
    ids = v1.encode(tokens)
    assert ids == v2.encode(tokens) == v1.encode(tokens)
    assert all(0 <= i < len(v1) for i in ids)
    for tok, i in zip(tokens, ids):
        if tok != "alpha" and tok not in ("<pad>",):
            assert v1.is_oov(i) or tok.startswith("<oov:")
    # Every id decodes, and decoding then encoding gives the ids back.
    assert v1.encode(v1.decode(ids)) == ids


# ----------------------------------------------------------- persistence


def test_save_load_equality(tmp_path: Path) -> None:
    v = Vocab.build([["héllo", "world", "world"]], specials=ALL_SPECIALS, num_oov_buckets=4)
    path = tmp_path / "vocab.json"
    v.save(path)
    text = path.read_text(encoding="utf-8")
    assert "\n  " in text and "héllo" in text  # indented, human-readable
    loaded = Vocab.load(path)
    assert loaded == v and len(loaded) == len(v)
    assert loaded.encode(["zzz", "world"]) == v.encode(["zzz", "world"])
    assert loaded != Vocab.build([["héllo", "world"]])
    assert (v == "not a vocab") is False


def test_to_dict_is_weights_only_safe(tmp_path: Path) -> None:
    v = Vocab.build([["a", "b"]], specials=ALL_SPECIALS)
    path = tmp_path / "ckpt.pt"
    torch.save({"vocab": v.to_dict(), "w": torch.zeros(1)}, path)
    data = torch.load(path, weights_only=True)
    assert Vocab.from_dict(data["vocab"]) == v


def test_pickle_roundtrip() -> None:
    v = Vocab.build([["a", "b"]], num_oov_buckets=3)
    v.encode(["unseen"])  # fills the cache, which must not travel
    copy = pickle.loads(pickle.dumps(v))
    assert copy == v and copy.encode(["unseen", "a"]) == v.encode(["unseen", "a"])


def test_save_keeps_lone_surrogates_and_never_truncates_the_old_file(tmp_path: Path, monkeypatch) -> None:
    # text read with errors="surrogateescape" carries lone surrogates, which have no UTF-8 form
    path = tmp_path / "vocab.json"
    Vocab.build([["a"]]).save(path)
    odd = Vocab.build([["caf\udce9", "b"]])
    odd.save(path)
    assert Vocab.load(path) == odd
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("shutil.copyfileobj", full_disk)
    with pytest.raises(SeqtkError, match="No space left on device"):
        Vocab.build([["x"]]).save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["vocab.json"]


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SeqtkError, match="nope.json.*does not exist"):
        Vocab.load(tmp_path / "nope.json")


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ('{"format": "seqtk.text.vocab", ', "not valid JSON"),
        ("[1, 2]", "not a seqtk vocabulary"),
        ('{"format": "seqtk.text.vocab", "version": 1, "oov_hash": "blake2b-64"}', "lacks the"),
        (
            '{"format": "seqtk.text.vocab", "version": 1, "oov_hash": "blake2b-64", '
            '"num_oov_buckets": 1, "specials": ["<pad>"], "tokens": ["a", "a"]}',
            "invalid",
        ),
        ('{"format": "seqtk.text.vocab", "version": 99, "oov_hash": "blake2b-64"}', "version 99"),
    ],
)
def test_load_corrupt_file(tmp_path: Path, content: str, pattern: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SeqtkError, match=pattern) as info:
        Vocab.load(path)
    assert "broken.json" in str(info.value)
    assert "Fix:" in str(info.value)


def test_saved_json_schema(tmp_path: Path) -> None:
    v = Vocab.build([["a"]], num_oov_buckets=2)
    v.save(tmp_path / "v.json")
    data = json.loads((tmp_path / "v.json").read_text())
    assert data["tokens"] == ["a"] and data["specials"] == ["<pad>"] and data["num_oov_buckets"] == 2


# ------------------------------------------------------------ tokenizer


def test_from_hf_tokenizer() -> None:
    from tokenizers import Tokenizer, models

    hf = Tokenizer(models.WordLevel({"<unk>": 0, "hello": 1, "world": 2}, unk_token="<unk>"))
    v = Vocab.from_tokenizer(hf, specials=("<pad>", "<unk>"), num_oov_buckets=1)
    assert v.decode(range(len(v))) == ["<pad>", "<unk>", "hello", "world", "<oov:0>"]
    v2 = Vocab.from_tokenizer(hf)
    assert v2.tokens == ["<unk>", "hello", "world"]


def test_from_tokenizer_rejects_untrained() -> None:
    from seqtk.text.tokenize import BPETokenizer, WordTokenizer

    with pytest.raises(SeqtkValueError, match="learned vocabulary"):
        Vocab.from_tokenizer(WordTokenizer())
    with pytest.raises(SeqtkError, match="not trained"):
        Vocab.from_tokenizer(BPETokenizer())
