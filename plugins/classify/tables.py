"""Tables of labelled texts: local files and hub datasets, as classification corpora.

:mod:`seqtk.data.tables` reads the table (``data.source = "file"``: ``.csv``,
``.tsv``, ``.jsonl``, ``.json`` -- a list of records, like the npm
``sentiment`` package's ``imdb.json`` -- and ``.parquet``, offline; ``"hub"``:
a Hugging Face dataset, which needs the internet or the ``datasets`` cache).

Columns are picked by ``data.text_column`` / ``data.label_column`` (``auto``:
the first usual name present). The task turns the label values into class
indices with its *labeler*: any strings for ``classify``
(:func:`~seqtk_plugins.classify.corpus.index_labels`), binary ones for
``sentiment``. Rows whose text is empty are dropped and counted in a note
(``imdb.json`` ends with one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqtk.data import tables
from seqtk.data.tables import TABLE_SUFFIXES, Table, row_list
from seqtk.errors import SeqtkError
from seqtk_plugins.classify.corpus import Corpus, Label, LabeledTexts, clean_text

if TYPE_CHECKING:  # pragma: no cover
    from seqtk_plugins.classify.config import ClassifyData

__all__ = ["TABLE_SUFFIXES", "Labeler", "load_hub", "read_table"]

#: label values, and where they come from -> class indices and the class names
Labeler = Callable[[list[Any], str], tuple[list[Label], tuple[str, ...]]]

TEXT_COLUMNS = ("text", "review", "sentence", "content", "question", "utterance")
LABEL_COLUMNS = ("label", "labels", "class", "category", "topic", "intent", "sentiment", "polarity")
LOCAL_ALTERNATIVES = (
    "use a local copy: data.source=file data.path=FILE for a CSV/TSV/JSONL/parquet file with text and label "
    "columns, or data.source=folder data.path=DIR for one subfolder of .txt files per label"
)


def read_table(path: Path, cfg: ClassifyData, labeler: Labeler, name: str | None = None,
               label_columns: Sequence[str] = LABEL_COLUMNS) -> Corpus:
    """A local table file as one training set (val and test are carved from it)."""
    table = tables.read_file(path)
    texts, labels = _columns(table, cfg, label_columns)
    return _corpus(name or f"{path.name}", texts, labels, labeler, table.where)


def load_hub(cfg: ClassifyData, labeler: Labeler, alternatives: str = LOCAL_ALTERNATIVES,
             label_columns: Sequence[str] = LABEL_COLUMNS) -> Corpus:
    """``data.hub_name``'s train split, and its test split unless ``hub_test_split`` is empty."""
    name = cfg.hub_name
    train = _columns(tables.load_hub(name, cfg.hub_config, cfg.hub_train_split, alternatives), cfg, label_columns)
    if not cfg.hub_test_split:
        return _corpus(name, *train, labeler, f"the dataset '{name}' split '{cfg.hub_train_split}'")
    test = _columns(tables.load_hub(name, cfg.hub_config, cfg.hub_test_split, alternatives), cfg, label_columns)
    where = f"the dataset '{name}' splits '{cfg.hub_train_split}' and '{cfg.hub_test_split}'"
    both = _corpus(name, train[0] + test[0], train[1] + test[1], labeler, where)
    n_train = len(train[0]) - sum(1 for t in train[0] if not (isinstance(t, str) and clean_text(t)))
    both.test = both.train.subset(list(range(n_train, len(both.train))))
    both.train = both.train.subset(list(range(n_train)))
    return both


# ---------------------------------------------------------------------------
# Columns and labels
# ---------------------------------------------------------------------------


def _columns(table: Table, cfg: ClassifyData, label_columns: Sequence[str]) -> tuple[list[Any], list[Any]]:
    text = table.pick(cfg.text_column, TEXT_COLUMNS, "text", "data.text_column")
    label = table.pick(cfg.label_column, label_columns, "label", "data.label_column")
    return table.column(text), _label_values(table, label)


def _label_values(table: Table, column: str) -> list[Any]:
    """The label column; a ``ClassLabel`` column's integers as their names (-1, "no label", refused)."""
    values = table.column(column)
    names = table.class_names(column)
    if not names:
        return values
    if any(v == -1 for v in values):
        raise SeqtkError(
            f"{table.where} marks texts as unlabelled (label -1 in its ClassLabel column '{column}'), so it cannot be "
            "trained or scored on",
            fix='set data.hub_test_split = "" to carve the test split from the labelled train split instead',
        )
    return [names[v] if isinstance(v, int) and 0 <= v < len(names) else v for v in values]


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
    notes = [f"dropped {len(empty)} empty {noun} of {where} ({row_list(empty)})"] if empty else []
    return Corpus(name, LabeledTexts(kept_texts, indices), label_names=names, notes=notes)
