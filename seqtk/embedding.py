"""Token embeddings sized from a :class:`~seqtk.vocab.Vocab`, optionally pretrained.

Pretrained vectors come from GloVe (``word v1 v2 ...``) or word2vec text files
(the same, after a ``count dim`` header line, which is detected
automatically); ``.gz`` files are read transparently. Rows for vocabulary
tokens found in the file get their vectors, the padding row is zero and every
other row (unknown words, OOV buckets) keeps its random initialisation.

Word dropout (``word_dropout=p``) regularises small data sets: while
training, each token is read with probability ``p`` as if it were not in the
vocabulary, i.e. through the OOV bucket its text hashes to (a zero vector
when the vocabulary has no buckets), so a model cannot lean on a few rare
words and the bucket rows learn what an unseen word looks like (Iyyer et
al. 2015's word dropout; Gal & Ghahramani 2016 drop word types instead).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import torch
from torch import nn

from seqtk.errors import SeqtkError, SeqtkValueError
from seqtk.vocab import Vocab, oov_bucket

_INDEX_DTYPES = (torch.long, torch.int)  # what nn.functional.embedding accepts
_MAX_MISSING_EXAMPLES = 8


@dataclass
class CoverageReport:
    """How many vocabulary tokens a pretrained-vectors file covered.

    Specials are not counted (the pad row is always zero).

    >>> print(CoverageReport("glove.txt", found=3, total=4, missing_examples=["zorp"]))
    glove.txt covers 3 of 4 vocabulary tokens (75.0%); missing e.g. 'zorp'
    """

    path: str
    found: int
    total: int
    missing_examples: list[str] = field(default_factory=list)
    lowercase_matches: int = 0  # of ``found``, those matched only after lowercasing

    @property
    def coverage(self) -> float:
        """Fraction of vocabulary tokens found, 0.0 .. 1.0."""
        return self.found / self.total if self.total else 1.0

    def __str__(self) -> str:
        text = f"{self.path} covers {self.found} of {self.total} vocabulary tokens ({self.coverage:.1%})"
        if self.lowercase_matches:
            text += f", {self.lowercase_matches} of them by lowercase match"
        if self.missing_examples:
            text += "; missing e.g. " + ", ".join(repr(t) for t in self.missing_examples)
        return text


class Embedding(nn.Module):
    """An ``nn.Embedding`` with one row per vocabulary id (OOV buckets included).

    >>> vocab = Vocab.build([["good", "movie"]], num_oov_buckets=2)
    >>> emb = Embedding(vocab, 4)
    >>> emb.num_embeddings, emb.embedding_dim
    (5, 4)
    >>> ids, lengths = vocab.encode_batch([["good", "film"], ["movie"]])
    >>> emb(ids).shape
    torch.Size([2, 2, 4])
    >>> emb(ids)[1, 1].abs().sum().item()  # a padding position
    0.0
    """

    def __init__(
        self,
        num_embeddings_or_vocab: int | Vocab,
        embedding_dim: int,
        padding_idx: int | None = 0,
        freeze: bool = False,
        pretrained: torch.Tensor | str | os.PathLike[str] | None = None,
        word_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= word_dropout < 1.0:
            raise SeqtkValueError(
                f"word_dropout must be in [0, 1), got {word_dropout}",
                fix="pass the probability that a training token is read as unknown, e.g. 0.1",
            )
        self.word_dropout = float(word_dropout)
        self._unknown_ids: torch.Tensor | None = None
        if isinstance(num_embeddings_or_vocab, Vocab):
            self.vocab: Vocab | None = num_embeddings_or_vocab
            rows = len(num_embeddings_or_vocab)
        else:
            self.vocab = None
            rows = _positive_int("num_embeddings", num_embeddings_or_vocab)
        dim = _positive_int("embedding_dim", embedding_dim)
        if padding_idx is not None and not -rows <= padding_idx < rows:
            raise SeqtkValueError(
                f"padding_idx {padding_idx} is outside the {rows} embedding rows",
                fix="pass padding_idx=0 (the Vocab's pad id) or padding_idx=None",
            )
        self.embedding = nn.Embedding(rows, dim, padding_idx=padding_idx)
        self.coverage: CoverageReport | None = None
        if isinstance(pretrained, torch.Tensor):
            self._copy_weights(pretrained)
        elif pretrained is not None:
            self.load_pretrained(pretrained)
        self.freeze(freeze)

    @property
    def num_embeddings(self) -> int:
        return self.embedding.num_embeddings

    @property
    def embedding_dim(self) -> int:
        return self.embedding.embedding_dim

    @property
    def padding_idx(self) -> int | None:
        return self.embedding.padding_idx

    @property
    def weight(self) -> nn.Parameter:
        return self.embedding.weight

    @property
    def frozen(self) -> bool:
        return not self.embedding.weight.requires_grad

    def freeze(self, frozen: bool = True) -> Embedding:
        """Stop (or, with ``False``, resume) training of the table; returns ``self``."""
        self.embedding.weight.requires_grad_(not frozen)
        return self

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Look up embeddings.

        # (B, T) -> (B, T, D)   (any leading shape works: (*,) -> (*, D))
        """
        if not isinstance(ids, torch.Tensor) or ids.dtype not in _INDEX_DTYPES:
            got = ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise SeqtkValueError(
                f"Embedding expects a LongTensor of token ids, got {got}",
                fix="pass ids from Vocab.encode_batch(), or convert with ids.long()",
            )
        # One min/max pass is cheap next to the (B, T, D) gather on CPU; on an
        # accelerator it would force a sync, and there the kernel asserts anyway.
        if ids.device.type == "cpu" and ids.numel() and not torch.compiler.is_compiling():
            low, high = torch.aminmax(ids)
            if low < 0 or high >= self.num_embeddings:
                raise SeqtkValueError(
                    f"token ids must be in 0..{self.num_embeddings - 1}, got ids from {int(low)} to {int(high)}",
                    fix="encode with the same Vocab this Embedding was built from",
                )
        if self.training and self.word_dropout > 0.0:
            return self._drop_words(ids)
        return self.embedding(ids)

    def _drop_words(self, ids: torch.Tensor) -> torch.Tensor:
        """Read a random ``word_dropout`` share of the non-padding tokens as unknown. # (*,) -> (*, D)"""
        dropped = torch.rand(ids.shape, device=ids.device) < self.word_dropout
        if self.padding_idx is not None:
            dropped &= ids != self.padding_idx
        table = self.unknown_ids()
        if table is None:  # no buckets to read an unknown word through: the word is a zero vector
            return self.embedding(ids) * (~dropped).unsqueeze(-1).to(self.weight.dtype)
        if table.device != ids.device:  # moved once, then kept where the model trains
            table = self._unknown_ids = table.to(ids.device)
        return self.embedding(torch.where(dropped, table[ids], ids))

    def unknown_ids(self) -> torch.Tensor | None:
        """For each id, the id it would have if its token were unknown (specials and buckets keep theirs).

        None without a vocabulary or without OOV buckets (an ``<unk>`` special counts: it is the one id).

        >>> vocab = Vocab.build([["good", "movie"]], num_oov_buckets=2)
        >>> [vocab.id_to_token(i) for i in Embedding(vocab, 4).unknown_ids().tolist()]
        ['<pad>', '<oov:1>', '<oov:0>', '<oov:0>', '<oov:1>']
        """
        vocab = self.vocab
        if vocab is None or (vocab.num_oov_buckets == 0 and vocab.unk_id is None):
            return None
        if self._unknown_ids is None:
            table = list(range(len(vocab)))
            for idx, token in enumerate(vocab.tokens, start=len(vocab.specials)):
                table[idx] = vocab.num_known + oov_bucket(token, vocab.num_oov_buckets) if vocab.num_oov_buckets \
                    else vocab.unk_id
            self._unknown_ids = torch.tensor(table, dtype=torch.long)
        return self._unknown_ids

    def extra_repr(self) -> str:
        dropped = f", word_dropout={self.word_dropout}" if self.word_dropout else ""
        return f"frozen={self.frozen}{dropped}" + (f", vocab={self.vocab!r}" if self.vocab is not None else "")

    # ------------------------------------------------------------- pretrained

    @classmethod
    def from_pretrained_file(
        cls,
        path: str | os.PathLike[str],
        vocab: Vocab,
        freeze: bool = False,
        lowercase: bool = False,
    ) -> Embedding:
        """Make an embedding whose width is the file's vector size and fill it.

        The coverage report is kept in ``.coverage``.
        """
        dim = vector_file_dim(path)
        emb = cls(vocab, dim, padding_idx=vocab.pad_id)
        emb.load_pretrained(path, lowercase=lowercase)
        return emb.freeze(freeze)

    def load_pretrained(
        self, path: str | os.PathLike[str], vocab: Vocab | None = None, lowercase: bool = False
    ) -> CoverageReport:
        """Copy vectors for the vocabulary's tokens from a GloVe/word2vec text file.

        With ``lowercase=True`` a token without an exact match takes the vector
        of the first file word equal to it after lowercasing both. Returns the
        :class:`CoverageReport` and keeps it in ``.coverage``.
        """
        vocab = vocab if vocab is not None else self.vocab
        if vocab is None:
            raise SeqtkValueError(
                "load_pretrained() needs a Vocab to know which row each word goes to",
                fix="pass vocab=..., or build the Embedding from a Vocab",
            )
        if len(vocab) > self.num_embeddings:
            raise SeqtkValueError(
                f"the Vocab has {len(vocab)} ids but the Embedding only {self.num_embeddings} rows",
                fix="build the Embedding from this Vocab: Embedding(vocab, dim)",
            )
        vectors, lower_only = _read_vectors(Path(path), vocab, self.embedding_dim, lowercase)
        with torch.no_grad():
            if vectors:
                device = self.weight.device
                rows = torch.tensor(list(vectors), dtype=torch.long, device=device)
                self.weight[rows] = torch.tensor(list(vectors.values()), dtype=self.weight.dtype, device=device)
            if self.padding_idx is not None:
                self.weight[self.padding_idx].zero_()
        self.coverage = _coverage(str(path), vocab, vectors, lower_only)
        return self.coverage

    def _copy_weights(self, pretrained: torch.Tensor) -> None:
        if tuple(pretrained.shape) != tuple(self.weight.shape):
            raise SeqtkValueError(
                f"pretrained weights have shape {tuple(pretrained.shape)}, expected {tuple(self.weight.shape)}",
                fix="pass a (num_embeddings, embedding_dim) tensor",
            )
        with torch.no_grad():
            self.weight.copy_(pretrained)


# ------------------------------------------------------------------- reading


def vector_file_dim(path: str | os.PathLike[str]) -> int:
    """The vector size of a GloVe/word2vec text file, read from its first line."""
    path = Path(path)
    with _open(path) as lines:
        for number, line in lines:
            header = _header(line)
            if header is not None:
                return header
            fields = line.split()
            if len(fields) < 2:
                raise _malformed(path, number, "has no vector after the word")
            return len(fields) - 1
    raise SeqtkError(f"the vectors file '{path}' is empty", fix="check the path")


def _read_vectors(
    path: Path, vocab: Vocab, dim: int, lowercase: bool
) -> tuple[dict[int, list[float]], set[int]]:
    """Vectors by vocab id, and the ids that were matched only after lowercasing."""
    wanted = {tok: i for i, tok in enumerate(vocab.decode(range(1, vocab.num_known)), start=1)}
    folded: dict[str, list[int]] = {}
    if lowercase:
        for tok, i in wanted.items():
            folded.setdefault(tok.lower(), []).append(i)
    vectors: dict[int, list[float]] = {}
    lower_only: set[int] = set()
    with _open(path) as lines:
        for number, line in lines:
            if number == 1 and (header := _header(line)) is not None:
                if header != dim:
                    raise _malformed(path, 1, f"declares {header}-dimensional vectors but the Embedding has {dim}")
                continue
            fields = line.split()
            if not fields:
                continue
            word = _word(fields, dim, path, number, line)
            exact = wanted.get(word)
            if exact is not None and (exact not in vectors or exact in lower_only):
                vectors[exact] = _floats(fields[-dim:], path, number)
                lower_only.discard(exact)
            for i in folded.get(word.lower(), ()):
                if i not in vectors:
                    vectors[i] = _floats(fields[-dim:], path, number)
                    lower_only.add(i)
    return vectors, lower_only


def _word(fields: list[str], dim: int, path: Path, number: int, line: str) -> str:
    if len(fields) == dim + 1:
        return fields[0]
    # A few GloVe releases have words containing spaces; more fields than
    # dim + 1 is only a malformed line if the extra field is a number.
    if len(fields) < dim + 1 or _is_number(fields[-dim - 1]):
        raise _malformed(path, number, f"has {len(fields) - 1} values, expected {dim}")
    return line.rstrip().rsplit(maxsplit=dim)[0]


def _floats(fields: list[str], path: Path, number: int) -> list[float]:
    try:
        return [float(x) for x in fields]
    except ValueError:
        bad = next(x for x in fields if not _is_number(x))
        raise _malformed(path, number, f"has the non-number value {bad!r}") from None


def _header(line: str) -> int | None:
    """The dim of a word2vec ``count dim`` header line, or None."""
    fields = line.split()
    if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit() and int(fields[1]) > 0:
        return int(fields[1])
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@contextmanager
def _open(path: Path) -> Iterator[Iterator[tuple[int, str]]]:
    """Numbered lines of a (maybe gzipped) UTF-8 file, with errors that name it."""
    try:
        file: IO[bytes] = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise SeqtkError(f"the vectors file '{path}' does not exist", fix="check the path") from None
    except OSError as err:
        raise SeqtkError(f"cannot open the vectors file '{path}': {err}", fix="check the path") from None
    try:
        yield _decoded_lines(file, path)
    finally:
        file.close()


def _decoded_lines(file: IO[bytes], path: Path) -> Iterator[tuple[int, str]]:
    # Decoding line by line (not via a text wrapper, which decodes in chunks)
    # keeps the line number of a bad byte exact.
    number = 0
    try:
        for number, raw in enumerate(file, start=1):
            yield number, raw.decode("utf-8")
    except (UnicodeDecodeError, OSError, EOFError) as err:
        raise _malformed(
            path,
            number if isinstance(err, UnicodeDecodeError) else number + 1,
            f"cannot be read as UTF-8 text ({err})",
            fix="use a text-format GloVe/word2vec file in UTF-8 (binary word2vec is not supported)",
        ) from None


def _malformed(path: Path, number: int, problem: str, fix: str | None = None) -> SeqtkError:
    return SeqtkError(
        f"line {number} of the vectors file '{path}' {problem}",
        fix=fix or "each line must be a word followed by the same number of values (GloVe or word2vec text format)",
    )


def _coverage(path: str, vocab: Vocab, vectors: dict[int, list[float]], lower_only: set[int]) -> CoverageReport:
    first = len(vocab.specials)
    ids = range(first, vocab.num_known)
    missing = [vocab.id_to_token(i) for i in ids if i not in vectors]
    return CoverageReport(
        path=path,
        found=len(ids) - len(missing),
        total=len(ids),
        missing_examples=missing[:_MAX_MISSING_EXAMPLES],
        lowercase_matches=sum(1 for i in lower_only if i >= first),
    )


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SeqtkValueError(f"{name} must be a positive integer, got {value!r}", fix=f"pass a valid {name}")
    return value
