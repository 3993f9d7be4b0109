"""Char, word and BPE tokenizers behind one small interface.

Every tokenizer has ``tokenize(text) -> list[str]`` and
``tokenize_batch(texts) -> list[list[str]]``; :func:`make_tokenizer` builds one
by name, which is how recipes pick theirs. Word and BPE tokenizers share the
same pre-tokenization (HF ``tokenizers``: split on whitespace, then make every
punctuation character its own token), so their notion of a "word" agrees.

>>> make_tokenizer("word", lowercase=True).tokenize("Don't panic!")
['don', "'", 't', 'panic', '!']
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from seqtk.errors import SeqtkError, SeqtkValueError, suggest


@runtime_checkable
class TextTokenizer(Protocol):
    """What the rest of seqtk needs from a tokenizer."""

    kind: str

    def tokenize(self, text: str) -> list[str]: ...

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]: ...


def _word_splitter() -> pre_tokenizers.PreTokenizer:
    # Punctuation() isolates each punctuation char ("!!" -> "!", "!"), unlike
    # Whitespace(), which would keep runs of punctuation together.
    return pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])


def _check_text(text: Any) -> str:
    if not isinstance(text, str):
        raise SeqtkValueError(
            f"tokenize() expects a str, got {type(text).__name__}",
            fix="use tokenize_batch() for a list of texts",
        )
    return text


class _SavedTokenizer:
    """Saving and comparing a tokenizer whose only option is ``lowercase`` (char and word)."""

    kind = ""
    lowercase = False

    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = lowercase

    def __eq__(self, other: object) -> bool:  # equal when they split every text alike (checkpoints compare them)
        return type(other) is type(self) and other.to_dict() == self.to_dict()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint (``seqtk.tasks.learned`` stores a tokenizer this way)."""
        return {"format": "seqtk-tokenizer", "kind": self.kind, "lowercase": self.lowercase}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "the data") -> Any:
        """The tokenizer :meth:`to_dict` saved.

        >>> WordTokenizer.from_dict(WordTokenizer(lowercase=True).to_dict()) == WordTokenizer(lowercase=True)
        True
        """
        if not isinstance(data, dict) or data.get("format") != "seqtk-tokenizer" or data.get("kind") != cls.kind:
            raise SeqtkError(f"{source} is not a saved {cls.kind} tokenizer", fix="train again, or use the checkpoint that holds it")
        return cls(lowercase=bool(data.get("lowercase", False)))


class CharTokenizer(_SavedTokenizer):
    """One token per character (whitespace included).

    >>> CharTokenizer().tokenize("Hi there")
    ['H', 'i', ' ', 't', 'h', 'e', 'r', 'e']
    >>> CharTokenizer(lowercase=True).tokenize_batch(["Ab", "C"])
    [['a', 'b'], ['c']]
    """

    kind = "char"

    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = lowercase

    def tokenize(self, text: str) -> list[str]:
        text = _check_text(text)
        return list(text.lower() if self.lowercase else text)

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]

    def detokenize(self, tokens: Iterable[str]) -> str:
        """The text of ``tokens``: the characters joined.

        >>> CharTokenizer().detokenize(['H', 'i', ' ', 'y', 'o', 'u'])
        'Hi you'
        """
        return "".join(tokens)

    def __repr__(self) -> str:
        return f"CharTokenizer(lowercase={self.lowercase})"


class SpaceTokenizer(_SavedTokenizer):
    """The whitespace-separated tokens as they are: for text that is already tokenized, such as phonemes.

    >>> SpaceTokenizer().tokenize("HH AH0  L OW1")
    ['HH', 'AH0', 'L', 'OW1']
    >>> SpaceTokenizer().detokenize(['HH', 'AH0'])
    'HH AH0'
    """

    kind = "space"

    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = lowercase

    def tokenize(self, text: str) -> list[str]:
        text = _check_text(text)
        return (text.lower() if self.lowercase else text).split()

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]

    def detokenize(self, tokens: Iterable[str]) -> str:
        return " ".join(tokens)

    def __repr__(self) -> str:
        return f"SpaceTokenizer(lowercase={self.lowercase})"


class WordTokenizer(_SavedTokenizer):
    """Whitespace-separated words, with each punctuation character a separate token.

    Apostrophes are punctuation too, so contractions split into three tokens.

    >>> WordTokenizer().tokenize("I didn't like it... at ALL!")
    ['I', 'didn', "'", 't', 'like', 'it', '.', '.', '.', 'at', 'ALL', '!']
    >>> WordTokenizer(lowercase=True).tokenize("Not GREAT, Bob")
    ['not', 'great', ',', 'bob']
    """

    kind = "word"

    def __init__(self, lowercase: bool = False) -> None:
        self.lowercase = lowercase
        self._normalizer = normalizers.Lowercase() if lowercase else None
        self._split = _word_splitter().pre_tokenize_str

    def tokenize(self, text: str) -> list[str]:
        text = _check_text(text)
        if self._normalizer is not None:
            text = self._normalizer.normalize_str(text)
        return [word for word, _ in self._split(text)]

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        # Measured: a Rust-side Tokenizer.encode_batch plus slicing offsets back
        # out is no faster than this loop, because building the Python strings
        # dominates either way.
        return [self.tokenize(t) for t in texts]

    def detokenize(self, tokens: Iterable[str]) -> str:
        """The tokens joined by spaces (punctuation then stands apart: ``it .``)."""
        return " ".join(tokens)

    def __repr__(self) -> str:
        return f"WordTokenizer(lowercase={self.lowercase})"


class BPETokenizer:
    """Byte-pair-encoding subwords, trained with HF ``tokenizers``.

    Word-internal pieces carry a ``##`` prefix, so words can be put back
    together. Characters never seen in training become ``unk_token``.

    >>> texts = ["low lower lowest", "new newer newest", "wide wider widest"] * 20
    >>> bpe = BPETokenizer(vocab_size=30, min_frequency=1).train(texts)
    >>> bpe.tokenize("widest lowest")
    ['wide', '##st', 'lo', '##west']
    >>> bpe.detokenize(['wide', '##st', 'lo', '##west'])
    'widest lowest'
    >>> bpe.tokenize("newly")  # no '##l' (l only began words) and no 'y' in training
    ['ne', '##w', '<unk>', '<unk>']
    """

    kind = "bpe"
    _PREFIX = "##"

    def __init__(
        self,
        vocab_size: int = 8000,
        lowercase: bool = False,
        min_frequency: int = 2,
        unk_token: str = "<unk>",
        special_tokens: Iterable[str] = (),
    ) -> None:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
            raise SeqtkValueError(f"vocab_size must be a positive integer, got {vocab_size!r}", fix="pass e.g. 8000")
        if isinstance(min_frequency, bool) or not isinstance(min_frequency, int) or min_frequency < 0:
            # else tokenizers' trainer fails with "can't convert negative int to unsigned" at train()
            raise SeqtkValueError(f"min_frequency must be an integer >= 0, got {min_frequency!r}", fix="pass e.g. 2")
        special_tokens = list(special_tokens)
        if not isinstance(unk_token, str) or not all(isinstance(t, str) for t in special_tokens):
            raise SeqtkValueError(f"unk_token and special_tokens must be strings, got {unk_token!r} and {special_tokens!r}",
                                  fix='pass e.g. unk_token="<unk>", special_tokens=["<pad>"]')  # fmt: skip
        self.vocab_size = vocab_size
        self.lowercase = lowercase
        self.min_frequency = min_frequency
        self.unk_token = unk_token
        self.special_tokens = [unk_token] + [t for t in special_tokens if t != unk_token]
        self._hf: Tokenizer | None = None

    @property
    def is_trained(self) -> bool:
        return self._hf is not None

    @property
    def hf_tokenizer(self) -> Tokenizer:
        """The underlying trained ``tokenizers.Tokenizer`` (for ``Vocab.from_tokenizer``)."""
        if self._hf is None:
            raise SeqtkError(
                "the BPE tokenizer is not trained yet",
                fix="call .train(texts) first, or load one with BPETokenizer.load(path)",
            )
        return self._hf

    def _new_hf(self) -> Tokenizer:
        tok = Tokenizer(models.BPE(unk_token=self.unk_token, continuing_subword_prefix=self._PREFIX))
        if self.lowercase:
            tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = _word_splitter()
        tok.decoder = decoders.WordPiece(prefix=self._PREFIX)
        return tok

    def train(self, texts: Iterable[str]) -> BPETokenizer:
        """Learn merges from ``texts`` (any iterable of str); returns ``self``."""
        if isinstance(texts, str):
            raise SeqtkValueError("train() got a single string", fix="pass a list (or iterator) of texts")
        tok = self._new_hf()
        trainer = trainers.BpeTrainer(
            vocab_size=self.vocab_size,
            min_frequency=self.min_frequency,
            special_tokens=self.special_tokens,
            continuing_subword_prefix=self._PREFIX,
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        if tok.get_vocab_size() <= len(self.special_tokens):
            raise SeqtkValueError(
                "BPE training saw no text, so the tokenizer learned nothing",
                fix="pass a non-empty collection of non-empty texts",
            )
        self._hf = tok
        return self

    def tokenize(self, text: str) -> list[str]:
        return self.hf_tokenizer.encode(_check_text(text), add_special_tokens=False).tokens

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        texts = [_check_text(t) for t in texts]
        # encode_batch runs in parallel in Rust.
        return [enc.tokens for enc in self.hf_tokenizer.encode_batch(texts, add_special_tokens=False)]

    def detokenize(self, tokens: Iterable[str]) -> str:
        """Glue subword tokens back into space-separated words."""
        return self.hf_tokenizer.decoder.decode(list(tokens))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save as an HF ``tokenizer.json`` file (readable by ``tokenizers`` directly)."""
        try:
            self.hf_tokenizer.save(str(path), pretty=True)
        except Exception as err:  # tokenizers raises plain Exception on I/O errors
            raise SeqtkError(f"cannot write the BPE tokenizer to '{path}': {err}", fix="check the path") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BPETokenizer:
        """Load a tokenizer saved by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise SeqtkError(f"the BPE tokenizer file '{path}' does not exist", fix="check the path")
        try:
            hf = Tokenizer.from_file(str(path))
        except Exception as err:  # tokenizers raises plain Exception on bad JSON
            raise SeqtkError(
                f"the BPE tokenizer file '{path}' is not a valid tokenizer.json ({err})",
                fix="re-create it with BPETokenizer.save()",
            ) from None
        if not isinstance(hf.model, models.BPE):
            raise SeqtkError(
                f"the tokenizer file '{path}' holds a {type(hf.model).__name__} model, not BPE",
                fix="load it with tokenizers.Tokenizer.from_file() instead",
            )
        return cls._wrap(hf)

    @classmethod
    def _wrap(cls, hf: Tokenizer) -> BPETokenizer:
        model = hf.model
        special = [t.content for t in hf.get_added_tokens_decoder().values() if t.special]
        unk = model.unk_token or "<unk>"
        self = cls(
            vocab_size=hf.get_vocab_size(),
            lowercase=hf.normalizer is not None,
            unk_token=unk,
            special_tokens=special,
        )
        self._hf = hf
        return self

    def __eq__(self, other: object) -> bool:  # equal when they split every text alike (checkpoints compare them)
        return type(other) is type(self) and other.to_dict() == self.to_dict()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint (``seqtk.tasks.learned`` stores a trained tokenizer this way)."""
        return {"format": "seqtk-bpe", "tokenizer_json": self.hf_tokenizer.to_str()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "the data") -> BPETokenizer:
        """The tokenizer :meth:`to_dict` saved.

        >>> bpe = BPETokenizer(vocab_size=30, min_frequency=1).train(["low lower lowest"] * 5)
        >>> BPETokenizer.from_dict(bpe.to_dict()).tokenize("lowest") == bpe.tokenize("lowest")
        True
        """
        if not isinstance(data, dict) or data.get("format") != "seqtk-bpe" or not isinstance(data.get("tokenizer_json"), str):
            raise SeqtkError(f"{source} is not a saved BPE tokenizer", fix="train again, or use the checkpoint that holds it")
        try:
            hf = Tokenizer.from_str(data["tokenizer_json"])
        except Exception as err:  # tokenizers raises plain Exception on bad JSON
            raise SeqtkError(f"{source} holds a damaged BPE tokenizer ({err})", fix="train again") from None
        return cls._wrap(hf)

    def __repr__(self) -> str:
        state = "trained" if self.is_trained else "untrained"
        return f"BPETokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase}, {state})"


_KINDS: dict[str, type] = {"char": CharTokenizer, "word": WordTokenizer, "space": SpaceTokenizer, "bpe": BPETokenizer}


def make_tokenizer(kind: str, **opts: Any) -> CharTokenizer | WordTokenizer | SpaceTokenizer | BPETokenizer:
    """Build a tokenizer by name: ``"char"``, ``"word"``, ``"space"`` or ``"bpe"``.

    For ``"bpe"``, ``path=...`` loads a saved tokenizer; otherwise the options
    go to the class (the BPE one still needs ``.train(texts)``).

    >>> make_tokenizer("char").tokenize("ab")
    ['a', 'b']
    >>> make_tokenizer("wrod")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    seqtk.errors.SeqtkValueError: unknown tokenizer kind 'wrod'. Fix: Did you mean 'word'? Otherwise ...
    """
    cls = _KINDS.get(kind)
    if cls is None:
        raise SeqtkValueError(
            f"unknown tokenizer kind {kind!r}", fix=_fix_with_hint(str(kind), sorted(_KINDS), "use one of")
        )
    if cls is BPETokenizer and "path" in opts:
        path = opts.pop("path")
        if opts:
            raise SeqtkValueError(
                f"options {sorted(opts)} cannot be combined with path= for a saved BPE tokenizer",
                fix="pass only path=, the rest is stored in the file",
            )
        return BPETokenizer.load(path)
    allowed = [p for p in inspect.signature(cls).parameters if p != "self"]
    for name in opts:
        if name not in allowed:
            raise SeqtkValueError(
                f"the {kind!r} tokenizer has no option {name!r}", fix=_fix_with_hint(name, allowed, "use only")
            )
    return cls(**opts)


def _fix_with_hint(name: str, choices: list[str], lead: str) -> str:
    hint = suggest(name, choices).strip()
    listing = f"{lead}: {', '.join(choices)}"
    return f"{hint} Otherwise {listing}" if hint else listing
