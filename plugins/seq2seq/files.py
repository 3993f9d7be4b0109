"""Source/target pairs from the user's table file or a Hugging Face dataset.

A file (``.tsv``, ``.csv``, ``.jsonl``, ``.json`` or ``.parquet``, read by
:mod:`seqtk.data.tables`) or a hub split has one pair per row, in the columns
``data.source_column`` and ``data.target_column`` (``auto``: the first of
:data:`SOURCE_COLUMNS` / :data:`TARGET_COLUMNS` present). Cells are taken
as strings with their outer whitespace stripped; a JSON number becomes its
text and a JSON list of tokens (``["K", "AE1", "T"]``) its tokens joined by
spaces. Rows that share a source become one
:class:`~seqtk_plugins.seq2seq.pairs.Example` with several acceptable
targets (a word with two spellings, a sentence with two corrections); a row
repeating another exactly counts once. Both are said in the notes.

A row whose source or target is empty is an error naming the rows, by
default: a blank cell is more often a broken export than a pair to skip.
With ``drop_empty`` such rows are dropped instead, and a note counts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqtk.data import tables
from seqtk.data.tables import Table, row_list
from seqtk.errors import SeqtkError
from seqtk_plugins.seq2seq.pairs import Example, PairSource, count_pairs, group_pairs

SOURCE_COLUMNS = ("source", "src", "input", "question", "word", "typo")
TARGET_COLUMNS = ("target", "tgt", "output", "answer", "pronunciation", "phonemes", "correction", "fix")
LOCAL_ALTERNATIVES = "use a local copy: data.path=FILE for a TSV/CSV/JSONL/parquet file with source and target columns"


def read_pairs_file(path: Path, source_column: str = "auto", target_column: str = "auto",
                    drop_empty: bool = False, key: str = "data.path") -> PairSource:
    """The file's pairs as one training set (val and test are carved from it); ``key`` is the setting that
    names the file, for the errors."""
    examples, notes = table_examples(tables.read_file(path, key), source_column, target_column, drop_empty)
    return PairSource(path.name, examples, None, notes)


def load_hub_pairs(name: str, config: str | None, train_split: str, test_split: str, source_column: str = "auto",
                   target_column: str = "auto", drop_empty: bool = False,
                   alternatives: str = LOCAL_ALTERNATIVES) -> PairSource:
    """A hub dataset's ``train_split``, and its ``test_split`` as the fixed test set unless that is ``""``."""

    def split(which: str) -> tuple[list[Example], list[str]]:
        return table_examples(tables.load_hub(name, config, which, alternatives), source_column, target_column, drop_empty)

    train, notes = split(train_split)
    if not test_split:
        return PairSource(name, train, None, notes)
    test, test_notes = split(test_split)
    return PairSource(name, train, test, notes + test_notes)


def table_examples(table: Table, source_column: str, target_column: str, drop_empty: bool) -> tuple[list[Example], list[str]]:
    """The table's rows grouped by source, and notes on what was dropped or merged."""
    source = table.pick(source_column, SOURCE_COLUMNS, "source", "data.source_column")
    target = table.pick(target_column, TARGET_COLUMNS, "target", "data.target_column")
    if source == target:
        raise SeqtkError(
            f"{table.where}: the source and target columns are both '{source}'",
            fix="set data.source_column and data.target_column to two different columns",
        )
    pairs, empty = [], []
    for row, (s, t) in enumerate(zip(table.column(source), table.column(target)), start=1):
        s, t = cell_text(s), cell_text(t)
        if s and t:
            pairs.append((s, t))
        else:
            empty.append(row)
    if empty and not drop_empty:
        raise SeqtkError(
            f"{row_list(empty)} of {table.where} {'has' if len(empty) == 1 else 'have'} an empty source or target "
            f"(columns '{source}' and '{target}')",
            fix="fill in or delete those rows, or set data.drop_empty = true to skip them",
        )
    if not pairs:
        raise SeqtkError(
            f"{table.where} has no rows with both a source and a target", fix="check the columns and the file's contents"
        )
    examples = group_pairs(pairs)
    return examples, _notes(table.where, empty, len(pairs), examples)


def cell_text(value: Any) -> str:
    """A cell as text: strings stripped, numbers as written, token lists joined by spaces, missing as ``""``.

    >>> cell_text(" cat "), cell_text(596), cell_text(["K", "AE1", "T"]), cell_text(None), cell_text(2.0)
    ('cat', '596', 'K AE1 T', '', '2')
    """
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(cell_text(v) for v in value if cell_text(v))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _notes(where: str, empty: list[int], pairs: int, examples: list[Example]) -> list[str]:
    notes = []
    if empty:
        notes.append(f"dropped {len(empty):,} {'row' if len(empty) == 1 else 'rows'} of {where} with an empty source "
                     f"or target ({row_list(empty)}; data.drop_empty)")  # fmt: skip
    repeats = pairs - count_pairs(examples)
    if repeats:
        notes.append(f"dropped {repeats:,} {'row' if repeats == 1 else 'rows'} of {where} repeating another row")
    several = sum(1 for e in examples if len(e.targets) > 1)
    if several:
        notes.append(f"{several:,} sources of {where} have several targets (rows with the same source), "
                     "kept as one example each: any of them counts as right")  # fmt: skip
    return notes
