"""Labelled texts as every classification source returns them, and the helpers the readers share.

A :class:`Corpus` holds the texts with integer labels that index its
``label_names``; for a multi-label corpus each label is a tuple of such
indices. Readers clean each text (:func:`clean_text`), drop empty ones and
say what they dropped in ``notes``, which are printed with the split table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from seqtk.errors import SeqtkError

Label = Union[int, tuple[int, ...]]  # one class, or a multi-label text's classes (sorted)
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


@dataclass
class LabeledTexts:
    """Parallel lists: ``labels[i]`` is the label of ``texts[i]``."""

    texts: list[str] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: list[int]) -> LabeledTexts:
        return LabeledTexts([self.texts[i] for i in indices], [self.labels[i] for i in indices])


@dataclass
class Corpus:
    """What a source gave: training texts, its own test set if it has one, and the label names."""

    name: str
    train: LabeledTexts
    test: LabeledTexts | None = None
    label_names: tuple[str, ...] = ()
    multi_label: bool = False
    notes: list[str] = field(default_factory=list)  # e.g. what was dropped, shown with the split table


def clean_text(text: str) -> str:
    """Strip, and turn HTML line breaks (IMDB's ``<br />``) into spaces.

    >>> clean_text("  Great.<br /><br />Go see it ")
    'Great.  Go see it'
    """
    return _BR.sub(" ", text).strip()


def index_labels(values: Sequence[Any], multi_label: bool, separator: str, where: str) -> tuple[list[Label], tuple[str, ...]]:
    """Label values (any strings, numbers, or lists for multi-label) as indices into sorted names.

    >>> index_labels(["sport", "tech", "sport"], False, "", "the data")
    ([0, 1, 0], ('sport', 'tech'))
    >>> index_labels([["a", "b"], "b|c"], True, "|", "the data")
    ([(0, 1), (1, 2)], ('a', 'b', 'c'))
    """
    names_of = [_label_set(v, multi_label, separator) for v in values]
    if not multi_label:
        for row, (value, labels) in enumerate(zip(values, names_of), start=1):
            if len(labels) != 1:
                raise SeqtkError(
                    f"row {row} of {where} has {len(labels)} labels ({value!r}), but data.multi_label is false",
                    fix="set data.multi_label = true for texts with several labels, or give each row one label",
                )
    names = tuple(sorted({n for labels in names_of for n in labels}))
    if not names:
        raise SeqtkError(f"no row of {where} has a label", fix="check data.label_column and data.label_separator")
    position = {name: i for i, name in enumerate(names)}
    if multi_label:
        return [tuple(sorted(position[n] for n in labels)) for labels in names_of], names
    return [position[labels[0]] for labels in names_of], names


def _label_set(value: Any, multi_label: bool, separator: str) -> list[str]:
    if isinstance(value, (list, tuple)):
        parts = [label_name(v) for v in value]
    elif multi_label and separator and isinstance(value, str):
        parts = [p.strip() for p in value.split(separator)]
    else:
        parts = [label_name(value)]
    return [p for p in parts if p] if multi_label else parts


def label_name(value: Any) -> str:
    """A label value as its name: integral floats lose their ``.0`` (pandas reads 1 as 1.0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
