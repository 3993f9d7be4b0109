"""Tune collections: the ABC folk tunes in the music21 wheel, or local .abc/.mid files; the split by tune.

Sources, in the order a recipe's ``[data]`` section is read:

1. ``path``: an .abc file, or a folder whose .abc, .mid and .midi files
   (recursively, in name order) are read. MIDI files become ABC text through
   :mod:`.midi`.
2. ``collections``: folders of ``music21/corpus`` (O'Neill's 1850, Ryan's
   Mammoth, Aird's Airs, misc folk, Essen), read straight from the installed
   wheel: nothing is downloaded.

Every tune is normalised (:func:`.tunes.normalise`); exact duplicates are
dropped, and the split keeps all tunes with the same title together, so
versions of one tune never sit on both sides of it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqtk.data.batches import check_held_out
from seqtk.errors import SeqtkError, suggest
from seqtk_plugins.music.config import COLLECTIONS
from seqtk_plugins.music.tunes import RawTune, Skip, normalise, split_tunes

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from seqtk_plugins.music.config import MusicData

MIDI_SUFFIXES = (".mid", ".midi")


@dataclass(frozen=True)
class Tune:
    """A normalised tune, the title it is grouped by and the file it came from."""

    text: str
    title: str
    source: str


@dataclass
class Collection:
    """The tunes read, and why the others were left out."""

    tunes: list[Tune] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    files: int = 0


@dataclass(frozen=True)
class Splits:
    train: list[Tune]
    val: list[Tune]
    test: list[Tune]


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def load_tunes(cfg: MusicData) -> Collection:
    """Every normalised tune a ``[data]`` section selects; raises when there is none."""
    files = _path_files(Path(cfg.path).expanduser()) if cfg.path else _collection_files(cfg.collections)
    found = Collection(files=len(files))
    seen: set[str] = set()
    for path in files:
        for raw in _raw_tunes(path):
            try:
                text = normalise(raw, keep_rhythm=cfg.keep_rhythm, unit_length=cfg.unit_length,
                                 simplify=cfg.simplify, require_meter=cfg.require_meter)  # fmt: skip
            except Skip as why:
                found.skipped[str(why)] += 1
                continue
            if cfg.max_tune_chars and len(text) > cfg.max_tune_chars:
                found.skipped["too long"] += 1
            elif text in seen:
                found.skipped["duplicate"] += 1
            else:
                seen.add(text)
                found.tunes.append(Tune(text, raw.title, path.name))
    if not found.tunes:
        where = cfg.path or ", ".join(cfg.collections)
        reasons = ", ".join(f"{n} {why}" for why, n in found.skipped.most_common()) or "no tune had an X: line and a K: line"
        raise SeqtkError(
            f"no usable tunes in {where} ({len(files)} files; left out: {reasons})",
            fix="check that the files are ABC tunes (X:, M:, L:, K: headers, then the notes); "
            "set data.require_meter = false to keep tunes without a metre",
        )
    return found


def collection_dir(name: str) -> Path:
    """The folder of one music21 ABC collection."""
    from seqtk_plugins.music.m21 import corpus_dir

    if name not in COLLECTIONS:
        raise SeqtkError(
            f"unknown music21 collection '{name}' in data.collections.{suggest(name, COLLECTIONS)}",
            fix=f"use some of: {', '.join(COLLECTIONS)}",
        )
    folder = corpus_dir() / name
    if not folder.is_dir():
        raise SeqtkError(
            f"the music21 collection '{name}' is not in the installed music21 ({folder} is missing)",
            fix='reinstall the full music21 wheel: pip install --force-reinstall "music21>=9"',
        )
    return folder


def _collection_files(names: list[str]) -> list[Path]:
    return [f for name in names for f in sorted(collection_dir(name).rglob("*.abc"))]


def _path_files(path: Path) -> list[Path]:
    if not path.exists():
        raise SeqtkError(f"data.path '{path}' does not exist", fix="check the path, or remove data.path to use the music21 collections")
    if path.is_file():
        if path.suffix.lower() not in (".abc", *MIDI_SUFFIXES):
            raise SeqtkError(
                f"data.path '{path}' is not an .abc or .mid file", fix="point data.path at ABC or MIDI files, or a folder of them"
            )
        return [path]
    suffixes = (".abc", *MIDI_SUFFIXES)
    files = sorted(f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in suffixes and not f.name.startswith("."))
    if not files:
        raise SeqtkError(f"the folder '{path}' has no .abc or .mid files", fix="put ABC (.abc) or MIDI (.mid) files in it")
    return files


def _raw_tunes(path: Path) -> list[RawTune]:
    if path.suffix.lower() in MIDI_SUFFIXES:
        from seqtk_plugins.music.midi import midi_to_abc

        return split_tunes(midi_to_abc(path))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # old ABC collections are often Latin-1; only titles and comments differ
    return split_tunes(text)


# ---------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------


def split_tunes_by_title(tunes: list[Tune], val_fraction: float, test_fraction: float, seed: int = 0) -> Splits:
    """Whole tunes to train, val and test; tunes that share a title go to the same split.

    Groups are shuffled with a fixed seed, then test and val take groups until
    they hold their fraction of the tunes.
    """
    groups: dict[str, list[Tune]] = {}
    for i, tune in enumerate(tunes):
        key = " ".join(tune.title.lower().split()) or f"#untitled {i}"
        groups.setdefault(key, []).append(tune)
    order = list(groups.values())
    random.Random(seed).shuffle(order)
    held: dict[str, list[Tune]] = {"test": [], "val": []}
    for name, fraction in (("test", test_fraction), ("val", val_fraction)):
        while order and len(order) > 1 and len(held[name]) < fraction * len(tunes):
            held[name].extend(order.pop())
    splits = Splits(train=[t for g in order for t in g], val=held["val"], test=held["test"])
    check_held_out(splits, {"val": val_fraction, "test": test_fraction}, f"{len(tunes)} tunes", "tunes")
    return splits


def describe(found: Collection, splits: Splits, console: Console, trained: Mapping[str, Sequence[Any]] | None = None) -> None:
    """Print tunes and characters per split, and what was left out.

    ``trained`` are the tunes each split trains or evaluates on when they differ from the split (transposed,
    or with augment copies): the table then counts those, and says how many copies augmentation added.
    """
    from rich.table import Table

    table = Table(title=f"music tunes ({found.files} files)", title_justify="left")
    for col in ("split", "tunes", "characters"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for name in ("train", "val", "test"):
        part = getattr(splits, name)
        used = list(trained[name]) if trained is not None else part
        extra = len(used) - len(part)
        tunes = f"{len(used):,}" + (f" ({len(part):,} + {extra:,} transposed copies)" if extra > 0 else "")
        table.add_row(name, tunes, f"{sum(len(t.text) for t in used):,}")
    console.print(table)
    if found.skipped:
        console.print("left out: " + ", ".join(f"{n:,} {why}" for why, n in found.skipped.most_common()), highlight=False)
