"""Readers of tagged sentences: CoNLL-U, CoNLL-2003 columns, ``word/TAG`` lines and JSONL.

Each reader turns one file into a list of :class:`Sentence` (words and their
tags, one each). A problem in the file is a :class:`~seqtk.errors.SeqtkError`
that names the file and the line (and, for bytes that are not UTF-8, the
column), and says how to fix it.

>>> read_slash_lines(["The/at old/jj man/nn ./.", "", "1/2/cd"], "x.txt")
[Sentence(words=('The', 'old', 'man', '.'), tags=('at', 'jj', 'nn', '.')), Sentence(words=('1/2',), tags=('cd',))]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from seqtk.errors import SeqtkError

FORMATS = ("conllu", "columns", "slash", "jsonl")
_CONLLU_ID = re.compile(r"^\d+$")


class Sentence(NamedTuple):
    """One tagged sentence: ``len(words) == len(tags) >= 1``."""

    words: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class ReadOptions:
    """How to read the files (the ``[data]`` keys of the formats)."""

    format: str = "auto"
    conllu_tag: str = "upos"
    word_column: int = 0
    tag_column: int = -1
    tokens_key: str = "tokens"
    tags_key: str = "tags"


def read_file(path: Path, options: ReadOptions = ReadOptions()) -> list[Sentence]:
    """The sentences of one file, in the format ``options.format`` (``auto``: :func:`detect_format`)."""
    lines = read_lines(path)
    kind = options.format if options.format != "auto" else detect_format(path, lines)
    if kind == "conllu":
        sentences = read_conllu_lines(lines, str(path), 3 if options.conllu_tag == "upos" else 4)
    elif kind == "columns":
        sentences = read_column_lines(lines, str(path), options.word_column, options.tag_column)
    elif kind == "slash":
        sentences = read_slash_lines(lines, str(path))
    else:
        sentences = read_jsonl_lines(lines, str(path), options.tokens_key, options.tags_key)
    if not sentences:
        raise SeqtkError(
            f"the file '{path}' holds no tagged sentences (read as {kind})",
            fix="point data.path at a file with data, or set data.format if it is not " + kind,
        )
    return sentences


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file; bytes that are not UTF-8 are an error naming line and column."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SeqtkError(f"cannot read '{path}': {exc.strerror}", fix="check data.path and its permissions") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SeqtkError(
            f"'{path}' is not UTF-8: line {line}, column {column} (byte {exc.start}) holds the byte "
            f"0x{data[exc.start]:02x}",
            fix=f"convert the file to UTF-8, e.g. iconv -f latin1 -t utf-8 '{path}' > fixed.txt",
        ) from None
    if not text.strip():
        raise SeqtkError(f"the file '{path}' is empty", fix="point data.path (or val_path/test_path) at a file with data")
    return split_lines(text)


def split_lines(text: str) -> list[str]:
    """Lines cut at ``\\n``, ``\\r\\n`` or ``\\r`` only: ``str.splitlines`` also cuts at U+0085, U+2028 and
    form feeds, which split a CoNLL-U FORM (or a ``word/TAG`` sentence) in two and shift every line number.

    >>> split_lines("1\\tNew\\u2028York\\r\\n2\\tx\\r3\\ty")
    ['1\\tNew\\u2028York', '2\\tx', '3\\ty']
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def detect_format(path: Path, lines: list[str]) -> str:
    """The format of a file: by its extension, else by its first lines.

    >>> detect_format(Path("a"), ["# c", "1\\tThe\\tthe\\tDET\\tDT\\t_\\t2\\tdet\\t_\\t_"])
    'conllu'
    >>> detect_format(Path("a"), ["EU NNP B-NP B-ORG"]), detect_format(Path("a"), ["\\tThe/at dog/nn"])
    ('columns', 'slash')
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".conllu":
        return "conllu"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    sample = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")][:20]
    if not sample:
        return "columns"
    if sample[0].startswith("{"):
        return "jsonl"
    fields = sample[0].split("\t")
    if len(fields) == 10 and _CONLLU_ID.match(fields[0].split("-")[0].split(".")[0]):
        return "conllu"
    tokens = [tok for ln in sample for tok in ln.split()]
    if 2 * sum("/" in tok.strip("/") for tok in tokens) > len(tokens):  # most: one untagged token is its reader's error
        return "slash"
    return "columns"


def read_conllu_lines(lines: Iterable[str], name: str, tag_field: int = 3) -> list[Sentence]:
    """CoNLL-U: word = FORM (field 2), tag = UPOS (``tag_field`` 3) or XPOS (4); comments, ranges, empty nodes skipped."""
    column, other = ("UPOS", "xpos") if tag_field == 3 else ("XPOS", "upos")
    out: list[Sentence] = []
    for block in _blocks(lines):
        words, tags = [], []
        for number, line in block:
            if line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 10:
                raise SeqtkError(
                    f"{name} line {number} has {len(fields)} tab-separated fields, but a CoNLL-U token line has 10 "
                    f"(ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC), so its {column} tag column is missing",
                    fix="separate the fields with tabs, or set data.format to the file's real format",
                )
            if not _CONLLU_ID.match(fields[0]):  # 1-2 (a multiword token's range) or 1.1 (an empty node)
                continue
            if fields[tag_field] in ("", "_"):
                raise SeqtkError(
                    f"{name} line {number}: the token '{fields[1]}' has no {column} tag ('{fields[tag_field]}')",
                    fix=f"tag it, or set data.conllu_tag = \"{other}\" if that column is filled",
                )
            words.append(fields[1])
            tags.append(fields[tag_field])
        if words:
            out.append(Sentence(tuple(words), tuple(tags)))
    return out


def read_column_lines(lines: Iterable[str], name: str, word_column: int = 0, tag_column: int = -1) -> list[Sentence]:
    """CoNLL-2003 style: whitespace-separated columns, blank lines between sentences, ``-DOCSTART-`` skipped."""
    out: list[Sentence] = []
    first = True
    for block in _blocks(lines):
        words, tags = [], []
        for number, line in block:
            fields = line.split()
            if fields[0] == "-DOCSTART-":
                continue
            need = max(_needed(word_column), _needed(tag_column))
            if len(fields) < need or len(fields) < 2:
                raise _column_error(name, number, fields, tag_column, first)
            words.append(fields[word_column])
            tags.append(fields[tag_column])
            first = False
        if words:
            out.append(Sentence(tuple(words), tuple(tags)))
    return out


def _needed(column: int) -> int:
    """How many fields a line needs for ``column`` (from 0, or negative from the end) to be a real column."""
    return column + 1 if column >= 0 else -column


def _column_error(name: str, number: int, fields: list[str], tag_column: int, first: bool) -> SeqtkError:
    shown = " ".join(fields)[:80]
    if first:  # the file's first token line: the column is missing from the file, not from one token
        return SeqtkError(
            f"{name} line {number} ('{shown}') has {len(fields)} column(s), so it has no tag column "
            f"(data.tag_column = {tag_column}, counted from 0)",
            fix="set data.tag_column (and data.word_column) to the columns the file has, or set data.format "
            "to its real format (conllu, slash, jsonl)",
        )
    return SeqtkError(
        f"{name} line {number}: the token '{fields[0]}' has no tag ({len(fields)} column(s), where the lines "
        f"before it have a tag in column {tag_column})",
        fix="add the token's tag on that line, or remove the line",
    )


def read_slash_lines(lines: Iterable[str], name: str) -> list[Sentence]:
    """One sentence per line of ``word/TAG`` tokens; each splits at its last slash (``1/2/cd`` is ``1/2``, ``cd``)."""
    out: list[Sentence] = []
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        words, tags = [], []
        for token in tokens:
            word, slash, tag = token.rpartition("/")
            if not slash or not word or not tag:
                raise SeqtkError(
                    f"{name} line {number}: the token '{token}' has no tag (word/TAG tokens, one sentence per line)",
                    fix="write it as word/TAG, or set data.format if the file is not in the word/TAG format",
                )
            words.append(word)
            tags.append(tag)
        out.append(Sentence(tuple(words), tuple(tags)))
    return out


def read_jsonl_lines(lines: Iterable[str], name: str, tokens_key: str = "tokens", tags_key: str = "tags") -> list[Sentence]:
    """One JSON object per line, with a list of words and a list of tags of the same length."""
    out: list[Sentence] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            raise SeqtkError(f"{name} line {number} is not valid JSON ({why})", fix="write one JSON object per line") from None
        words = _string_list(record, tokens_key, name, number)
        tags = _string_list(record, tags_key, name, number)
        if len(words) != len(tags):
            raise SeqtkError(
                f"{name} line {number} has {len(words)} tokens but {len(tags)} tags",
                fix="give every token exactly one tag",
            )
        if words:
            out.append(Sentence(tuple(words), tuple(tags)))
    return out


def _string_list(record: object, key: str, name: str, number: int) -> list[str]:
    value = record.get(key) if isinstance(record, dict) else None
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        keys = ", ".join(map(str, record)) if isinstance(record, dict) else type(record).__name__
        raise SeqtkError(
            f"{name} line {number}: '{key}' is not a list of non-empty strings (the object has: {keys})",
            fix="set data.tokens_key and data.tags_key to the keys the file uses",
        )
    return value


def _blocks(lines: Iterable[str]) -> Iterator[list[tuple[int, str]]]:
    """Groups of (line number, line) separated by blank lines (a file need not end with one)."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            block.append((number, line.rstrip("\r\n")))
        elif block:
            yield block
            block = []
    if block:
        yield block
