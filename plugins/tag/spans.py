"""Chunk schemes (BIO, BIOES, IOB1) and span precision, recall and F1 exactly as conlleval counts them.

A tag such as ``B-PER`` is a prefix (``B``) and a type (``PER``), split at the
first hyphen; ``O`` is outside every chunk. conlleval (CoNLL-2000, version
2004-01-26) decides between each pair of neighbouring tags whether a chunk
ends and whether one starts; :func:`chunk_ends` and :func:`chunk_starts` are
its rules, with the IOBES extension of the widely used extended conlleval
(``S`` chunks, and ``E`` then ``B``), which changes nothing for BIO and IOB1
tags. In particular ``I-`` after ``O`` (or after a chunk of another type)
*starts* a chunk, as in IOB1, so IOB1 and BIO files are read alike. A
sentence's edges count as ``O``. A predicted chunk is correct when a gold
chunk has the same first token, last token and type.

>>> chunks(["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC"])
[(0, 1, 'PER'), (3, 4, 'LOC'), (5, 5, 'LOC')]
>>> detect_scheme(["O", "B-PER", "I-PER"]), detect_scheme(["O", "S-PER"]), detect_scheme(["NN", "VB"])
('bio', 'bioes', 'none')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from seqtk.errors import SeqtkError

CHUNK_TAG = re.compile(r"^[BIES]-.+$")
Chunk = tuple[int, int, str]  # first token, last token (inclusive), type

_ENDS = {("B", "B"), ("B", "O"), ("B", "S"), ("I", "B"), ("I", "S"), ("I", "O"), ("E", "E"), ("E", "I"), ("E", "O"),
         ("E", "S"), ("E", "B"), ("S", "E"), ("S", "I"), ("S", "O"), ("S", "S"), ("S", "B")}  # fmt: skip
_STARTS = {("B", "B"), ("I", "B"), ("O", "B"), ("S", "B"), ("E", "B"), ("B", "S"), ("I", "S"), ("O", "S"), ("S", "S"),
           ("E", "S"), ("O", "I"), ("S", "I"), ("E", "I"), ("S", "E"), ("E", "E"), ("O", "E")}  # fmt: skip


def split_tag(tag: str) -> tuple[str, str]:
    """(prefix, type) at the first hyphen; a tag without one has the type ``""``.

    >>> split_tag("B-NP"), split_tag("I-ORG-X"), split_tag("O")
    (('B', 'NP'), ('I', 'ORG-X'), ('O', ''))
    """
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def chunk_ends(prev: str, prev_type: str, tag: str, kind: str) -> bool:
    """Did a chunk end between the previous token and this one? (conlleval's ``endOfChunk``)"""
    return (prev, tag) in _ENDS or (prev not in ("O", ".") and prev_type != kind)


def chunk_starts(prev: str, prev_type: str, tag: str, kind: str) -> bool:
    """Did a chunk start at this token? (conlleval's ``startOfChunk``)"""
    return (prev, tag) in _STARTS or (tag not in ("O", ".") and prev_type != kind)


def chunks(tags: Sequence[str]) -> list[Chunk]:
    """The chunks of one sentence's tags, in order."""
    out: list[Chunk] = []
    prev, prev_type, start = "O", "", None
    for i, tag in enumerate([*tags, "O"]):  # the sentence's end is an O
        prefix, kind = split_tag(tag)
        if start is not None and chunk_ends(prev, prev_type, prefix, kind):
            out.append((start, i - 1, prev_type))
            start = None
        if chunk_starts(prev, prev_type, prefix, kind):
            start = i
        prev, prev_type = prefix, kind
    return out


@dataclass
class SpanCounts:
    """conlleval's three counts, summed over sentences."""

    correct: int = 0  # predicted chunks that match a gold chunk
    predicted: int = 0
    gold: int = 0

    def add(self, gold: Sequence[str], predicted: Sequence[str]) -> None:
        gold_chunks, predicted_chunks = chunks(gold), chunks(predicted)
        self.correct += len(set(gold_chunks) & set(predicted_chunks))
        self.predicted += len(predicted_chunks)
        self.gold += len(gold_chunks)

    def metrics(self) -> dict[str, float]:
        """span_precision, span_recall and span_f1 as fractions; 0 where conlleval prints 0."""
        precision = self.correct / self.predicted if self.predicted else 0.0
        recall = self.correct / self.gold if self.gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"span_precision": precision, "span_recall": recall, "span_f1": f1}


def detect_scheme(tags: Sequence[str]) -> str:
    """bioes, bio or iob1 when every tag is ``O`` or a chunk tag (``B-X``, ...); none otherwise."""
    chunky = [t for t in tags if t != "O"]
    if not chunky or not all(CHUNK_TAG.match(t) for t in chunky):
        return "none"
    prefixes = {t[0] for t in chunky}
    if prefixes & {"E", "S"}:
        return "bioes"
    return "bio" if "B" in prefixes else "iob1"


def resolve_scheme(setting: str, tags: Sequence[str]) -> str:
    """``data.scheme`` for these training tags: auto detects; an explicit scheme must fit the tags."""
    if setting == "auto":
        return detect_scheme(tags)
    if setting != "none":
        odd = next((t for t in tags if t != "O" and not CHUNK_TAG.match(t)), None)
        if odd is not None:
            raise SeqtkError(
                f'data.scheme = "{setting}" needs chunk tags (O, B-X, I-X, E-X, S-X), but the training data has '
                f"the tag '{odd}'",
                fix='set data.scheme = "auto" (or "none" for POS tags)',
            )
    return setting
