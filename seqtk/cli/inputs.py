"""Inputs for ``seqtk predict --file``: one per line, or one column of a CSV, TSV or JSONL file.

Lines are cut at ``\\n`` only (``str.splitlines`` would also cut inside a text
at U+0085, U+2028 and form feeds, turning one review into several); a
trailing ``\\r`` is dropped and blank lines are skipped.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

from seqtk.errors import SeqtkError

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl")


def read_inputs(file: Path | None, column: str | None = None) -> list[str]:
    """The inputs in ``file`` (none without one)."""
    if file is None:
        if column is not None:
            raise SeqtkError("--column names a column of --file, but no --file was given", fix="add --file FILE")
        return []
    text = _read_text(file)
    table = file.suffix.lower() in TABLE_SUFFIXES
    if column is None and table:
        raise SeqtkError(
            f"'{file}' is a {file.suffix[1:].upper()} file: which column holds the inputs? "
            f"(columns: {', '.join(_columns(file, text)) or 'none found'})",
            fix="pass --column NAME, or give a plain text file with one input per line",
        )
    if column is not None and not table:
        raise SeqtkError(f"--column reads CSV, TSV or JSONL files, not '{file.name}'", fix=f"use a {'/'.join(TABLE_SUFFIXES)} file, or drop --column")
    items = _column(file, text, column) if column is not None else split_lines(text)
    items = [item for item in items if item.strip()]
    if not items:
        raise SeqtkError(f"the input file '{file}' has no non-empty inputs", fix="put one input per line (or per row)")
    return items


def split_lines(text: str) -> list[str]:
    """Lines cut at newlines only.

    >>> split_lines("one\\u0085still one\\r\\ntwo\\n")
    ['one\\x85still one', 'two', '']
    """
    return [line.removesuffix("\r") for line in text.split("\n")]


def _read_text(file: Path) -> str:
    if not file.is_file():
        raise SeqtkError(f"the input file '{file}' does not exist", fix="check the --file path")
    try:
        return file.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise SeqtkError(f"the input file '{file}' is not UTF-8 (byte {exc.start})", fix="save it as UTF-8") from None


def _rows(file: Path, text: str) -> tuple[list[str], list[dict[str, object]]]:
    """The column names and the rows of a CSV, TSV or JSONL file."""
    if file.suffix.lower() == ".jsonl":
        rows = [_json_row(file, number, line) for number, line in enumerate(split_lines(text), start=1) if line.strip()]
        return (list(rows[0]) if rows else []), rows
    csv.field_size_limit(sys.maxsize)  # a long review is one cell, not an error
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if file.suffix.lower() == ".tsv" else ",", strict=True)
    try:
        rows = list(reader)
        return list(reader.fieldnames or []), rows
    except csv.Error as exc:
        raise SeqtkError(f"'{file}' is not valid {file.suffix[1:].upper()} near line {reader.line_num}: {exc}",
                         fix="check the quoting on that line (a cell with a comma or newline goes in double quotes)") from None


def _json_row(file: Path, number: int, line: str) -> dict[str, object]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SeqtkError(f"line {number} of '{file}' is not JSON ({exc.msg})", fix="write one JSON object per line") from None
    if not isinstance(row, dict):
        raise SeqtkError(f"line {number} of '{file}' is not a JSON object", fix="write one {...} object per line")
    return row


def _columns(file: Path, text: str) -> list[str]:
    return _rows(file, text)[0]


def _column(file: Path, text: str, column: str) -> list[str]:
    """The column's cells, one per row; a row without a text in it is refused (predictions must line up)."""
    names, rows = _rows(file, text)
    if column not in names:
        from seqtk.errors import suggest

        raise SeqtkError(
            f"'{file}' has no column '{column}'.{suggest(column, names)} Columns found: {', '.join(names) or 'none'}",
            fix="pass one of the columns found to --column",
        )
    cells = [row.get(column) for row in rows]
    bad = [n for n, cell in enumerate(cells, start=1) if not isinstance(cell, str) or not cell.strip()]
    if bad:
        shown = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise SeqtkError(
            f"row(s) {shown} of '{file}' have no text in column '{column}' (empty, missing or not a string), so "
            "the predictions would not line up with the file's rows",
            fix="fill or delete those rows",
        )
    return [str(cell) for cell in cells]
