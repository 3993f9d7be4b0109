"""Deterministic, stratified train/val/test splits, and a fingerprint to recognise them.

Each class's indices are shuffled with a generator seeded by ``data.split_seed``
and cut by the fractions, so every split has the corpus's class balance and
the same seed gives the same split on every machine. A source with its own
test set (aclImdb, a hub dataset's test split) keeps it; val is then carved
from train. A multi-label text is stratified by its first label. Before
splitting, exact duplicate texts can be dropped (:func:`drop_duplicates`), or
copies of one article would land in train and test alike.

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
from seqtk_plugins.classify.corpus import Corpus, Label, LabeledTexts

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
                digest.update(f"{label_key(label)}\t{text}\n".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()[:16]

    def record(self) -> dict[str, object]:
        """What a checkpoint keeps about the split (plain data)."""
        return {"seed": self.seed, "sizes": {n: len(self[n]) for n in SPLITS}, "fingerprint": self.fingerprint()}


def label_key(label: Label) -> str:
    """A label as the fingerprint writes it: ``1``, or ``0,2`` for a multi-label text."""
    return ",".join(map(str, label)) if isinstance(label, tuple) else str(label)


def stratum(label: Label) -> int:
    """The class a text is stratified by: its label, or a multi-label text's first (-1: none)."""
    if isinstance(label, tuple):
        return label[0] if label else -1
    return label


def drop_duplicates(corpus: Corpus) -> int:
    """Keep the first of each group of equal texts in ``corpus.train``, from which val and test are cut.

    A source's own test set is left as published. Returns how many were dropped;
    copies that carried another label are counted in the note too.

    >>> from seqtk_plugins.classify.corpus import Corpus, LabeledTexts
    >>> corpus = Corpus("demo", LabeledTexts(["a", "b", "a", "a"], [0, 1, 0, 1]), label_names=("x", "y"))
    >>> drop_duplicates(corpus), corpus.train.texts, corpus.notes
    (2, ['a', 'b'], ['dropped 2 exact duplicate texts (data.drop_duplicates); 1 of them carried another label than the copy kept'])
    """
    seen: dict[str, Label] = {}
    keep, conflicts = [], 0
    for i, (text, label) in enumerate(zip(corpus.train.texts, corpus.train.labels)):
        if text in seen:
            conflicts += seen[text] != label
            continue
        seen[text] = label
        keep.append(i)
    dropped = len(corpus.train) - len(keep)
    corpus.train = corpus.train.subset(keep)
    if dropped:
        corpus.notes.append(
            f"dropped {dropped:,} exact duplicate texts (data.drop_duplicates)"
            + (f"; {conflicts} of them carried another label than the copy kept" if conflicts else "")
        )
    return dropped


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
        members = [i for i, y in enumerate(labels) if y == cls]  # labels: stratum() of each text
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
    parts = stratified_indices([stratum(y) for y in corpus.train.labels], fractions, seed)
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
    classes = {stratum(y) for y in splits.train.labels}
    if len(classes) < 2 and not corpus.multi_label:
        only = corpus.label_names[next(iter(classes))]
        raise SeqtkError(
            f"every training text of {corpus.name} is labelled '{only}', so there is nothing to learn "
            f"(a classifier needs at least two classes)",
            fix="check data.label_column (it should name the column of labels), or add texts of other classes",
        )


def describe(splits: Splits, corpus: Corpus, console: Console, title: str = "data") -> None:
    """Print texts and class balance per split: a column per class when there are few, else the extremes."""
    from rich.table import Table

    names = corpus.label_names
    few = len(names) <= 8
    table = Table(title=f"{title}: {corpus.name}", title_justify="left")
    columns = ["split", "texts", *(names if few else ("classes", "smallest class", "largest class")), "mean words"]
    for col in columns:
        table.add_column(col, justify="left" if col == "split" else "right")
    for name in SPLITS:
        part = splits[name]
        counts = class_counts(part.labels, len(names))
        words = sum(len(t.split()) for t in part.texts) / max(len(part), 1)
        source = " (the source's own)" if name == "test" and splits.own_test else ""
        cells = [f"{c:,}" for c in counts] if few else [str(sum(c > 0 for c in counts)), f"{min(counts):,}", f"{max(counts):,}"]
        table.add_row(name + source, f"{len(part):,}", *cells, f"{words:.1f}")
    console.print(table)
    for note in corpus.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(f"split: stratified, data.split_seed = {splits.seed}, fingerprint {splits.fingerprint()}", highlight=False, soft_wrap=True)


def class_counts(labels: list[Label], num_classes: int) -> list[int]:
    """Texts per class (a multi-label text counts for each of its labels).

    >>> class_counts([0, 2, 2], 3), class_counts([(0, 1), (1,)], 2)
    ([1, 0, 2], [1, 2])
    """
    counts = [0] * num_classes
    for label in labels:
        for c in label if isinstance(label, tuple) else (label,):
            counts[c] += 1
    return counts
