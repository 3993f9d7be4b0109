"""Inputs for ``seqtk predict --file``: one per line, or one column of a CSV, TSV or JSONL file, streamed.

Lines end at ``\\n``, ``\\r\\n`` or ``\\r`` (a file saved with old Mac line
endings is not one input) and nowhere else (``str.splitlines`` would also cut
inside a text at U+0085, U+2028 and form feeds, turning one review into
several); blank lines are skipped. A table's rows must
each have a text in the column, so that predictions line up with rows.
:func:`iter_inputs` reads the file as it goes, so a file of a million lines
costs the memory of one chunk (``seqtk predict --out``).
"""

from __future__ import annotations

import codecs
import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TextIO

from seqtk.errors import SeqtkError

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl")


@dataclass(frozen=True)
class Flags:
    """How the command that reads the file names it, for the messages: ``seqtk predict --file`` by default."""

    file: str = "--file"
    column: str | None = "--column"  # None: the column is fixed (``prompt``), not an option
    command: str = "predict"
    item: str = "input"
    outputs: str = "predictions"


PREDICT = Flags()
PROMPTS = Flags(file="--prompts-file", column=None, command="generate", item="prompt", outputs="samples")


def read_inputs(file: Path | None, column: str | None = None, flags: Flags = PREDICT) -> list[str]:
    """Every input in ``file`` (none without one); ``flags`` name the options in the messages."""
    if file is None:
        if column is not None:
            raise SeqtkError("--column names a column of --file, but no --file was given", fix="add --file FILE")
        return []
    items = list(iter_inputs(file, column, flags))
    if not items:
        raise SeqtkError(f"the input file '{file}' has no non-empty {flags.item}s",
                         fix=f"put one {flags.item} per line (or per row)")  # fmt: skip
    return items


def iter_inputs(file: Path, column: str | None = None, flags: Flags = PREDICT) -> Iterator[str]:
    """The inputs of ``file`` one by one, read as needed."""
    _check(file, column, flags)
    if column is None:
        yield from _lines(file)
    elif file.suffix.lower() == ".jsonl":
        yield from _cells(file, column, _json_rows(file), flags)
    else:
        yield from _csv_cells(file, column, flags)


def count_inputs(file: Path) -> int:
    """Newline count: the number of inputs of a plain or JSONL file, an upper bound for a CSV (for progress)."""
    with file.open("rb") as stream:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))


def split_lines(text: str) -> list[str]:
    """Lines cut at ``\\n``, ``\\r\\n`` and ``\\r`` only, as :func:`iter_inputs` cuts a file.

    >>> split_lines("one\\u0085still one\\r\\ntwo\\rthree\\n")
    ['one\\x85still one', 'two', 'three', '']
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _check(file: Path, column: str | None, flags: Flags) -> None:
    text_file = f"pass {flags.file} a UTF-8 text file with one {flags.item} per line"
    if file.is_dir():
        raise SeqtkError(f"the input file '{file}' is a folder",
                         fix=f"pass {flags.file} a text file with one {flags.item} per line")  # fmt: skip
    if not file.is_file():
        raise SeqtkError(f"the input file '{file}' does not exist", fix=f"check the {flags.file} path")
    with file.open("rb") as stream:
        head = stream.read(8192)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SeqtkError(
            f"the input file '{file}' is UTF-16 text (it starts with a UTF-16 byte-order mark); {flags.command} reads UTF-8",
            fix=f"re-save the file as UTF-8, e.g. iconv -f utf-16 -t utf-8 '{file}' > fixed{file.suffix}",
        )
    if b"\x00" in head:  # a checkpoint, an image: not lines of text
        raise SeqtkError(
            f"the input file '{file}' looks like a binary file, not text: byte {head.index(0)} is a NUL (0x00)",
            fix=text_file,
        )
    table = file.suffix.lower() in TABLE_SUFFIXES
    if column is None and table:
        raise SeqtkError(
            f"'{file}' is a {file.suffix[1:].upper()} file: which column holds the inputs? "
            f"(columns: {', '.join(_header(file)) or 'none found'})",
            fix="pass --column NAME, or give a plain text file with one input per line",
        )
    if column is not None and not table:
        raise SeqtkError(f"--column reads CSV, TSV or JSONL files, not '{file.name}'", fix=f"use a {'/'.join(TABLE_SUFFIXES)} file, or drop --column")


def _open(file: Path, newline: str | None = "") -> TextIO:
    """``file`` as UTF-8 text (a BOM dropped); ``newline=""`` for csv, which must see quoted newlines, and
    ``None`` for lines, which then end at ``\\r`` and ``\\r\\n`` as well as ``\\n``."""
    return file.open(encoding="utf-8-sig", newline=newline)


def _decoded(file: Path, lines: Iterator[str]) -> Iterator[str]:
    try:
        yield from lines
    except UnicodeDecodeError:
        raise _not_utf8(file) from None


def _not_utf8(file: Path) -> SeqtkError:
    """The error naming the first byte of ``file`` that is not UTF-8, by line and column: the text stream's
    own error counts from the start of a 64 KiB block. A second pass, streamed, so a huge file costs no memory."""
    decoder, done, newlines, line_start = codecs.getincrementaldecoder("utf-8-sig")(), 0, 0, 0
    with file.open("rb") as stream:
        for block in chain(iter(lambda: stream.read(1 << 16), b""), [b""]):
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:  # exc.object: the bytes held back from the block before, then this one
                pos = done - (len(exc.object) - len(block)) + exc.start
                before = block[: max(pos - done, 0)]
                line, line_start = newlines + before.count(b"\n") + 1, _line_start(before, done, line_start)
                return SeqtkError(
                    f"the input file '{file}' is not UTF-8 text: byte {pos} (line {line}, column "
                    f"{pos - line_start + 1}) is 0x{exc.object[exc.start]:02x}",
                    fix=f"re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 '{file}' > fixed{file.suffix}",
                )
            newlines, line_start = newlines + block.count(b"\n"), _line_start(block, done, line_start)
            done += len(block)
    return SeqtkError(f"the input file '{file}' is not UTF-8 text", fix="re-save it as UTF-8")


def _line_start(block: bytes, offset: int, previous: int) -> int:
    """The file offset where the last line begun in ``block`` (which starts at ``offset``) starts, else ``previous``."""
    newline = block.rfind(b"\n")
    return previous if newline < 0 else offset + newline + 1


def _lines(file: Path) -> Iterator[str]:
    with _open(file, newline=None) as stream:
        for line in _decoded(file, _newline_split(stream)):
            if line.strip():
                yield line


def _newline_split(stream) -> Iterator[str]:  # noqa: ANN001
    """Lines of a stream opened with newline=None (so \\r and \\r\\n arrive as \\n), cut at \\n only: U+0085
    and U+2028 stay inside their line."""
    pending = ""
    for block in iter(lambda: stream.read(1 << 16), ""):
        parts = (pending + block).split("\n")
        pending = parts.pop()
        yield from parts
    if pending:
        yield pending


def _json_rows(file: Path) -> Iterator[dict[str, object]]:
    with _open(file, newline=None) as stream:
        for number, line in enumerate(_decoded(file, _newline_split(stream)), start=1):
            if line.strip():
                yield _json_row(file, number, line)


def _json_row(file: Path, number: int, line: str) -> dict[str, object]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SeqtkError(f"line {number} of '{file}' is not JSON ({exc.msg})", fix="write one JSON object per line") from None
    if not isinstance(row, dict):
        raise SeqtkError(f"line {number} of '{file}' is not a JSON object", fix="write one {...} object per line")
    return row


def _csv_cells(file: Path, column: str, flags: Flags) -> Iterator[str]:
    csv.field_size_limit(sys.maxsize)  # a long review is one cell, not an error
    delimiter = "\t" if file.suffix.lower() == ".tsv" else ","
    with _open(file) as stream:
        reader = csv.DictReader(_decoded(file, stream), delimiter=delimiter, strict=True)
        try:
            _require_column(file, column, list(reader.fieldnames or []), flags)
            yield from _cells(file, column, reader, flags, check_header=False)
        except csv.Error as exc:
            raise SeqtkError(f"'{file}' is not valid {file.suffix[1:].upper()} near line {reader.line_num}: {exc}",
                             fix="check the quoting on that line (a cell with a comma or newline goes in double quotes)") from None


def _cells(file: Path, column: str, rows: Iterator[dict], flags: Flags, check_header: bool = True) -> Iterator[str]:
    """The column's cell of every row; a row without a text in it stops with its number (rows must line up)."""
    for number, row in enumerate(rows, start=1):
        if check_header and number == 1:
            _require_column(file, column, list(row), flags)
        cell = row.get(column)
        if not isinstance(cell, str) or not cell.strip():
            raise SeqtkError(
                f"row {number} of '{file}' has no text in column '{column}' (empty, missing or not a string), so "
                f"the {flags.outputs} would not line up with the file's rows",
                fix="fill or delete that row",
            )
        yield cell


def _require_column(file: Path, column: str, names: list[str], flags: Flags) -> None:
    if column not in names:
        from seqtk.errors import suggest

        fix = (f"pass one of the columns found to {flags.column}" if flags.column else
               f"name the column of {flags.item}s '{column}' (the header of a CSV/TSV, the key of each JSONL object)")  # fmt: skip
        raise SeqtkError(
            f"'{file}' has no column '{column}'.{suggest(column, names)} Columns found: {', '.join(names) or 'none'}",
            fix=fix,
        )


def _header(file: Path) -> list[str]:
    """The column names of a table file (its first row or first JSON object)."""
    try:
        if file.suffix.lower() == ".jsonl":
            return list(next(_json_rows(file), {}))
        with _open(file) as stream:
            return next(csv.reader(stream, delimiter="\t" if file.suffix.lower() == ".tsv" else ","), [])
    except (SeqtkError, csv.Error, UnicodeDecodeError):
        return []
