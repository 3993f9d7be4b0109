"""Tables of labelled texts read with Hugging Face ``datasets``: local files and hub datasets.

Local files (``data.source = "file"``): ``.csv``, ``.tsv``, ``.jsonl``, ``.json``
(a list of records, like the npm ``sentiment`` package's ``imdb.json``) and
``.parquet``; ``datasets`` reads them offline. Hub datasets (``"hub"``) need
the internet or the ``datasets`` cache.

Columns are picked by ``data.text_column`` / ``data.label_column`` (``auto``:
the first usual name present). The task turns the label values into class
indices with its *labeler*: any strings for ``classify``
(:func:`~seqtk_plugins.classify.corpus.index_labels`), binary ones for
``sentiment``. Rows whose text is empty are dropped and counted in a note
(``imdb.json`` ends with one).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from seqtk.errors import SeqtkError, suggest
from seqtk_plugins.classify.corpus import Corpus, Label, LabeledTexts, clean_text, read_utf8

if TYPE_CHECKING:  # pragma: no cover
    from seqtk_plugins.classify.config import ClassifyData

#: label values, and where they come from -> class indices and the class names
Labeler = Callable[[list[Any], str], tuple[list[Label], tuple[str, ...]]]

TEXT_COLUMNS = ("text", "review", "sentence", "content", "question", "utterance")
LABEL_COLUMNS = ("label", "labels", "class", "category", "topic", "intent", "sentiment", "polarity")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
_BUILDERS = {".csv": ("csv", {}), ".tsv": ("csv", {"delimiter": "\t"}), ".jsonl": ("json", {}),
             ".json": ("json", {}), ".parquet": ("parquet", {})}  # fmt: skip
LOCAL_ALTERNATIVES = (
    "use a local copy: data.source=file data.path=FILE for a CSV/TSV/JSONL/parquet file with text and label "
    "columns, or data.source=folder data.path=DIR for one subfolder of .txt files per label"
)


def read_table(path: Path, cfg: ClassifyData, labeler: Labeler, name: str | None = None,
               label_columns: Sequence[str] = LABEL_COLUMNS) -> Corpus:
    """A local table file as one training set (val and test are carved from it)."""
    if not path.is_file():
        raise SeqtkError(f"data.path '{path}' is not a file", fix="point data.path at a CSV, TSV, JSONL, JSON or parquet file")
    suffix = path.suffix.lower()
    if suffix not in _BUILDERS:
        raise SeqtkError(
            f"cannot read '{path}': unknown file type '{suffix or '(none)'}'",
            fix=f"use one of {', '.join(TABLE_SUFFIXES)}",
        )
    if path.stat().st_size == 0 or (suffix != ".parquet" and not read_utf8(path).strip()):
        raise SeqtkError(f"the file '{path}' is empty", fix="point data.path at a file with a header and rows")
    builder, options = _BUILDERS[suffix]
    if builder == "csv":
        options = {**options, **_as_text(path, options.get("delimiter", ","))}
    try:
        with _quiet_datasets() as datasets:
            ds = datasets.load_dataset(builder, data_files=str(path), split="train", **options)
    except Exception as exc:  # pyarrow and datasets raise many kinds; all mean "cannot parse"
        cause = _root(exc)
        raise SeqtkError(
            f"cannot read '{path}' as {suffix[1:].upper()}: {type(cause).__name__}: {_first_line(cause)}",
            fix="check the file's format (a header row for CSV/TSV; one JSON object per line for JSONL)",
        ) from None
    texts, labels = _columns(ds, cfg, f"the file '{path}'", label_columns)
    return _corpus(name or f"{path.name}", texts, labels, labeler, f"the file '{path}'")


def _as_text(path: Path, delimiter: str) -> dict[str, Any]:
    """Options that keep every CSV/TSV cell a string: pandas would merge labels "007" and "7", and read
    "NA", "None" or "null" as missing."""
    import csv

    from datasets import Features, Value

    header = next(csv.reader(read_utf8(path).splitlines()[:1], delimiter=delimiter), [])
    return {"features": Features({name: Value("string") for name in header}), "keep_default_na": False, "na_values": [""]}


def load_hub(cfg: ClassifyData, labeler: Labeler, alternatives: str = LOCAL_ALTERNATIVES,
             label_columns: Sequence[str] = LABEL_COLUMNS) -> Corpus:
    """``data.hub_name``'s train split, and its test split unless ``hub_test_split`` is empty."""
    name = cfg.hub_name
    _check_online(name, alternatives)
    train = _hub_split(cfg, cfg.hub_train_split, alternatives, label_columns)
    if not cfg.hub_test_split:
        return _corpus(name, *train, labeler, f"the dataset '{name}' split '{cfg.hub_train_split}'")
    test = _hub_split(cfg, cfg.hub_test_split, alternatives, label_columns)
    where = f"the dataset '{name}' splits '{cfg.hub_train_split}' and '{cfg.hub_test_split}'"
    both = _corpus(name, train[0] + test[0], train[1] + test[1], labeler, where)
    n_train = len(train[0]) - sum(1 for t in train[0] if not (isinstance(t, str) and clean_text(t)))
    both.test = both.train.subset(list(range(n_train, len(both.train))))
    both.train = both.train.subset(list(range(n_train)))
    return both


def _hub_split(cfg: ClassifyData, split: str, alternatives: str, label_columns: Sequence[str]) -> tuple[list[Any], list[Any]]:
    try:
        with _quiet_datasets() as datasets:
            ds = datasets.load_dataset(cfg.hub_name, cfg.hub_config, split=split)
    except Exception as exc:  # network, unknown dataset or split: all mean "use local data"
        raise SeqtkError(
            f"could not load the Hugging Face dataset '{cfg.hub_name}' split '{split}'{_offline_note()}: "
            f"{type(exc).__name__}: {_first_line(exc)}",
            fix=f"check the name and split and connect to the internet; or {alternatives}",
        ) from None
    return _columns(ds, cfg, f"the dataset '{cfg.hub_name}' split '{split}'", label_columns)


def _check_online(name: str, alternatives: str) -> None:
    """Fail at once, naming local alternatives, when the hub's host does not resolve.

    (Without this, ``datasets`` retries for about 25 s before it gives up.) In
    offline mode the cache is tried instead.
    """
    if _offline_note():
        return
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        raise SeqtkError(
            f"cannot reach the Hugging Face hub ({host} does not resolve), so the dataset '{name}' cannot be loaded",
            fix=f"connect to the internet (or set HF_DATASETS_OFFLINE=1 to use a cached copy); or {alternatives}",
        ) from None


def _offline_note() -> str:
    flags = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    on = any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in flags)
    return " (Hugging Face offline mode is on)" if on else ""


# ---------------------------------------------------------------------------
# Columns and labels
# ---------------------------------------------------------------------------


def _columns(ds: Any, cfg: ClassifyData, where: str, label_columns: Sequence[str]) -> tuple[list[Any], list[Any]]:
    names = list(ds.column_names)
    text = _pick(cfg.text_column, TEXT_COLUMNS, names, where, "text")
    label = _pick(cfg.label_column, label_columns, names, where, "label")
    return list(ds[text]), _label_values(ds, label, where)


def _label_values(ds: Any, column: str, where: str) -> list[Any]:
    """The label column; a ``ClassLabel`` column's integers as their names (-1, "no label", refused)."""
    values = list(ds[column])
    feature = getattr(ds, "features", {}).get(column)
    names = getattr(feature, "names", None)
    if not names:
        return values
    if any(v == -1 for v in values):
        raise SeqtkError(
            f"{where} marks texts as unlabelled (label -1 in its ClassLabel column '{column}'), so it cannot be "
            "trained or scored on",
            fix='set data.hub_test_split = "" to carve the test split from the labelled train split instead',
        )
    return [names[v] if isinstance(v, int) and 0 <= v < len(names) else v for v in values]


def _pick(wanted: str, usual: Sequence[str], names: list[str], where: str, kind: str) -> str:
    if wanted != "auto":
        if wanted in names:
            return wanted
        hint = suggest(wanted, names)
        raise SeqtkError(
            f"{where} has no {kind} column '{wanted}'.{hint} Columns found: {', '.join(names) or '(none)'}",
            fix=f"set data.{kind}_column to one of the columns found",
        )
    for candidate in usual:
        if candidate in names:
            return candidate
    raise SeqtkError(
        f"{where} has no {kind} column (looked for {', '.join(usual)}). Columns found: {', '.join(names) or '(none)'}",
        fix=f"set data.{kind}_column to one of the columns found",
    )


def _corpus(name: str, texts: list[Any], labels: list[Any], labeler: Labeler, where: str) -> Corpus:
    kept_texts, kept_labels, empty = [], [], []
    for row, (text, label) in enumerate(zip(texts, labels), start=1):
        text = clean_text(text) if isinstance(text, str) else ""
        if not text:
            empty.append(row)
            continue
        if label is None or (isinstance(label, str) and not label.strip()):
            raise SeqtkError(f"row {row} of {where} has a text but no label", fix="label every row, or delete the row")
        kept_texts.append(text)
        kept_labels.append(label)
    if not kept_texts:
        raise SeqtkError(f"{where} has no rows with text", fix="check data.text_column and the file's contents")
    indices, names = labeler(kept_labels, where)
    noun = "row" if len(empty) == 1 else "rows"
    notes = [f"dropped {len(empty)} empty {noun} of {where} ({_rows(empty)})"] if empty else []
    return Corpus(name, LabeledTexts(kept_texts, indices), label_names=names, notes=notes)


def _rows(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    return f"row {shown}" if len(rows) == 1 else f"rows {shown}" + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


@contextmanager
def _quiet_datasets() -> Iterator[Any]:
    """Import ``datasets`` (slow: only when needed) with its progress bars and error log off (a parse error
    reaches the user once, as a SeqtkError), then restore them."""
    import datasets
    from datasets.utils import logging as ds_logging

    was_on, level = ds_logging.is_progress_bar_enabled(), ds_logging.get_verbosity()
    ds_logging.disable_progress_bar()
    ds_logging.set_verbosity(ds_logging.CRITICAL)
    try:
        yield datasets
    finally:
        ds_logging.set_verbosity(level)
        if was_on:
            ds_logging.enable_progress_bar()


def _root(exc: BaseException) -> BaseException:
    """The innermost cause: ``datasets`` wraps the parser's own message ("Expected 2 fields in line 3")."""
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else "(no message)"
