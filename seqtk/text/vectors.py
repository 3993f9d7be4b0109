"""Pretrained word vectors: GloVe and word2vec text files, read for a vocabulary.

GloVe files hold ``word v1 v2 ...`` lines; word2vec text files the same after
a ``count dim`` header line, which is detected automatically; ``.gz`` files
are read transparently. :func:`read_vectors` returns the vectors of a
vocabulary's tokens (by id) and :func:`coverage_report` how many it found;
:meth:`seqtk.nn.embedding.Embedding.load_pretrained` puts them into the table.
A malformed line is named by file and line number with the fix.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from seqtk.errors import SeqtkError
from seqtk.text.vocab import Vocab

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


def read_vectors(
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


def coverage_report(path: str, vocab: Vocab, vectors: dict[int, list[float]], lower_only: set[int]) -> CoverageReport:
    """How many of ``vocab``'s tokens (specials not counted) ``vectors`` covers."""
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
