"""Where the seq2seq task's examples come from, and how they become train/val/test splits.

``data.source`` picks the reader: the CMU Pronouncing Dictionary
(:mod:`.cmudict`, with a test set fixed by a hash of each word), Keras'
addition toy (:mod:`.addition`), the user's pair files or a hub dataset
(:mod:`.files`). ``data.max_examples`` then takes a seeded sample, and
:func:`~seqtk_plugins.seq2seq.splits.make_splits` cuts the splits by example.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from seqtk_plugins.seq2seq.pairs import Example, PairSource
from seqtk_plugins.seq2seq.splits import Splits, held_out_count, make_splits

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from seqtk_plugins.seq2seq.config import Seq2SeqData, Seq2SeqVocab


@dataclass(frozen=True)
class Loaded:
    """The splits, the source's name and what reading and splitting changed (for the data table)."""

    name: str
    splits: Splits
    notes: list[str]


def resolve_source(cfg: Seq2SeqData) -> str:
    """``data.source`` with ``auto`` resolved: files when data.path is set, else cmudict."""
    return cfg.chosen_source()


def token_kinds(cfg: Seq2SeqData, vocab: Seq2SeqVocab) -> tuple[str, str]:
    """The (source, target) tokenizer kinds, ``auto`` resolved: char sources; phonemes (space) for cmudict."""
    source = "char" if vocab.source_tokens == "auto" else vocab.source_tokens
    default_target = "space" if resolve_source(cfg) == "cmudict" else "char"
    return source, default_target if vocab.target_tokens == "auto" else vocab.target_tokens


def load_splits(cfg: Seq2SeqData, console: Console) -> Loaded:
    """Read the examples ``cfg`` names, sample ``max_examples`` of them, and split them."""
    source = _read(cfg, console)
    if cfg.max_examples:
        source = _sample(source, cfg.max_examples, cfg.test_fraction, cfg.split_seed)
    if resolve_source(cfg) == "files" and cfg.val_path:
        splits = _given_val(source, _read_file(cfg, cfg.val_path, "data.val_path").train, cfg)
        return Loaded(source.name, splits, [*source.notes, f"val: {cfg.val_path}"])
    splits = make_splits(source, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
    return Loaded(source.name, splits, list(source.notes))


def _given_val(source: PairSource, val: list[Example], cfg: Seq2SeqData) -> Splits:
    """Splits whose val set is data.val_path's; test is data.test_path's, or carved from train."""
    if source.test is not None:
        return Splits(source.train, val, source.test, cfg.split_seed, "val: data.val_path, test: data.test_path")
    order = torch.randperm(len(source.train), generator=torch.Generator().manual_seed(cfg.split_seed)).tolist()
    take = held_out_count(len(source.train), cfg.test_fraction)
    test, train = sorted(order[:take]), sorted(order[take:])
    return Splits([source.train[i] for i in train], val, [source.train[i] for i in test], cfg.split_seed,
                  "val: data.val_path, test carved from data.path with data.split_seed")  # fmt: skip


def _read(cfg: Seq2SeqData, console: Console) -> PairSource:
    kind = resolve_source(cfg)
    if kind == "cmudict":
        from seqtk_plugins.seq2seq.cmudict import load_cmudict
        from seqtk_plugins.seq2seq.splits import hashed_test

        return hashed_test(load_cmudict(cfg.path, cfg.stress, console), cfg.test_fraction)
    if kind == "addition":
        from seqtk_plugins.seq2seq.addition import addition_examples

        examples = addition_examples(cfg.addition_count, cfg.addition_digits, cfg.split_seed)
        return PairSource(f"addition of numbers up to {cfg.addition_digits} digits", examples)
    if kind == "hub":
        from seqtk_plugins.seq2seq.files import load_hub_pairs

        return load_hub_pairs(str(cfg.hub_name), cfg.hub_config, cfg.hub_split, cfg.hub_test_split,
                              cfg.source_column, cfg.target_column, cfg.drop_empty)  # fmt: skip
    return _read_files(cfg)


def _read_files(cfg: Seq2SeqData) -> PairSource:
    """data.path, with data.test_path's examples as its fixed test set."""
    source = _read_file(cfg, str(cfg.path), "data.path")
    if not cfg.test_path:
        return source
    test = _read_file(cfg, cfg.test_path, "data.test_path")
    return replace(source, test=test.train, notes=[*source.notes, f"test: {cfg.test_path}", *test.notes])


def _read_file(cfg: Seq2SeqData, path: str, key: str) -> PairSource:
    from seqtk_plugins.seq2seq.files import read_pairs_file

    return read_pairs_file(Path(path).expanduser(), cfg.source_column, cfg.target_column, cfg.drop_empty, key)


def _sample(source: PairSource, count: int, test_fraction: float, seed: int) -> PairSource:
    """A seeded sample of ``count`` training examples (and a test set cut down in proportion)."""
    g = torch.Generator().manual_seed(seed)
    train = _pick(source.train, count, g)
    test = None if source.test is None else _pick(source.test, held_out_count(count, test_fraction), g)
    note = f"data.max_examples = {count:,}: a seeded sample of {len(source.train):,} examples"
    return replace(source, train=train, test=test, notes=[*source.notes, note])


def _pick(examples: list[Example], count: int, g: torch.Generator) -> list[Example]:
    if count >= len(examples):
        return examples
    return [examples[i] for i in sorted(torch.randperm(len(examples), generator=g)[:count].tolist())]
