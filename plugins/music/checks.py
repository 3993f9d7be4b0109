"""Recipe checks for the music task, run before any data is loaded."""

from __future__ import annotations

from seqtk.errors import SeqtkError, suggest
from seqtk_plugins.music.config import COLLECTIONS, MusicData, MusicModel


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
    if not 0 < data.val_fraction < 1 or not 0 <= data.test_fraction < 1 or data.val_fraction + data.test_fraction > 0.5:
        raise SeqtkError(
            f"data.val_fraction ({data.val_fraction}) must be in (0, 1), data.test_fraction ({data.test_fraction}) "
            "in [0, 1), and together they may hold out at most half of the tunes",
            fix="use e.g. val_fraction = 0.05 and test_fraction = 0.05",
        )
    if data.transpose == "augment" and not [s for s in data.augment_semitones if s % 12]:
        raise SeqtkError(
            'data.transpose = "augment" but data.augment_semitones has no shift (every value is a multiple of 12)',
            fix="list shifts in semitones, e.g. augment_semitones = [-2, 2]",
        )
    for key in ("seq_len", "max_tune_tokens"):
        _check_positive(f"data.{key}", getattr(data, key))
    for key in ("max_tune_chars", "sample_tunes"):
        if getattr(data, key) < 0:
            raise SeqtkError(f"data.{key} must be 0 or more, not {getattr(data, key)}", fix=f"set data.{key} = 0 to turn it off")
    if data.sample_temperature < 0:
        raise SeqtkError(f"data.sample_temperature must be >= 0, not {data.sample_temperature}", fix="use e.g. 0.8")


def check_model(model: MusicModel) -> None:
    """Raise :class:`SeqtkError` for a ``[model]`` section that cannot be built."""
    from seqtk.encoders import LayerSpec, check_stack

    for key in ("num_layers", "hidden_size", "embedding_dim"):
        _check_positive(f"model.{key}", getattr(model, key))
    if not 0 <= model.dropout < 1:
        raise SeqtkError(f"model.dropout must be in [0, 1), not {model.dropout}", fix="use e.g. dropout = 0.1")
    check_stack([LayerSpec(model.cell, model.hidden_size, dropout=model.dropout)] * model.num_layers)


def _check_positive(key: str, value: int) -> None:
    if value < 1:
        raise SeqtkError(f"{key} must be at least 1, not {value}", fix=f"set {key} to a positive integer")
