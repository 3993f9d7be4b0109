"""Why a table file cannot be read, in the user's terms: the line at fault, a header and no rows.

pyarrow and pandas name neither ("Trailing data at position 29", ``Instruction "train" corresponds to no
data!``), and some files they read wrongly without a word: a JSON line holding ``null`` (pyarrow crashes), two
objects on one line, a CSV header naming a column twice or rows with one cell more than the header (every
cell moves one column). :mod:`seqtk.data.tables` checks JSON and CSV headers with these before it loads a
file, and asks :func:`find_problem` what went wrong when a load fails.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqtk.errors import SeqtkError
from seqtk.runtime.utf8 import read_utf8
def find_problem(path: Path, suffix: str, key: str = "data.path") -> SeqtkError | None:
    """The first thing wrong with a table file that a parser's message would not name, or None.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.jsonl"
    >>> _ = path.write_text('{"text": "a"}\\n\\n{"text": "b"} junk\\n')
    >>> print(find_problem(path, ".jsonl"))  # doctest: +ELLIPSIS
    cannot read '...x.jsonl' as JSONL: line 3 is not one JSON object (Extra data at column 15): {"text": "b"} junk. Fix: ...
    """
    if suffix == ".parquet":
        return _parquet_problem(path, key)
    text = read_utf8(path)
    if suffix == ".jsonl":
        return _lines_problem(path, text, "JSONL", key)
    if suffix == ".json":
        return _json_problem(path, text, key)
    return _csv_problem(path, text, "\t" if suffix == ".tsv" else ",", key)


def _csv_problem(path: Path, text: str, delimiter: str, key: str) -> SeqtkError | None:
    """A header and no rows (blank lines are no rows); None for anything else."""
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error:  # a NUL byte, a field over the size limit: the parser's message says it
        return None
    if len(rows) > 1:
        return None
    return no_rows(path, f"has a header ({name_list(rows[0] if rows else [])}) and no rows", key)


def _lines_problem(path: Path, text: str, kind: str, key: str) -> SeqtkError | None:
    """The first line that is not one JSON object (blank lines are skipped), or no records at all."""
    records = 0
    for number, line in enumerate(record_lines(text), start=1):
        if not line.strip():
            continue
        value, why = json_object(line)
        if why:
            return SeqtkError(
                f"cannot read '{path}' as {kind}: line {number} is not one JSON object ({why}): {line_start(line)}",
                fix=f"correct or delete line {number}: {_ONE_PER_LINE[kind]}, such as {{\"text\": \"hello\"}}",
            )
        records += bool(value)
    return None if records else no_rows(path, "has no records: every line is an empty JSON object {}", key)


def record_lines(text: str) -> list[str]:
    """JSON lines cut where pyarrow cuts them: at ``\\n``, ``\\r\\n`` and a lone ``\\r`` (never at U+2028,
    which a JSON string may hold).

    >>> record_lines('{"a": 1}\\r{"a": 2}\\r\\n{"a": "\\u2028"}')
    ['{"a": 1}', '{"a": 2}', '{"a": "\\u2028"}']
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


_ONE_PER_LINE = {"JSONL": "a JSONL file holds one JSON object per line",
                 "JSON": "a .json file of JSON lines holds one JSON object per line"}


def _json_problem(path: Path, text: str, key: str) -> SeqtkError | None:
    """What is wrong with a ``.json`` file: a syntax error (its line), a list item that is not an object, no
    records. JSON Lines under a ``.json`` name are checked line by line."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        return None
    except ValueError as exc:
        first = next((line for line in record_lines(text) if line.strip()), "")
        if not json_object(first)[1]:  # the first line is an object of its own: JSON Lines
            return _lines_problem(path, text, "JSON", key)
        return _bad_json(path, text, exc)
    if isinstance(value, dict):
        return None if value else no_rows(path, "has no records: it holds an empty JSON object {}", key)
    if not isinstance(value, list):
        return SeqtkError(f"the file '{path}' holds {json_kind(value)}, not records",
                          fix='make it a JSON list of objects, such as [{"text": "hello"}, {"text": "bye"}]')  # fmt: skip
    return _items_problem(path, value, key)


def _items_problem(path: Path, items: list[Any], key: str) -> SeqtkError | None:
    """A JSON list with an item that is not an object, or with no records."""
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            return SeqtkError(
                f"item {number} of the list in '{path}' is not a JSON object (it is {json_kind(item)}): "
                f"{line_start(json.dumps(item))}",
                fix='make every item of the list one record, such as {"text": "hello"}',
            )
    if any(items):
        return None
    what = "its list is empty" if not items else "every item is an empty object {}"
    return no_rows(path, f"has no records: {what}", key)


def _bad_json(path: Path, text: str, exc: ValueError) -> SeqtkError:
    """A syntax error in a ``.json`` file, with its line and the start of that line."""
    if not isinstance(exc, json.JSONDecodeError):  # NaN or Infinity, which JSON does not have
        return SeqtkError(f"cannot read '{path}' as JSON: {exc}", fix="write the value as null or as a string")
    line = text.split("\n")[exc.lineno - 1]
    return SeqtkError(
        f"cannot read '{path}' as JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}: {line_start(line)}",
        fix=f"correct line {exc.lineno}: the file holds a JSON list of objects ([{{...}}, {{...}}]), or use .jsonl "
        "with one JSON object per line",
    )


def _parquet_problem(path: Path, key: str) -> SeqtkError | None:
    """A parquet file with a schema and no rows; None for anything else (pyarrow names that itself)."""
    try:
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(path)
        rows, names = parquet.metadata.num_rows, parquet.schema_arrow.names
    except Exception:  # not parquet at all: the parser's own message says so
        return None
    return no_rows(path, f"has columns ({name_list(names)}) and no rows", key) if rows == 0 else None


def json_object(line: str) -> tuple[Any, str]:
    """``line`` parsed, and ``""`` when it is one JSON object, else why it is not.

    >>> json_object('{"a": 1}'), json_object('[1]'), json_object('{"a": 1} x')
    (({'a': 1}, ''), ([1], 'it is a JSON array'), (None, 'Extra data at column 10'))
    """
    try:
        value = json.loads(line, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at column {exc.colno}"
    except ValueError as exc:
        return None, str(exc)
    except RecursionError:
        return None, "nested too deeply"
    return value, "" if isinstance(value, dict) else f"it is {json_kind(value)}"


def _no_constant(name: str) -> Any:
    """Python's json reads NaN and Infinity; JSON (and pyarrow) do not."""
    raise ValueError(f"{name} is not a JSON value")


def json_kind(value: Any) -> str:
    """``"a JSON array"``, ``"a JSON string"``... for a message."""
    kinds = ((bool, "true or false"), (str, "a JSON string"), (list, "a JSON array"), (dict, "a JSON object"),
             (int, "a JSON number"), (float, "a JSON number"))  # fmt: skip
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


def no_rows(path: Path, what: str, key: str) -> SeqtkError:
    """The error for a file that parses but holds no examples (``what``: how it looks)."""
    return SeqtkError(f"the file '{path}' {what}",
                      fix=f"add rows to it, one example each, or point {key} at a file that has them")  # fmt: skip


def line_start(line: str, width: int = 60) -> str:
    """The start of a line for a message, cut at ``width`` characters."""
    line = line.strip()
    return line if len(line) <= width else line[:width] + "..."


def name_list(names: Sequence[str], shown: int = 8) -> str:
    """Column names for a message: ``"text, label"``, or the first ``shown`` and how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return (", ".join(names[:shown]) or "no column names") + more


def csv_header(path: Path, delimiter: str) -> list[str]:
    """The column names of a CSV/TSV file, refusing a header that pandas would read wrongly without a word.

    A name twice: pandas renames the second ``a.1`` and only the first is kept. An unnamed column: the
    load fails on ``Field "" does not exist``. A first row with one cell more than the header (a delimiter
    at the end of each line): pandas makes its first cell the row's label, and every cell moves one column
    to the left, the text column reading the labels. Read with ``csv`` as pandas reads it (a quoted name may
    hold a line break).
    """
    rows, header = csv.reader(io.StringIO(read_utf8(path), newline=""), delimiter=delimiter), []
    try:
        header = next(rows, [])
        first = next((row for row in rows if row), None)
    except csv.Error:  # a cell over csv's size limit: pandas says what it makes of it
        return header
    for number, name in enumerate(header, start=1):
        if not name.strip():
            raise SeqtkError(f"column {number} of the header of '{path}' has no name",
                             fix="name every column in the first line (a delimiter at the end of the header line "
                             "makes an unnamed last column)")  # fmt: skip
        if name in header[: number - 1]:
            raise SeqtkError(f"the header of '{path}' names the column '{name}' twice (columns "
                             f"{header.index(name) + 1} and {number}), so one of them would be dropped",
                             fix="give every column its own name")  # fmt: skip
    if first is not None and len(first) > len(header):
        raise SeqtkError(
            f"line {rows.line_num} of '{path}' has {len(first)} cells but the header names {len(header)} columns, "
            "so every cell would move one column to the left",
            fix="remove the extra cell (often a delimiter at the end of each line), or name its column in the header",
        )
    return header
