"""Train/val/test splits of seq2seq examples, a test set that no seed moves, and their fingerprint.

Splits are by :class:`~seqtk_plugins.seq2seq.pairs.Example`, so all the
targets of one source (every pronunciation of a word) land in one split.
:func:`make_splits` shuffles with a ``torch.Generator`` seeded by
``data.split_seed`` (the same on every machine and process) and cuts by the
fractions; a source with its own test set keeps it, and only val is carved
from train.

:func:`hashed_test` gives a source a test set of its own that depends on
nothing but each source string: an example is held out when the BLAKE2b
hash of ``salt + "\\0" + source``, read as a number in [0, 1), is below the
fraction. A user who changes ``split_seed`` then reshuffles train and val
only; no word moves between test and train, so test scores of different
runs stay comparable. A larger fraction keeps every test word of a smaller
one. (Python's ``hash()`` differs between processes and is not used.)

The fingerprint (SHA-256 over the val and test sources and targets) goes
into checkpoints, so ``seqtk eval`` can tell when the data it rebuilt the
split from is not the data the model was trained on
(:func:`seqtk.data.split_record.check_same_split`).

>>> from seqtk_plugins.seq2seq.pairs import Example, PairSource
>>> words = PairSource("demo", [Example(f"w{i}", (f"P{i}",)) for i in range(100)])
>>> fixed = hashed_test(words, 0.1)
>>> len(fixed.test), [e.source for e in fixed.test][:4]
(10, ['w10', 'w14', 'w18', 'w19'])
>>> splits = make_splits(fixed, val_fraction=0.1, test_fraction=0.1, seed=0)
>>> [len(splits[n]) for n in SPLITS], splits.test == fixed.test
([81, 9, 10], True)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import torch

from seqtk.errors import SeqtkError
from seqtk_plugins.seq2seq.pairs import Example, PairSource, count_pairs

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

SPLITS = ("train", "val", "test")
TEST_SALT = "seqtk-seq2seq-test"


@dataclass(frozen=True)
class Splits:
    """The three splits, and how they were made."""

    train: list[Example]
    val: list[Example]
    test: list[Example]
    seed: int
    how: str  # for the report: "shuffled with data.split_seed", "test: the source's own", ...

    def __getitem__(self, name: str) -> list[Example]:
        return getattr(self, name)

    def fingerprint(self) -> str:
        """SHA-256 (hex, first 16 digits) over the held-out sources and their targets."""
        digest = hashlib.sha256()
        for name in ("val", "test"):
            digest.update(f"{name}:{len(self[name])}\n".encode())
            for example in self[name]:
                line = "\t".join((example.source, *example.targets))
                digest.update(line.encode("utf-8", "surrogatepass") + b"\n")
        return digest.hexdigest()[:16]

    def record(self) -> dict[str, Any]:
        """What a checkpoint keeps about the split (plain data) for :func:`seqtk.data.split_record.check_same_split`."""
        return {"seed": self.seed, "how": self.how, "sizes": {n: len(self[n]) for n in SPLITS},
                "fingerprint": self.fingerprint()}  # fmt: skip


def held_out_count(n: int, fraction: float) -> int:
    """``round(n * fraction)``, but at least one when the fraction is positive.

    >>> held_out_count(1000, 0.05), held_out_count(10, 0.01), held_out_count(10, 0.0)
    (50, 1, 0)
    """
    return max(1, round(n * fraction)) if fraction > 0 else 0


def make_splits(source: PairSource, val_fraction: float, test_fraction: float, seed: int) -> Splits:
    """Cut ``source.train`` into train/val/test by example (keeping ``source.test`` if it has one).

    Each held-out split is ``fraction`` of the examples (at least one), in the
    source's order; the rest stays in train, in the source's order too.
    """
    own_test = source.test is not None
    fractions = {"val": val_fraction} if own_test else {"test": test_fraction, "val": val_fraction}
    order = torch.randperm(len(source.train), generator=torch.Generator().manual_seed(seed)).tolist()
    parts: dict[str, list[int]] = {}
    for name, fraction in fractions.items():
        take = held_out_count(len(source.train), fraction)
        parts[name], order = sorted(order[:take]), order[take:]
    parts["train"] = sorted(order)
    picked = {name: [source.train[i] for i in idx] for name, idx in parts.items()}
    how = "val from train with data.split_seed, test: the source's own" if own_test else "shuffled with data.split_seed"
    splits = Splits(picked["train"], picked["val"], source.test if own_test else picked["test"], seed, how)  # type: ignore[arg-type]
    _check_nonempty(splits, source)
    return splits


def hashed_test(source: PairSource, fraction: float, salt: str = TEST_SALT) -> PairSource:
    """``source`` with a fixed test set: the examples whose source string hashes below ``fraction``.

    The choice depends only on each source string, ``fraction`` and ``salt``
    (never on a seed), so the same words are held out in every run.
    """
    if source.test is not None:
        raise SeqtkError(f"{source.name} already has a test set of its own", fix="keep it, or drop it before hashing another")
    if not 0 < fraction < 1:
        raise SeqtkError(f"the test fraction must be between 0 and 1, not {fraction}", fix="set data.test_fraction to e.g. 0.05")
    test = [e for e in source.train if hash_unit(e.source, salt) < fraction]
    train = [e for e in source.train if hash_unit(e.source, salt) >= fraction]
    note = f"test: the {len(test):,} sources whose hash falls below {fraction} (the same for every data.split_seed)"
    return replace(source, train=train, test=test, notes=[*source.notes, note])


def hash_unit(text: str, salt: str = TEST_SALT) -> float:
    """A number in [0, 1) from ``text``: the same in every process and on every machine.

    >>> hash_unit("cat"), hash_unit("cat") == hash_unit("cat", salt="other")
    (0.6068173048206151, False)
    """
    digest = hashlib.blake2b(f"{salt}\0{text}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _check_nonempty(splits: Splits, source: PairSource) -> None:
    for name in SPLITS:
        if splits[name]:
            continue
        key = "data.val_fraction and data.test_fraction" if name == "train" else f"data.{name}_fraction"
        raise SeqtkError(
            f"the {name} split of {source.name} is empty ({len(source.train):,} examples to split)",
            fix=f"use more data, or change {key}",
        )
