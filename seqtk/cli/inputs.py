"""Inputs for ``seqtk predict --file``: one per line, or one column of a CSV, TSV or JSONL file.

Lines are cut at ``\\n`` only (``str.splitlines`` would also cut inside a text
at U+0085, U+2028 and form feeds, turning one review into several); a
trailing ``\\r`` is dropped and blank lines are skipped.
"""

from __future__ import annotations

import csv
import io
import json
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


def _rows(file: Path, text: str) -> list[dict[str, object]]:
    if file.suffix.lower() == ".jsonl":
        rows = []
        for number, line in enumerate(split_lines(text), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SeqtkError(f"line {number} of '{file}' is not JSON ({exc.msg})", fix="write one JSON object per line") from None
            if not isinstance(row, dict):
                raise SeqtkError(f"line {number} of '{file}' is not a JSON object", fix="write one {...} object per line")
            rows.append(row)
        return rows
    delimiter = "\t" if file.suffix.lower() == ".tsv" else ","
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))  # quoted newlines stay in a cell


def _columns(file: Path, text: str) -> list[str]:
    rows = _rows(file, text)
    return list(rows[0]) if rows else []


def _column(file: Path, text: str, column: str) -> list[str]:
    rows = _rows(file, text)
    if rows and column not in rows[0]:
        from seqtk.errors import suggest

        names = list(rows[0])
        raise SeqtkError(
            f"'{file}' has no column '{column}'.{suggest(column, names)} Columns found: {', '.join(names)}",
            fix="pass one of the columns found to --column",
        )
    return ["" if row.get(column) is None else str(row.get(column)) for row in rows]
