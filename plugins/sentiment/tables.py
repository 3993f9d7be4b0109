"""Tables of labelled texts read with Hugging Face ``datasets``: local files and hub datasets.

Local files (``data.source = "file"``): ``.csv``, ``.tsv``, ``.jsonl``, ``.json``
(a list of records, like the npm ``sentiment`` package's ``imdb.json``) and
``.parquet``; ``datasets`` reads them offline. Hub datasets (``"hub"``, by
default ``stanfordnlp/imdb``) need the internet or the ``datasets`` cache.

Columns are picked by ``data.text_column`` / ``data.label_column`` (``auto``:
the first usual name present). Labels must be binary (:func:`to_binary`).
Rows whose text is empty are dropped (``imdb.json`` ends with one).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from seqtk.errors import SeqtkError, suggest
from seqtk_plugins.sentiment.data import NAMES, TABLE_SUFFIXES, Corpus, LabeledTexts, clean_text, read_utf8

if TYPE_CHECKING:  # pragma: no cover
    from seqtk_plugins.sentiment.config import SentimentData

TEXT_COLUMNS = ("text", "review", "sentence", "content")
LABEL_COLUMNS = ("label", "class", "sentiment", "polarity")
_KNOWN_LABELS = {"0": 0, "1": 1, "false": 0, "true": 1, "neg": 0, "pos": 1, "negative": 0, "positive": 1}
_BUILDERS = {".csv": ("csv", {}), ".tsv": ("csv", {"delimiter": "\t"}), ".jsonl": ("json", {}),
             ".json": ("json", {}), ".parquet": ("parquet", {})}  # fmt: skip
LOCAL_ALTERNATIVES = (
    "use a local copy: data.source=aclimdb data.path=/path/to/aclImdb (the extracted aclImdb_v1.tar.gz from "
    "ai.stanford.edu/~amaas/data/sentiment/), or data.source=file data.path=FILE for a CSV/JSONL/parquet file "
    "with text and label columns; or data.source=rt for the Rotten Tomatoes sentences (fetched with pip)"
)


def read_table(path: Path, cfg: SentimentData, name: str | None = None) -> Corpus:
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
    try:
        with _quiet_datasets() as datasets:
            ds = datasets.load_dataset(builder, data_files=str(path), split="train", **options)
    except Exception as exc:  # pyarrow and datasets raise many kinds; all mean "cannot parse"
        raise SeqtkError(
            f"cannot read '{path}' as {suffix[1:].upper()}: {type(exc).__name__}: {_first_line(exc)}",
            fix="check the file's format (a header row for CSV/TSV; one JSON object per line for JSONL)",
        ) from None
    texts, labels = _columns(ds, cfg, f"the file '{path}'")
    return _corpus(name or f"{path.name}", texts, labels, cfg, f"the file '{path}'")


def load_hub(cfg: SentimentData) -> Corpus:
    """``data.hub_name``'s train split, and its test split unless ``hub_test_split`` is empty."""
    name = cfg.hub_name
    _check_online(name)
    train = _hub_split(cfg, cfg.hub_train_split)
    corpus = _corpus(name, *train, cfg, f"the dataset '{name}' split '{cfg.hub_train_split}'")
    if cfg.hub_test_split:
        texts, labels = _hub_split(cfg, cfg.hub_test_split)
        test = _corpus(name, texts, labels, cfg, f"the dataset '{name}' split '{cfg.hub_test_split}'")
        if test.label_names != corpus.label_names:
            raise SeqtkError(
                f"the train and test splits of '{name}' name their labels differently "
                f"({corpus.label_names} and {test.label_names})",
                fix="set data.positive_label, or data.hub_test_split = \"\" to carve test from train",
            )
        corpus.test = test.train
        corpus.notes += test.notes
    return corpus


def _hub_split(cfg: SentimentData, split: str) -> tuple[list[Any], list[Any]]:
    try:
        with _quiet_datasets() as datasets:
            ds = datasets.load_dataset(cfg.hub_name, cfg.hub_config, split=split)
    except Exception as exc:  # network, unknown dataset or split: all mean "use local data"
        raise SeqtkError(
            f"could not load the Hugging Face dataset '{cfg.hub_name}' split '{split}'{_offline_note()}: "
            f"{type(exc).__name__}: {_first_line(exc)}",
            fix=f"check the name and split and connect to the internet; or {LOCAL_ALTERNATIVES}",
        ) from None
    return _columns(ds, cfg, f"the dataset '{cfg.hub_name}'")


def _check_online(name: str) -> None:
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
            fix=f"connect to the internet (or set HF_DATASETS_OFFLINE=1 to use a cached copy); or {LOCAL_ALTERNATIVES}",
        ) from None


def _offline_note() -> str:
    flags = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    on = any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in flags)
    return " (Hugging Face offline mode is on)" if on else ""


# ---------------------------------------------------------------------------
# Columns and labels
# ---------------------------------------------------------------------------


def _columns(ds: Any, cfg: SentimentData, where: str) -> tuple[list[Any], list[Any]]:
    names = list(ds.column_names)
    text = _pick(cfg.text_column, TEXT_COLUMNS, names, where, "text")
    label = _pick(cfg.label_column, LABEL_COLUMNS, names, where, "label")
    return list(ds[text]), list(ds[label])


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


def _corpus(name: str, texts: list[Any], labels: list[Any], cfg: SentimentData, where: str) -> Corpus:
    kept_texts, kept_labels, empty = [], [], 0
    for row, (text, label) in enumerate(zip(texts, labels), start=1):
        text = clean_text(text) if isinstance(text, str) else ""
        if not text:
            empty += 1
            continue
        if label is None:
            raise SeqtkError(f"row {row} of {where} has a text but no label", fix="label every row, or delete the row")
        kept_texts.append(text)
        kept_labels.append(label)
    if not kept_texts:
        raise SeqtkError(f"{where} has no rows with text", fix="check data.text_column and the file's contents")
    binary, names = to_binary(kept_labels, cfg.positive_label, where)
    notes = [f"dropped {empty} empty rows of {where}"] if empty else []
    return Corpus(name, LabeledTexts(kept_texts, binary), label_names=names, notes=notes)


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
        else "map the labels to 0 and 1 (a sentiment task is binary), or set data.label_column to another column"
    )
    return SeqtkError(f"the labels of {where} are not binary: {why}; values found: {shown}", fix=fix)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


@contextmanager
def _quiet_datasets() -> Iterator[Any]:
    """Import ``datasets`` (slow: only when needed) with its progress bars off, then restore them."""
    import datasets
    from datasets.utils import logging as ds_logging

    was_on = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()
    try:
        yield datasets
    finally:
        if was_on:
            ds_logging.enable_progress_bar()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else "(no message)"
