"""Tables of strings read with Hugging Face ``datasets``: local files and hub datasets.

Local files: ``.csv``, ``.tsv``, ``.jsonl``, ``.json`` (one JSON object per
line, or a list of records) and ``.parquet``; ``datasets`` reads them
offline. CSV/TSV cells stay strings (``"007"`` is not ``7``; ``NA`` and
``null`` are not missing). Hub datasets need the internet or the
``datasets`` cache; without a network the check fails at once (rather than
after ``datasets``' retries) and names the local alternatives the task gives.

Every problem is a :class:`~seqtk.errors.SeqtkError` naming the file or
dataset: a missing file, an unknown suffix, an empty file, a file that does
not parse, a column that is not there (with the columns found and the
closest name). What the columns mean is the task's business
(:mod:`seqtk_plugins.classify.tables`, :mod:`seqtk_plugins.seq2seq.files`).

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "pairs.tsv"
>>> _ = path.write_text("word\\tphones\\nnull\\tN AH1 L\\n007\\tD AH1 B AH0 L OW1 S EH1 V AH0 N\\n")
>>> table = read_file(path)
>>> table.names, table.column("word")
(['word', 'phones'], ['null', '007'])
>>> table.pick("phone", (), "target", "data.target_column")
Traceback (most recent call last):
seqtk.errors.SeqtkError: the file '...pairs.tsv' has no target column 'phone'. Did you mean 'phones'? Columns found: word, phones. Fix: set data.target_column to one of the columns found.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from seqtk.data.table_problems import csv_header, find_problem, name_list, no_rows
from seqtk.errors import SeqtkError, suggest
from seqtk.runtime.utf8 import read_utf8

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
_BUILDERS = {".csv": ("csv", {}), ".tsv": ("csv", {"delimiter": "\t"}), ".jsonl": ("json", {}),
             ".json": ("json", {}), ".parquet": ("parquet", {})}  # fmt: skip


@dataclass(frozen=True)
class Table:
    """A ``datasets.Dataset`` and the phrase that names it in messages (``"the file 'x.csv'"``)."""

    where: str
    dataset: Any

    @property
    def names(self) -> list[str]:
        """The column names, in the file's order."""
        return list(self.dataset.column_names)

    def __len__(self) -> int:
        return len(self.dataset)

    def column(self, name: str) -> list[Any]:
        """The values of column ``name`` (which :meth:`pick` has checked)."""
        return list(self.dataset[name])

    def class_names(self, name: str) -> tuple[str, ...]:
        """The names of a ``ClassLabel`` column's integers (hub datasets), else ``()``."""
        feature = getattr(self.dataset, "features", {}).get(name)
        return tuple(getattr(feature, "names", None) or ())

    def pick(self, wanted: str, usual: Sequence[str], kind: str, key: str) -> str:
        """The column ``wanted`` names, or with ``"auto"`` the first of ``usual`` present.

        ``kind`` says what the column holds (``"text"``) and ``key`` which
        setting chooses it (``"data.text_column"``), for the error.
        """
        names = self.names
        found = f"Columns found: {', '.join(names) or '(none)'}"
        if wanted != "auto":
            if wanted in names:
                return wanted
            raise SeqtkError(
                f"{self.where} has no {kind} column '{wanted}'.{suggest(wanted, names)} {found}",
                fix=f"set {key} to one of the columns found",
            )
        for candidate in usual:
            if candidate in names:
                return candidate
        raise SeqtkError(
            f"{self.where} has no {kind} column (looked for {', '.join(usual)}). {found}",
            fix=f"set {key} to one of the columns found",
        )


def read_file(path: Path, key: str = "data.path") -> Table:
    """A local CSV, TSV, JSONL, JSON or parquet file as a :class:`Table` (``key``: the setting naming it)."""
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a file"
        raise SeqtkError(f"{key} '{path}' {what}", fix=f"point {key} at a CSV, TSV, JSONL, JSON or parquet file")
    suffix = path.suffix.lower()
    if suffix not in _BUILDERS:
        raise SeqtkError(
            f"cannot read '{path}': unknown file type '{suffix or '(none)'}'",
            fix=f"use one of {', '.join(TABLE_SUFFIXES)}",
        )
    if path.stat().st_size == 0 or (suffix != ".parquet" and not read_utf8(path).strip()):
        raise SeqtkError(f"the file '{path}' is empty", fix=f"point {key} at a file with a header and rows")
    if suffix in (".jsonl", ".json"):  # checked first: pyarrow would crash or read rows that are not there
        _check_records(path, suffix, key)
    ds = _load(path, suffix, key)
    if len(ds) == 0:  # should a datasets version load a file with no rows, the tasks' readers would fail later
        raise no_rows(path, f"has columns ({name_list(ds.column_names)}) and no rows", key)
    return Table(f"the file '{path}'", ds)


def _load(path: Path, suffix: str, key: str) -> Any:
    """The file through ``datasets``, held in memory; on failure, the error :func:`_unreadable` finds.

    ``datasets`` would keep an Arrow copy of every file it reads (and a lock file) in
    ``~/.cache/huggingface/datasets`` for good: a user who edits a CSV and trains again gained one copy of
    the data each time. The copy goes to a temporary folder instead, removed once the table is in memory,
    as the tasks read every row anyway."""
    builder, options = _BUILDERS[suffix]
    if builder == "csv":
        options = {**options, **_as_text(path, options.get("delimiter", ","))}
    cache = tempfile.mkdtemp(prefix="seqtk-table-")
    try:
        with quiet_datasets() as datasets:
            return datasets.load_dataset(builder, data_files=str(path), split="train", cache_dir=cache,
                                         keep_in_memory=True, **options)
    except Exception as exc:  # pyarrow and datasets raise many kinds; all mean "cannot parse"
        raise _unreadable(path, suffix, key, exc) from None
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _check_records(path: Path, suffix: str, key: str) -> None:
    """Refuse a JSON or JSONL file with a line that is not one object, before pyarrow reads it.

    pyarrow kills the process (a segfault, no message) when a block of JSON lines starts with ``null``, and
    reads ``{"a": 1} null`` or ``{"a": 1}{"a": 2}`` on one line as two rows, ``null`` as an empty row and
    ``[1]`` as a row of a ``text`` column nobody wrote: rows that do not line up with the file's lines. This
    costs a second parse of a good file (about 0.6 of the load's time), the price of a message instead."""
    found = find_problem(path, suffix, key)
    if found is not None:
        raise found


def _unreadable(path: Path, suffix: str, key: str, exc: Exception) -> SeqtkError:
    """Why ``datasets`` could not read ``path``, in the user's terms where a scan of our own finds it (the
    JSON line at fault, a header and no rows): pyarrow's "Trailing data at position 29" names neither. For
    CSV, TSV and parquet the scan runs only after a failure, so a good file is parsed once."""
    found = find_problem(path, suffix, key)
    if found is not None:
        return found
    cause = root_cause(exc)
    return SeqtkError(
        f"cannot read '{path}' as {suffix[1:].upper()}: {type(cause).__name__}: {first_line(cause)}",
        fix="check the file's format (a header row for CSV/TSV; one JSON object per line for JSONL)",
    )


def _as_text(path: Path, delimiter: str) -> dict[str, Any]:
    """Options that keep every CSV/TSV cell a string: pandas would merge labels "007" and "7", and read
    "NA", "None" or "null" as missing."""
    from datasets import Features, Value

    header = csv_header(path, delimiter)
    return {"features": Features({name: Value("string") for name in header}), "keep_default_na": False, "na_values": [""]}


def load_hub(name: str, config: str | None, split: str, alternatives: str) -> Table:
    """Split ``split`` of the hub dataset ``name`` (``config``: its configuration, or None).

    ``alternatives`` ends the fix of every error: how to use local data instead.
    """
    check_online(name, alternatives)
    try:
        with quiet_datasets() as datasets:
            ds = datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # network, unknown dataset or split: all mean "use local data"
        raise SeqtkError(
            f"could not load the Hugging Face dataset '{name}' split '{split}'{offline_note()}: "
            f"{type(exc).__name__}: {first_line(exc)}",
            fix=f"check the name and split and connect to the internet; or {alternatives}",
        ) from None
    return Table(f"the dataset '{name}' split '{split}'", ds)


def check_online(name: str, alternatives: str) -> None:
    """Fail at once, naming local alternatives, when the hub's host does not resolve.

    (Without this, ``datasets`` retries for about 25 s before it gives up.) In
    offline mode the cache is tried instead.
    """
    if offline_note():
        return
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError:
        raise SeqtkError(
            f"cannot reach the Hugging Face hub ({host} does not resolve), so the dataset '{name}' cannot be loaded",
            fix=f"connect to the internet (or set HF_DATASETS_OFFLINE=1 to use a cached copy); or {alternatives}",
        ) from None


def offline_note() -> str:
    """``" (Hugging Face offline mode is on)"`` when it is, else ``""``."""
    flags = ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")
    on = any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in flags)
    return " (Hugging Face offline mode is on)" if on else ""


def row_list(rows: Sequence[int], shown: int = 5) -> str:
    """Row numbers for a message.

    >>> row_list([3]), row_list([1, 2, 4, 8, 9, 12, 15])
    ('row 3', 'rows 1, 2, 4, 8, 9 and 2 more')
    """
    text = ", ".join(str(r) for r in rows[:shown])
    if len(rows) == 1:
        return f"row {text}"
    return f"rows {text}" + (f" and {len(rows) - shown} more" if len(rows) > shown else "")


@contextmanager
def quiet_datasets() -> Iterator[Any]:
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


def root_cause(exc: BaseException) -> BaseException:
    """The innermost cause: ``datasets`` wraps the parser's own message ("Expected 2 fields in line 3")."""
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def first_line(exc: BaseException) -> str:
    """An exception's message, cut to its first line (at most 300 characters)."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else "(no message)"
