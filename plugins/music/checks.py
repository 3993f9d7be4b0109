"""Recipe checks for the music task, run before any data is loaded."""

from __future__ import annotations

from seqtk.config import checks
from seqtk.errors import SeqtkError, suggest
from seqtk_plugins.music.config import COLLECTIONS, MusicData


def check_data(data: MusicData) -> None:
    """Raise :class:`SeqtkError` for ``[data]`` values that cannot work."""
    if not data.path and not data.collections:
        raise SeqtkError(
            "data.collections is empty and data.path is not set: there are no tunes",
            fix=f"list collections, e.g. {list(COLLECTIONS[:2])}, or set data.path",
        )
    for name in data.collections:
        if name not in COLLECTIONS:
            raise SeqtkError(
                f"unknown music21 collection '{name}' in data.collections.{suggest(name, COLLECTIONS)}",
                fix=f"use some of: {', '.join(COLLECTIONS)}",
            )
    checks.split_fractions(data.val_fraction, data.test_fraction, example=(0.05, 0.05))
    if data.transpose == "augment" and not [s for s in data.augment_semitones if s % 12]:
        raise SeqtkError(
            'data.transpose = "augment" but data.augment_semitones has no shift (every value is a multiple of 12)',
            fix="list shifts in semitones, e.g. augment_semitones = [-2, 2]",
        )
    for key in ("seq_len", "max_tune_tokens"):
        checks.at_least(f"data.{key}", getattr(data, key), 1)
    for key in ("max_tune_chars", "sample_tunes"):
        checks.at_least(f"data.{key}", getattr(data, key), 0, fix=f"set data.{key} = 0 to turn it off")
    if data.sample_temperature < 0:
        raise SeqtkError(f"data.sample_temperature must be >= 0, not {data.sample_temperature}", fix="use e.g. 0.8")
