"""Token <-> id mapping with hashed out-of-vocabulary buckets.

Index layout (the same for every :class:`Vocab`, like TensorFlow's
``StaticVocabularyTable``)::

    0                      the padding token (always)
    1 .. S-1               the other specials, in the order given (bos, eos, unk, ...)
    S .. K-1               known tokens, most frequent first (ties: first seen first)
    K .. K+B-1             the B out-of-vocabulary (OOV) buckets

``K`` is :attr:`Vocab.num_known` (specials plus known tokens) and ``B`` is
:attr:`Vocab.num_oov_buckets`, so ``len(vocab) == K + B`` and an embedding
table with ``len(vocab)`` rows covers every id ``encode`` can return.

An unknown token goes to bucket ``blake2b_64(utf8(token)) % B`` -- a hash that
is the same in every process, on every machine and for every
``PYTHONHASHSEED``, so ids saved today mean the same thing tomorrow. With no
buckets, unknown tokens map to the ``<unk>`` special if there is one, and are
an error otherwise.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqtk.errors import SeqtkError, SeqtkValueError
from seqtk.text.vocab_io import FORMAT, FORMAT_VERSION, OOV_HASH, check_vocab_data, read_vocab_file, write_vocab_file

if TYPE_CHECKING:  # pragma: no cover
    import torch

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
# Bounds the memory the OOV cache can take on an endless stream of new words;
# past it, unknown tokens are still mapped correctly, just hashed every time.
_CACHE_LIMIT = 1_000_000


class UnknownTokenError(SeqtkError, KeyError):
    """A token is not in the vocabulary and there is no bucket or ``<unk>`` for it."""

    def __str__(self) -> str:
        # KeyError would otherwise print the repr of the message, quotes and all.
        return self.message


def oov_bucket(token: str, num_buckets: int) -> int:
    """Return the bucket (``0 .. num_buckets-1``) of an unknown token.

    Stable across processes and machines: it hashes the UTF-8 bytes with
    BLAKE2b (64-bit digest), never Python's salted ``hash()``.

    >>> oov_bucket("movie", 2), oov_bucket("terrible", 2)
    (0, 1)
    """
    # surrogatepass: lone surrogates are valid str values and must hash too.
    data = token.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") % num_buckets


def oov_marker(bucket: int) -> str:
    """The readable string that ``decode`` gives for OOV bucket ``bucket``."""
    return f"<oov:{bucket}>"


class Vocab:
    """Maps tokens to ids: specials, then known tokens, then OOV buckets.

    The lectures' movie-review example: six known words and two OOV buckets.
    Every other word lands in bucket id 7 or 8.

    >>> vocab = Vocab.build([["like", "love", "bad", "fantastic", "not", "recommend"]],
    ...                     num_oov_buckets=2)
    >>> len(vocab), vocab.num_known, vocab.pad_id
    (9, 7, 0)
    >>> vocab.encode(["not", "like", "movie", "terrible"])
    [5, 1, 7, 8]
    >>> vocab.decode([5, 1, 7, 8])
    ['not', 'like', '<oov:0>', '<oov:1>']
    >>> "movie" in vocab
    False

    Batches come back right-padded with ``pad_id``, plus their lengths:

    >>> ids, lengths = vocab.encode_batch([["love", "movie"], ["bad"]])
    >>> ids.tolist(), lengths.tolist()
    ([[2, 7], [3, 0]], [2, 1])
    """

    # Read-only once built (changing them would desynchronise the tables).
    specials: tuple[str, ...]
    num_known: int  #: specials plus known tokens; also the id of the first OOV bucket
    num_oov_buckets: int
    pad_id: int  #: always 0
    bos_id: int | None
    eos_id: int | None
    unk_id: int | None

    def __init__(self, tokens: Sequence[str] = (), specials: Sequence[str] = (PAD,), num_oov_buckets: int = 1) -> None:
        """Make a vocab from known ``tokens`` already in id order (see :meth:`build`)."""
        self.specials, self._tokens = _check_entries(specials, tokens)
        self.num_oov_buckets = _check_count("num_oov_buckets", num_oov_buckets)
        known = list(self.specials) + self._tokens
        self.num_known = len(known)
        self._itos = known + [oov_marker(b) for b in range(self.num_oov_buckets)]
        self._stoi = {tok: i for i, tok in enumerate(known)}
        # The encode table also holds the bucket markers, so that
        # encode(decode(ids)) == ids for bucket ids too, and caches the ids of
        # unknown tokens seen so far. A real token wins over a marker.
        self._lookup = {tok: i for i, tok in enumerate(self._itos) if i >= self.num_known}
        self._lookup.update(self._stoi)
        self._getitem = self._lookup.__getitem__
        ids = {tok: i for i, tok in enumerate(self.specials)}
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = 0, ids.get(BOS), ids.get(EOS), ids.get(UNK)

    @classmethod
    def build(
        cls,
        token_sequences: Iterable[Iterable[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (PAD,),
        num_oov_buckets: int = 1,
    ) -> Vocab:
        """Count tokens and keep those seen at least ``min_freq`` times.

        Known tokens are ordered by descending count, ties by first appearance;
        ``max_size`` caps the number of known tokens (specials and buckets are
        not counted). Tokens equal to a special are not counted as known.

        >>> v = Vocab.build([["b", "a", "b"], ["c", "a", "d"]], min_freq=2,
        ...                 specials=("<pad>", "<unk>"), num_oov_buckets=0)
        >>> v.decode(range(len(v)))
        ['<pad>', '<unk>', 'b', 'a']
        >>> v.encode(["c"])
        [1]
        """
        if isinstance(token_sequences, str):
            raise SeqtkValueError("Vocab.build() got a single string", fix="pass a list of token lists")
        _check_count("min_freq", min_freq, minimum=1)
        if max_size is not None:
            _check_count("max_size", max_size)
        counts: Counter[str] = Counter()
        for seq in token_sequences:
            counts.update(seq)
        for special in specials:
            counts.pop(special, None)
        # sorted() is stable and Counter keeps first-seen order, so ties keep it.
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])
        tokens = [tok for tok, n in ranked if n >= min_freq]
        if max_size is not None:
            tokens = tokens[:max_size]
        return cls(tokens, specials=specials, num_oov_buckets=num_oov_buckets)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, specials: Sequence[str] = (PAD,), num_oov_buckets: int = 1) -> Vocab:
        """Build from a trained HF ``tokenizers.Tokenizer`` (or a seqtk BPE tokenizer).

        Known tokens follow the tokenizer's own id order; tokens equal to one of
        ``specials`` take the special's id instead.
        """
        hf = getattr(tokenizer, "hf_tokenizer", tokenizer)
        table = hf.get_vocab(with_added_tokens=True) if hasattr(hf, "get_vocab") else {}
        if not table:
            raise SeqtkValueError(
                f"Vocab.from_tokenizer() needs a tokenizer with a learned vocabulary, got {type(tokenizer).__name__}",
                fix="pass a trained tokenizers.Tokenizer or BPETokenizer; for char/word tokenizers use "
                "Vocab.build(tokenizer.tokenize_batch(texts))",
            )
        skip = set(specials)
        tokens = [tok for tok, _ in sorted(table.items(), key=lambda kv: kv[1]) if tok not in skip]
        return cls(tokens, specials=specials, num_oov_buckets=num_oov_buckets)

    @property
    def tokens(self) -> list[str]:
        """Known (non-special) tokens in id order."""
        return list(self._tokens)

    def is_oov(self, idx: int) -> bool:
        """True if ``idx`` is an OOV bucket id."""
        return self.num_known <= idx < len(self._itos)


    def encode(self, tokens: Iterable[str], *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Map tokens to ids; unknown tokens go to their OOV bucket (or ``<unk>``)."""
        if not isinstance(tokens, (list, tuple, str)):
            tokens = list(tokens)  # the fallback below needs a second pass
        try:
            ids = list(map(self._getitem, tokens))
        except KeyError:
            lookup = self._lookup
            ids = [lookup[t] if t in lookup else self._unknown_id(t) for t in tokens]
        except TypeError:
            raise SeqtkValueError(
                "encode() expects a flat sequence of string tokens",
                fix="use encode_batch() for a list of token lists",
            ) from None
        if add_bos:
            ids.insert(0, self._require("bos", self.bos_id))
        if add_eos:
            ids.append(self._require("eos", self.eos_id))
        return ids

    def token_to_id(self, token: str) -> int:
        """The id of one token (an OOV bucket id for unknown tokens)."""
        return self.encode([token])[0]

    def oov_id(self, token: str) -> int:
        """The id ``token`` gets when it is not in the vocabulary: its OOV bucket (or ``<unk>``), even for a
        known token (word dropout reads known words this way, :mod:`seqtk.nn.embedding`).

        >>> vocab = Vocab.build([["good", "movie"]], num_oov_buckets=2)
        >>> vocab.token_to_id("movie"), vocab.oov_id("movie"), vocab.token_to_id("film") == vocab.oov_id("film")
        (2, 3, True)
        """
        if not isinstance(token, str):
            raise SeqtkValueError(
                f"tokens must be strings, got {type(token).__name__} {token!r}",
                fix="tokenize text first, e.g. with seqtk.text.tokenize.make_tokenizer('word')",
            )
        if self.num_oov_buckets:
            idx = self.num_known + oov_bucket(token, self.num_oov_buckets)
        elif self.unk_id is not None:
            idx = self.unk_id
        else:
            shown = token if len(token) <= 40 else token[:40] + "..."
            raise UnknownTokenError(
                f"the token {shown!r} is not in the vocabulary, which has no OOV buckets and no {UNK} token",
                fix=f"build the Vocab with num_oov_buckets >= 1 or add {UNK!r} to specials",
            )
        return idx

    def _unknown_id(self, token: str) -> int:
        idx = self.oov_id(token)
        if len(self._lookup) < _CACHE_LIMIT:
            self._lookup[token] = idx
        return idx

    def _require(self, name: str, idx: int | None) -> int:
        if idx is None:
            raise SeqtkValueError(f"add_{name}=True but there is no <{name}> token", fix=f"add '<{name}>' to specials")
        return idx

    def encode_batch(
        self,
        batch: Iterable[Iterable[str]],
        max_len: int | None = None,
        *,
        add_bos: bool = False,
        add_eos: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode token lists into a right-padded ``(B, T)`` LongTensor and ``(B,)`` lengths.

        ``T`` is the longest sequence after truncating to ``max_len`` (applied
        after adding bos/eos). A string in ``batch`` counts as a list of chars.
        """
        import torch  # lazy: importing seqtk must not import torch

        if max_len is not None:
            _check_count("max_len", max_len, minimum=1)
        seqs = [self.encode(seq, add_bos=add_bos, add_eos=add_eos) for seq in batch]
        if max_len is not None:
            seqs = [s[:max_len] for s in seqs]
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        width = int(lengths.max()) if seqs else 0
        out = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        if width:
            # Boolean-mask assignment fills in row-major order, which is exactly
            # the order of the concatenated sequences: one copy, no Python loop.
            mask = torch.arange(width) < lengths[:, None]
            flat = array("q", chain.from_iterable(seqs))  # ~4x faster than torch.tensor(list)
            out[mask] = torch.frombuffer(flat, dtype=torch.long)
        return out, lengths


    def decode(self, ids: Iterable[int]) -> list[str]:
        """Map ids to tokens; bucket ids become ``"<oov:k>"`` markers."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        elif not isinstance(ids, (list, tuple)):
            ids = list(ids)
        try:
            if ids and min(ids) < 0:  # a list would silently index from the end
                raise IndexError
            return list(map(self._itos.__getitem__, ids))
        except (IndexError, TypeError):
            bad = next((i for i in ids if not isinstance(i, int) or not 0 <= i < len(self._itos)), ids)
            raise SeqtkValueError(
                f"cannot decode id {bad!r}: ids must be integers in 0..{len(self._itos) - 1}",
                fix="decode a flat list of ids made by this vocabulary (use decode_batch for 2-D ids)",
            ) from None

    def id_to_token(self, idx: int) -> str:
        """The token (or OOV marker) of one id."""
        return self.decode([idx])[0]

    def decode_batch(self, ids: Any, lengths: Any = None) -> list[list[str]]:
        """Decode a ``(B, T)`` batch; rows are cut at ``lengths``, or trailing pads dropped."""
        rows = ids.tolist() if hasattr(ids, "tolist") else [list(r) for r in ids]
        if lengths is not None:
            lens = lengths.tolist() if hasattr(lengths, "tolist") else list(lengths)
            if len(lens) != len(rows):
                raise SeqtkValueError(f"{len(rows)} rows but {len(lens)} lengths", fix="pass encode_batch()'s lengths")
            rows = [row[:n] for row, n in zip(rows, lens)]
        else:
            rows = [_strip_trailing(row, self.pad_id) for row in rows]
        return [self.decode(row) for row in rows]


    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        """True for specials and known tokens; OOV words are not "in" the vocab."""
        return token in self._stoi

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Vocab(num_known={self.num_known}, num_oov_buckets={self.num_oov_buckets}, specials={self.specials})"

    def __getstate__(self) -> dict[str, Any]:
        # Pickle the definition only, not the OOV cache (DataLoader workers).
        return self.to_dict()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(Vocab.from_dict(state).__dict__)
        self._getitem = self._lookup.__getitem__


    def to_dict(self) -> dict[str, Any]:
        """Plain str/int/list/dict data, safe for ``torch.load(weights_only=True)``."""
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "oov_hash": OOV_HASH,
            "num_oov_buckets": self.num_oov_buckets,
            "specials": list(self.specials),
            "tokens": list(self._tokens),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "the vocab data") -> Vocab:
        """Inverse of :meth:`to_dict`; ``source`` names the origin in error messages."""
        tokens, specials, buckets = check_vocab_data(data, source)
        try:
            return cls(tokens, specials=specials, num_oov_buckets=buckets)
        except SeqtkError as err:
            raise SeqtkError(f"{source} is invalid: {err.problem}", fix="re-create it with Vocab.save() or Vocab.to_dict()") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary as indented, human-readable JSON (atomically: an old file stays whole)."""
        write_vocab_file(Path(path), self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        return cls.from_dict(read_vocab_file(Path(path)), source=f"the vocabulary file '{path}'")


def _check_count(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SeqtkValueError(f"{name} must be an integer >= {minimum}, got {value!r}", fix=f"pass a valid {name}")
    return value


def _check_entries(specials: Sequence[str], tokens: Sequence[str]) -> tuple[tuple[str, ...], list[str]]:
    specials = (specials,) if isinstance(specials, str) else tuple(specials)
    if not specials or specials[0] in (BOS, EOS, UNK, "") or (PAD in specials and specials[0] != PAD):
        raise SeqtkValueError(
            f"the first special must be the padding token, got {repr(specials[0]) if specials else 'none'}",
            fix=f"pass specials starting with the padding token, e.g. ({PAD!r}, {BOS!r}, {EOS!r}, {UNK!r})",
        )
    tokens = list(tokens)
    entries = [*specials, *tokens]
    bad = next((t for t in entries if not isinstance(t, str)), "" if "" in specials else None)
    if bad is not None:
        raise SeqtkValueError(f"tokens must be strings and specials non-empty, got {bad!r}", fix="tokenize text first")
    if len(set(entries)) != len(entries):
        dup = next(t for t, n in Counter(entries).items() if n > 1)
        raise SeqtkValueError(f"the token {dup!r} is listed more than once", fix="list each token and special once")
    return specials, tokens


def _strip_trailing(row: list[int], pad: int) -> list[int]:
    end = len(row)
    while end and row[end - 1] == pad:
        end -= 1
    return row[:end]
