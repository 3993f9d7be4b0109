"""Tests for seqtk.text.tokenize."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqtk.errors import SeqtkError, SeqtkValueError
from seqtk.text.tokenize import (
    BPETokenizer,
    CharTokenizer,
    TextTokenizer,
    WordTokenizer,
    make_tokenizer,
)
from seqtk.text.vocab import Vocab

REVIEWS = [
    "I loved this movie! Fantastic acting, great plot.",
    "Terrible film... I wouldn't recommend it to anyone.",
    "Not bad, not great: an okay movie.",
    "The lowest, lower and newest films were fantastic!",
] * 10


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer(vocab_size=120, min_frequency=2).train(REVIEWS)


# -------------------------------------------------------------------- char


def test_char_tokenizer() -> None:
    tok = CharTokenizer()
    assert tok.tokenize("a b!") == ["a", " ", "b", "!"]
    assert tok.tokenize("") == []
    assert tok.tokenize("héllo") == list("héllo")
    assert CharTokenizer(lowercase=True).tokenize("AbC") == ["a", "b", "c"]
    assert tok.tokenize_batch(["ab", "c"]) == [["a", "b"], ["c"]]


# -------------------------------------------------------------------- word


def test_word_splits_whitespace_and_punctuation() -> None:
    tok = WordTokenizer()
    assert tok.tokenize("Hello,   world!\n\tBye.") == ["Hello", ",", "world", "!", "Bye", "."]
    assert tok.tokenize("") == []
    assert tok.tokenize("   ") == []


def test_word_apostrophes_and_repeated_punctuation() -> None:
    tok = WordTokenizer()
    assert tok.tokenize("I wouldn't!!") == ["I", "wouldn", "'", "t", "!", "!"]
    assert tok.tokenize("the cast's work...") == ["the", "cast", "'", "s", "work", ".", ".", "."]
    assert tok.tokenize("(great) movie; 10/10") == ["(", "great", ")", "movie", ";", "10", "/", "10"]
    assert tok.tokenize("«Très» bien") == ["«", "Très", "»", "bien"]


def test_word_lowercase_option() -> None:
    assert WordTokenizer(lowercase=True).tokenize("GREAT Movie, Ünique") == ["great", "movie", ",", "ünique"]
    assert WordTokenizer(lowercase=False).tokenize("GREAT Movie") == ["GREAT", "Movie"]


def test_word_batch_matches_single() -> None:
    tok = WordTokenizer(lowercase=True)
    assert tok.tokenize_batch(REVIEWS[:4]) == [tok.tokenize(t) for t in REVIEWS[:4]]


def test_tokenize_rejects_non_string() -> None:
    for tok in (CharTokenizer(), WordTokenizer()):
        with pytest.raises(SeqtkValueError, match="tokenize_batch"):
            tok.tokenize(["a list"])  # type: ignore[arg-type]


# --------------------------------------------------------------------- bpe


def test_bpe_untrained_errors() -> None:
    with pytest.raises(SeqtkError, match="not trained"):
        BPETokenizer().tokenize("hello")


def test_bpe_trains_and_tokenizes(bpe: BPETokenizer) -> None:
    assert bpe.is_trained
    assert bpe.hf_tokenizer.get_vocab_size() <= 120
    tokens = bpe.tokenize("Fantastic movie, great plot!")
    assert "," in tokens and tokens[-1] == "!"
    assert bpe.detokenize(tokens) == "Fantastic movie, great plot!"
    # Subword pieces inside a word carry the ## prefix; word starts never do.
    rare = bpe.tokenize("moviegoers")
    assert len(rare) > 1 and not rare[0].startswith("##") and all(p.startswith("##") for p in rare[1:])
    # Characters never seen in training become <unk>.
    assert "<unk>" in bpe.tokenize("movie ☃")


def test_bpe_vocab_size_option() -> None:
    small = BPETokenizer(vocab_size=60, min_frequency=1).train(REVIEWS)
    big = BPETokenizer(vocab_size=200, min_frequency=1).train(REVIEWS)
    assert small.hf_tokenizer.get_vocab_size() <= 60 < big.hf_tokenizer.get_vocab_size()
    text = "the newest fantastic films"
    assert len(small.tokenize(text)) >= len(big.tokenize(text))


def test_bpe_lowercase() -> None:
    tok = BPETokenizer(vocab_size=100, lowercase=True, min_frequency=1).train(REVIEWS)
    assert tok.tokenize("FANTASTIC") == tok.tokenize("fantastic")
    assert all(t == t.lower() for t in tok.hf_tokenizer.get_vocab())


def test_bpe_batch_matches_single(bpe: BPETokenizer) -> None:
    assert bpe.tokenize_batch(REVIEWS[:4]) == [bpe.tokenize(t) for t in REVIEWS[:4]]


def test_bpe_save_load(bpe: BPETokenizer, tmp_path: Path) -> None:
    path = tmp_path / "bpe.json"
    bpe.save(path)
    loaded = BPETokenizer.load(path)
    assert loaded.tokenize_batch(REVIEWS[:4]) == bpe.tokenize_batch(REVIEWS[:4])
    assert loaded.hf_tokenizer.get_vocab() == bpe.hf_tokenizer.get_vocab()
    assert make_tokenizer("bpe", path=path).tokenize("great plot") == bpe.tokenize("great plot")


def test_bpe_load_errors(tmp_path: Path) -> None:
    with pytest.raises(SeqtkError, match="does not exist"):
        BPETokenizer.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SeqtkError, match="bad.json"):
        BPETokenizer.load(bad)


def test_bpe_train_on_nothing() -> None:
    with pytest.raises(SeqtkValueError, match="no text"):
        BPETokenizer().train([])
    with pytest.raises(SeqtkValueError, match="single string"):
        BPETokenizer().train("just one text")


def test_vocab_from_bpe_tokenizer(bpe: BPETokenizer) -> None:
    vocab = Vocab.from_tokenizer(bpe, specials=("<pad>", "<unk>"), num_oov_buckets=2)
    hf_vocab = bpe.hf_tokenizer.get_vocab()
    # Every BPE token is known; the tokenizer's <unk> maps onto our <unk> special.
    assert vocab.num_known == 1 + len(hf_vocab)
    tokens = bpe.tokenize("Fantastic movie ☃")
    ids = vocab.encode(tokens)
    assert vocab.decode(ids) == tokens
    assert ids[-1] == vocab.unk_id
    assert not any(vocab.is_oov(i) for i in ids)
    # The HF Tokenizer object works too.
    assert Vocab.from_tokenizer(bpe.hf_tokenizer, specials=("<pad>", "<unk>"), num_oov_buckets=2) == vocab


# ---------------------------------------------------------------- factory


def test_make_tokenizer_kinds() -> None:
    assert isinstance(make_tokenizer("char"), CharTokenizer)
    word = make_tokenizer("word", lowercase=True)
    assert isinstance(word, WordTokenizer) and word.lowercase
    bpe = make_tokenizer("bpe", vocab_size=50)
    assert isinstance(bpe, BPETokenizer) and bpe.vocab_size == 50
    for tok in (make_tokenizer("char"), word, bpe):
        assert isinstance(tok, TextTokenizer)


def test_make_tokenizer_unknown_kind_suggests() -> None:
    with pytest.raises(SeqtkValueError, match="Did you mean 'word'") as info:
        make_tokenizer("words")
    assert "bpe, char, space, word" in str(info.value)


def test_make_tokenizer_unknown_option_suggests() -> None:
    with pytest.raises(SeqtkValueError, match="Did you mean 'lowercase'"):
        make_tokenizer("word", lowercse=True)
    with pytest.raises(SeqtkValueError, match="vocab_size"):
        make_tokenizer("bpe", vocab_sise=10)
    with pytest.raises(SeqtkValueError, match="path="):
        make_tokenizer("bpe", path="x.json", vocab_size=10)


def test_word_tokens_build_vocab() -> None:
    tok = WordTokenizer(lowercase=True)
    vocab = Vocab.build(tok.tokenize_batch(REVIEWS), min_freq=2)
    assert "fantastic" in vocab and "!" in vocab and "'" in vocab
