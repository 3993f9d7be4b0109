"""Train/val/test splits of tagged sentences: by document (file), or by sentence; and their fingerprint.

A corpus of documents (the Brown files) is split by file, so that no
document straddles two splits (its sentences share topics, names and
words, and would flatter the held-out score). The split is stratified by
genre: each split takes each genre's share of the files (largest
remainders), and which files is drawn with ``data.split_seed``. A single
file is split by sentence instead.

The fingerprint (SHA-256 over the held-out sentences and tags) goes into
checkpoints, so ``seqtk eval`` can tell when the data it rebuilt the split
from is not the data the model was trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from seqtk.errors import SeqtkError
from seqtk_plugins.tag.readers import Sentence

SPLITS = ("train", "val", "test")
T = TypeVar("T")


@dataclass
class Document:
    """One file of a corpus: its name, its genre and its sentences."""

    name: str
    genre: str
    sentences: list[Sentence]


@dataclass
class Splits:
    """The three splits, and how they were made."""

    train: list[Sentence]
    val: list[Sentence]
    test: list[Sentence]
    how: str  # a phrase for the report: "by file, stratified by genre", ...
    seed: int
    documents: dict[str, list[str]] = field(default_factory=dict)  # split -> document names, when split by file

    def __getitem__(self, name: str) -> list[Sentence]:
        return getattr(self, name)

    def fingerprint(self) -> str:
        """SHA-256 (hex, first 16 digits) over the held-out sentences and their tags."""
        digest = hashlib.sha256()
        for name in ("val", "test"):
            digest.update(f"{name}:{len(self[name])}\n".encode())
            for sentence in self[name]:
                line = " ".join(f"{w}\t{t}" for w, t in zip(sentence.words, sentence.tags))
                digest.update(line.encode("utf-8", "surrogatepass") + b"\n")
        return digest.hexdigest()[:16]

    def record(self) -> dict[str, Any]:
        """What a checkpoint keeps about the split (plain data)."""
        return {"seed": self.seed, "how": self.how, "sizes": {n: len(self[n]) for n in SPLITS},
                "fingerprint": self.fingerprint()}  # fmt: skip


def shares(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Split ``total`` items among groups in proportion to ``sizes``, by largest remainders.

    >>> shares({"news": 44, "humor": 9, "lore": 48}, 10)
    {'news': 4, 'humor': 1, 'lore': 5}
    """
    whole = sum(sizes.values())
    exact = {g: n * total / whole for g, n in sizes.items()}
    out = {g: int(x) for g, x in exact.items()}
    for g in sorted(exact, key=lambda g: (-(exact[g] - out[g]), g))[: total - sum(out.values())]:
        out[g] += 1
    return out


def held_out_count(n: int, fraction: float) -> int:
    """``round(n * fraction)``, but at least one when the fraction is positive."""
    return max(1, round(n * fraction)) if fraction > 0 else 0


def split_documents(documents: list[Document], val_fraction: float, test_fraction: float, seed: int) -> Splits:
    """Split by file, stratified by genre; each genre's files are shuffled with ``seed``."""
    by_genre: dict[str, list[Document]] = {}
    for doc in documents:
        by_genre.setdefault(doc.genre, []).append(doc)
    sizes = {g: len(docs) for g, docs in sorted(by_genre.items())}
    n = len(documents)
    quota = {"val": shares(sizes, held_out_count(n, val_fraction)), "test": shares(sizes, held_out_count(n, test_fraction))}
    generator = torch.Generator().manual_seed(seed)
    parts: dict[str, list[Document]] = {name: [] for name in SPLITS}
    for genre, docs in sorted(by_genre.items()):
        order = [docs[i] for i in torch.randperm(len(docs), generator=generator).tolist()]
        take_val, take_test = quota["val"][genre], quota["test"][genre]
        parts["val"] += order[:take_val]
        parts["test"] += order[take_val : take_val + take_test]
        parts["train"] += order[take_val + take_test :]
    for docs in parts.values():
        docs.sort(key=lambda d: d.name)
    how = "by file, stratified by genre" if len(by_genre) > 1 else "by file"
    splits = Splits(*(_sentences(parts[name]) for name in SPLITS), how=how, seed=seed,
                    documents={name: [d.name for d in parts[name]] for name in SPLITS})  # fmt: skip
    check_nonempty(splits, f"{n} documents", "documents (files)")
    return splits


def first_documents(documents: list[T], limit: int, genre: Callable[[T], str] = lambda d: d.genre) -> list[T]:
    """At most ``limit`` documents (0: all), taken in turn from each genre, each genre in file order.

    >>> docs = [Document(n, n[1], []) for n in ("ca01", "ca02", "ca03", "cb01", "cr01")]
    >>> [d.name for d in first_documents(docs, 4)]
    ['ca01', 'cb01', 'cr01', 'ca02']
    """
    if not limit or limit >= len(documents):
        return documents
    by_genre: dict[str, list[T]] = {}
    for doc in documents:
        by_genre.setdefault(genre(doc), []).append(doc)
    queues = [by_genre[g] for g in sorted(by_genre)]
    rounds = max(len(q) for q in queues)
    turns = [q[i] for i in range(rounds) for q in queues if i < len(q)]
    return turns[:limit]


def split_sentences(sentences: list[Sentence], fractions: dict[str, float], seed: int) -> dict[str, list[Sentence]]:
    """Held-out splits carved from ``sentences`` (each ``fractions[name]`` of them), the rest as ``"train"``."""
    order = torch.randperm(len(sentences), generator=torch.Generator().manual_seed(seed)).tolist()
    parts: dict[str, list[int]] = {}
    for name, fraction in fractions.items():
        take = held_out_count(len(sentences), fraction)
        parts[name], order = sorted(order[:take]), order[take:]
    parts["train"] = sorted(order)
    return {name: [sentences[i] for i in idx] for name, idx in parts.items()}


def check_nonempty(splits: Splits, total: str, unit: str) -> None:
    """Every split must hold a sentence."""
    for name in SPLITS:
        if not splits[name]:
            key = "data.val_fraction and data.test_fraction" if name == "train" else f"data.{name}_fraction"
            raise SeqtkError(
                f"the {name} split is empty ({total} in all, split {splits.how})",
                fix=f"use more {unit}, or change {key}",
            )


def _sentences(documents: list[Document]) -> list[Sentence]:
    return [s for doc in documents for s in doc.sentences]
