"""Source strings with every acceptable target, as every seq2seq source returns them.

An :class:`Example` is one source and all its acceptable targets: a CMUdict
word with each of its pronunciations, or a file's rows that share a source.
Splits keep an example whole, so no word's variants straddle train and test;
the metrics score a hypothesis against the closest of its targets.

>>> group_pairs([("read", "R IY1 D"), ("lead", "L IY1 D"), ("read", "R EH1 D"), ("read", "R IY1 D")])
[Example(source='read', targets=('R IY1 D', 'R EH1 D')), Example(source='lead', targets=('L IY1 D',))]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Example:
    """One source string and its acceptable targets (at least one, first-seen order, no repeats)."""

    source: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class PairSource:
    """What a source gave: its examples, its own fixed test set if it has one, and what reading changed.

    ``notes`` say what was dropped or merged (printed with the split table).
    A changed copy comes from :func:`dataclasses.replace`.
    """

    name: str
    train: list[Example]
    test: list[Example] | None = None
    notes: list[str] = field(default_factory=list)


def group_pairs(pairs: Iterable[tuple[str, str]]) -> list[Example]:
    """Pairs with the same source as one :class:`Example`, sources in first-seen order, exact duplicate
    targets dropped (see the module's example)."""
    grouped: dict[str, dict[str, None]] = {}
    for source, target in pairs:
        grouped.setdefault(source, {})[target] = None  # a dict keeps insertion order: an ordered set
    return [Example(source, tuple(targets)) for source, targets in grouped.items()]


def count_pairs(examples: Iterable[Example]) -> int:
    """The (source, target) pairs the examples hold.

    >>> count_pairs([Example("a", ("x", "y")), Example("b", ("z",))])
    3
    """
    return sum(len(e.targets) for e in examples)
