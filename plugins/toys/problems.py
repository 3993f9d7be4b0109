"""The lectures' worked examples, generated exactly as they describe them.

Regression (``LSTM(50, relu)`` + ``Dense``, Adam, MSE in the lectures):

==============  ===================================  ==========================
problem         examples                             lectures' test input
==============  ===================================  ==========================
one_to_many     1, 4, 7, ..., 43 -> [x+1, x+2]       10 -> [11, 12]
many_to_one     [1,2,3], [4,5,6], ... -> their sum    [50, 51, 52] -> 153
many_to_many    [5,10,15] -> [20,25,30], ..., to 315  [300, 305, 310] -> [315, 320, 325]
==============  ===================================  ==========================

Two of the test inputs lie beyond the training range (the last training sum
is 43+44+45 = 132; the last many_to_many input ends at 300), so the model
extrapolates, which is why the lectures' predictions are off by a little.

Classification: ``binary_addition`` feeds the two numbers' columns right to
left, two bits per step, and asks at each step for the sum bit of the column
given ``delay`` steps earlier; ``first_bit`` asks at the end of a long random
bit string for its first bit (nothing else carries information), the plainest
test of how far back gradients reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seqtk.errors import SeqtkError

REGRESSION = ("one_to_many", "many_to_one", "many_to_many")


@dataclass(frozen=True)
class Probe:
    """The lectures' test input, the true answer, what the lectures' model predicted, our tolerance."""

    inputs: tuple[float, ...]
    expected: tuple[float, ...]
    lectures: tuple[float, ...]
    tolerance: float  # on every output: a few times the lectures' own largest error (see docs/cells.md)


PROBES = {
    "one_to_many": Probe((10,), (11, 12), (11.01, 12.14), 0.5),  # lectures' error 0.14
    "many_to_one": Probe((50, 51, 52), (153,), (152.93,), 1.5),  # lectures' error 0.07; ours over seeds 0-3 up to 0.9
    "many_to_many": Probe((300, 305, 310), (315, 320, 325), (315.30, 321.04, 327.00), 3.0),  # lectures' error 2.0
}


@dataclass
class Examples:
    """Inputs ``x`` (N, T, F), targets ``y`` (N, K), weights ``w`` (N, K): 0 where a target does not count."""

    x: Tensor
    y: Tensor
    w: Tensor

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: list[int] | slice) -> Examples:
        return Examples(self.x[idx], self.y[idx], self.w[idx])


def lecture_examples(problem: str) -> Examples:
    """All of the lectures' examples for a regression problem, in their order.

    >>> ex = lecture_examples("many_to_one")
    >>> ex.x[1, :, 0].tolist(), ex.y[1].tolist()
    ([4.0, 5.0, 6.0], [15.0])
    """
    if problem == "one_to_many":
        x = torch.arange(1.0, 44.0, 3.0).view(15, 1, 1)  # 1, 4, ..., 43: one step each
        y = torch.cat([x[:, 0] + 1, x[:, 0] + 2], dim=1)
    elif problem == "many_to_one":
        x = torch.arange(1.0, 46.0).view(15, 3, 1)  # [1,2,3], [4,5,6], ..., [43,44,45]
        y = x.sum(dim=1)
    elif problem == "many_to_many":
        x = torch.arange(5.0, 301.0, 5.0).view(20, 3, 1)  # [5,10,15], ..., [290,295,300]
        y = x[:, :, 0] + 15  # the next three multiples of 5
    else:
        raise ValueError(f"{problem} is not one of the lectures' regression problems")
    return Examples(x, y, torch.ones_like(y))


def probe_examples(problem: str) -> Examples:
    """The lectures' test input as a one-example split (what ``seqtk eval --split test`` scores)."""
    probe = PROBES[problem]
    y = torch.tensor([probe.expected])
    return Examples(as_input(problem, list(probe.inputs)), y, torch.ones_like(y))


def as_input(problem: str, values: list[float]) -> Tensor:
    """Numbers -> (1, T, 1): one step per number (one_to_many has a single step)."""
    return torch.tensor(values, dtype=torch.float32).view(1, len(values), 1)


def input_steps(problem: str) -> int:
    return 1 if problem == "one_to_many" else 3


def binary_addition(n: int, bits: int, delay: int, generator: torch.Generator) -> Examples:
    """``n`` random additions of ``bits``-bit numbers, one column per step, right to left.

    The sequence has ``bits + 1 + delay`` steps (zero columns after the numbers,
    so that every sum bit, the final carry included, comes out). The first
    ``delay`` steps have no target (weight 0).
    """
    a = torch.randint(0, 2**bits, (n,), generator=generator)
    b = torch.randint(0, 2**bits, (n,), generator=generator)
    return addition_examples(a, b, bits, delay)


def addition_splits(sizes: dict[str, int], bits: int, delay: int, generator: torch.Generator) -> dict[str, Examples]:
    """Random additions for each split of ``sizes`` ("train" and held-out ones), as :func:`binary_addition`.

    The held-out splits get distinct (a, b) pairs that training never sees;
    training draws, with repetition, from the other pairs.

    >>> splits = addition_splits({"train": 200, "val": 50, "test": 50}, 4, 1, torch.Generator().manual_seed(0))
    >>> pairs = {k: {tuple(map(int, col)) for col in ex.x[:, :4].flatten(1).tolist()} for k, ex in splits.items()}
    >>> pairs["train"] & pairs["val"], pairs["train"] & pairs["test"], pairs["val"] & pairs["test"]
    (set(), set(), set())
    """
    space, held = 4**bits, {k: n for k, n in sizes.items() if k != "train"}
    check_addition_room(bits, sum(held.values()))
    codes = _distinct_codes(sum(held.values()), space, generator)
    chosen, taken, start = {}, set(codes), 0
    for split, n in held.items():
        chosen[split], start = codes[start : start + n], start + n
    train: list[int] = []
    while len(train) < sizes["train"]:
        draw = torch.randint(0, space, (sizes["train"] - len(train),), generator=generator).tolist()
        train += [code for code in draw if code not in taken]
    chosen["train"] = train
    mask = (1 << bits) - 1
    return {split: addition_examples(torch.tensor([c >> bits for c in chosen[split]]),
                                     torch.tensor([c & mask for c in chosen[split]]), bits, delay) for split in sizes}


def check_addition_room(bits: int, held_out: int) -> None:
    """Refuse to hold out more than half of the (a, b) pairs that ``bits``-bit numbers allow."""
    if held_out > 4**bits // 2:
        raise SeqtkError(
            f"{bits}-bit additions have only {4**bits} (a, b) pairs, too few to hold out {held_out} for val and "
            "test (a quarter of data.examples each) and still train on others",
            fix="raise data.bits or lower data.examples",
        )


def _distinct_codes(n: int, space: int, generator: torch.Generator) -> list[int]:
    # n distinct integers in [0, space), in the order drawn
    seen: dict[int, None] = {}
    while len(seen) < n:
        for code in torch.randint(0, space, (2 * (n - len(seen)) + 8,), generator=generator).tolist():
            seen.setdefault(code)
    return list(seen)[:n]


def addition_examples(a: Tensor, b: Tensor, bits: int, delay: int) -> Examples:
    # (N,), (N,) -> x (N, T, 2), y and w (N, T)
    steps = torch.arange(bits + 1 + delay)
    x = torch.stack([column_bits(a, steps), column_bits(b, steps)], dim=-1).float()
    x[:, bits:] = 0  # the numbers have `bits` columns; the rest is zero padding
    y = column_bits(a + b, (steps - delay).clamp(min=0)).float()
    w = (steps >= delay).float().expand_as(y).clone()
    return Examples(x, y, w)


def column_bits(values: Tensor, columns: Tensor) -> Tensor:
    # (N,), (T,) -> (N, T): bit `columns[t]` of each value (column 0 is the rightmost)
    return (values.unsqueeze(1) >> columns.clamp(max=62)) & 1


def decode_bits(bits: Tensor) -> int:
    """Bits, least significant first -> the integer."""
    return int(sum(int(b) << i for i, b in enumerate(bits.tolist())))


def first_bit(n: int, length: int, generator: torch.Generator) -> Examples:
    """``n`` random strings of ``length`` bits (as ±1) -> the first bit (1 or 0)."""
    bits = torch.randint(0, 2, (n, length), generator=generator)
    return Examples((2.0 * bits - 1.0).unsqueeze(-1), bits[:, :1].float(), torch.ones(n, 1))
