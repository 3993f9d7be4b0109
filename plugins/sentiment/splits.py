"""Deterministic, stratified train/val/test splits, and a fingerprint to recognise them.

Each class's indices are shuffled with a generator seeded by ``data.split_seed``
and cut by the fractions, so every split has the corpus's class balance and
the same seed gives the same split on every machine. A source with its own
test set (aclImdb, the hub's IMDB) keeps it; val is then carved from train.

The fingerprint (SHA-256 over the val and test texts and labels) goes into
checkpoints, so ``seqtk eval`` can tell when the data it rebuilt the split
from is not the data the model was trained on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from seqtk.errors import SeqtkError
from seqtk_plugins.sentiment.data import Corpus, LabeledTexts

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

SPLITS = ("train", "val", "test")


@dataclass
class Splits:
    """The three splits, and how they were made."""

    train: LabeledTexts
    val: LabeledTexts
    test: LabeledTexts
    seed: int
    own_test: bool  # the test split is the source's own

    def __getitem__(self, name: str) -> LabeledTexts:
        return getattr(self, name)

    def fingerprint(self) -> str:
        """SHA-256 (hex, first 16 digits) over the held-out texts and labels."""
        digest = hashlib.sha256()
        for name in ("val", "test"):
            part = self[name]
            digest.update(f"{name}:{len(part)}\n".encode())
            for text, label in zip(part.texts, part.labels):
                digest.update(f"{label}\t{text}\n".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:16]

    def record(self) -> dict[str, object]:
        """What a checkpoint keeps about the split (plain data)."""
        return {"seed": self.seed, "sizes": {n: len(self[n]) for n in SPLITS}, "fingerprint": self.fingerprint()}


def stratified_indices(labels: list[int], fractions: dict[str, float], seed: int) -> dict[str, list[int]]:
    """Indices of each held-out split and of ``"train"`` (the rest), each sorted.

    Every class gives ``round(n_class * fraction)`` of its examples to each
    held-out split, at least one when it has three or more.

    >>> parts = stratified_indices([0] * 10 + [1] * 10, {"val": 0.2, "test": 0.2}, seed=0)
    >>> [len(parts[k]) for k in ("train", "val", "test")]
    [12, 4, 4]
    >>> sum(1 for i in parts["val"] if i >= 10)  # two of each class
    2
    """
    generator = torch.Generator().manual_seed(seed)
    parts: dict[str, list[int]] = {name: [] for name in fractions} | {"train": []}
    for cls in sorted(set(labels)):
        members = [i for i, y in enumerate(labels) if y == cls]
        order = [members[j] for j in torch.randperm(len(members), generator=generator).tolist()]
        for name, fraction in fractions.items():
            take = round(len(members) * fraction)
            if fraction > 0 and take == 0 and len(members) >= 3:
                take = 1
            parts[name].extend(order[:take])
            order = order[take:]
        parts["train"].extend(order)
    return {name: sorted(idx) for name, idx in parts.items()}


def make_splits(corpus: Corpus, val_fraction: float, test_fraction: float, seed: int) -> Splits:
    """Cut ``corpus`` into train/val/test (keeping its own test set if it has one)."""
    fractions = {"val": val_fraction} if corpus.test is not None else {"test": test_fraction, "val": val_fraction}
    parts = stratified_indices(corpus.train.labels, fractions, seed)
    test = corpus.test if corpus.test is not None else corpus.train.subset(parts["test"])
    splits = Splits(
        train=corpus.train.subset(parts["train"]), val=corpus.train.subset(parts["val"]), test=test,
        seed=seed, own_test=corpus.test is not None,
    )
    _check(splits, corpus, val_fraction, test_fraction)
    return splits


def _check(splits: Splits, corpus: Corpus, val_fraction: float, test_fraction: float) -> None:
    total = len(corpus.train)
    for name, fraction in (("train", None), ("val", val_fraction), ("test", test_fraction)):
        if len(splits[name]):
            continue
        key = "data.test_fraction" if name == "test" else "data.val_fraction"
        fix = "use more data" if fraction is None else f"use more data or a larger {key} (now {fraction})"
        raise SeqtkError(f"the {name} split of {corpus.name} is empty ({total} labelled texts in all)", fix=fix)
    if len(set(splits.train.labels)) < 2:
        only = corpus.label_names[splits.train.labels[0]]
        raise SeqtkError(
            f"every training text of {corpus.name} is labelled {only}, so there is nothing to learn",
            fix="use data with both positive and negative texts",
        )


def describe(splits: Splits, corpus: Corpus, console: Console) -> None:
    """Print texts and class balance per split."""
    from rich.table import Table

    neg, pos = corpus.label_names
    table = Table(title=f"sentiment data: {corpus.name}", title_justify="left")
    for col in ("split", "texts", pos, neg, "mean words"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for name in SPLITS:
        part = splits[name]
        n, p = len(part), sum(part.labels)
        words = sum(len(t.split()) for t in part.texts) / max(n, 1)
        source = " (the source's own)" if name == "test" and splits.own_test else ""
        table.add_row(name + source, f"{n:,}", f"{p:,}", f"{n - p:,}", f"{words:.1f}")
    console.print(table)
    for note in corpus.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(f"split: stratified, data.split_seed = {splits.seed}, fingerprint {splits.fingerprint()}", highlight=False, soft_wrap=True)
