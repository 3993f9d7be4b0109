"""Addition as strings: Keras' classic toy for encoder-decoder models ("535+61" -> "596").

As in Keras' ``addition_rnn`` example, each operand has 1 to ``digits``
digits, every digit count equally likely (so "7+12" is as common as
"535+612", though far fewer such questions exist), and no padding is added
(the batching pads). Unlike it, ``a+b`` and ``b+a`` are different questions
(the model must learn that addition commutes), and the draw is exact rather
than by rejection: the ``digits**2`` kinds of question (1-digit plus
2-digit, ...) share ``count`` equally (:func:`share_out`; a kind with fewer
questions than its share gives all of them, the rest go to the others, and
a remainder goes to kinds drawn with the seed), and each kind's
questions are sampled without replacement. So no question repeats, every
count up to the number of distinct questions (``(10**digits)**2``) works,
and nothing else is refused.

The draw uses :class:`random.Random` seeded with ``seed``, which gives the
same examples on every machine and process.

>>> addition_examples(3, digits=3, seed=0)
[Example(source='62+230', targets=('292',)), Example(source='6+67', targets=('73',)), Example(source='794+18', targets=('812',))]
"""

from __future__ import annotations

import random

from seqtk.errors import SeqtkError
from seqtk_plugins.seq2seq.pairs import Example


def addition_examples(count: int, digits: int, seed: int) -> list[Example]:
    """``count`` distinct questions "a+b" with operands of 1 to ``digits`` digits, answered, in a seeded order."""
    _check(count, digits)
    rng = random.Random(seed)
    kinds = [(da, db) for da in range(1, digits + 1) for db in range(1, digits + 1)]
    rng.shuffle(kinds)  # which kinds get one more question, when count does not divide evenly
    quotas = share_out(count, [_numbers(da) * _numbers(db) for da, db in kinds])
    examples = []
    for (da, db), quota in zip(kinds, quotas):
        width = _numbers(db)
        for index in rng.sample(range(_numbers(da) * width), quota):
            a, b = _first(da) + index // width, _first(db) + index % width
            examples.append(Example(f"{a}+{b}", (str(a + b),)))
    rng.shuffle(examples)
    return examples


def distinct_questions(digits: int) -> int:
    """How many different questions there are: any two operands below ``10**digits``.

    >>> distinct_questions(1), distinct_questions(3)
    (100, 1000000)
    """
    return (10**digits) ** 2


def share_out(count: int, sizes: list[int]) -> list[int]:
    """``count`` split as equally as possible among groups of the given ``sizes``, none above its size;
    a remainder goes to the earliest groups with room.

    >>> share_out(10, [100, 100, 100])
    [4, 3, 3]
    >>> share_out(10, [2, 100, 100])  # the small group gives all it has
    [2, 4, 4]
    """
    low, high = 0, max(sizes, default=0)  # the largest level with sum(min(size, level)) <= count
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if sum(min(size, mid) for size in sizes) <= count else (low, mid - 1)
    return _top_up([min(size, low) for size in sizes], sizes, count)


def _top_up(quotas: list[int], sizes: list[int], count: int) -> list[int]:
    """Hand what integer division left over, one each, to the earliest groups with room."""
    left = count - sum(quotas)
    while left:
        for i in range(len(sizes)):
            if left and quotas[i] < sizes[i]:
                quotas[i] += 1
                left -= 1
    return quotas


def _numbers(width: int) -> int:
    """How many numbers have exactly ``width`` digits (0 counts as one digit)."""
    return 10 if width == 1 else 9 * 10 ** (width - 1)


def _first(width: int) -> int:
    return 0 if width == 1 else 10 ** (width - 1)


def _check(count: int, digits: int) -> None:
    if digits < 1:
        raise SeqtkError(f"addition questions need operands of at least 1 digit, not {digits}", fix="set digits to 1 or more")
    if count < 1:
        raise SeqtkError(f"cannot make {count} addition questions", fix="ask for at least one example")
    if count > distinct_questions(digits):
        raise SeqtkError(
            f"there are only {distinct_questions(digits):,} distinct addition questions with operands of up to "
            f"{digits} digit{'s' * (digits != 1)}, fewer than the {count:,} asked for",
            fix="ask for fewer examples, or allow more digits",
        )
