"""The music task's recipe sections: ``[data]``, ``[vocab]`` and ``[model]``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seqtk.config.model_config import CharLMConfig
from seqtk.config.schema import DataConfig, VocabConfig, hfield

#: The ABC folk-tune collections inside the music21 wheel (folder names under music21/corpus).
COLLECTIONS = ("oneills1850", "ryansMammoth", "airdsAirs", "miscFolk", "essenFolksong")


@dataclass(frozen=True)
class MusicData(DataConfig):
    """Where the tunes come from, how they are normalised, split and batched.

    ``path`` (inherited) replaces the music21 collections: a .abc file, or a
    folder whose .abc (and .mid/.midi) files are read recursively.
    """

    collections: list[str] = hfield(
        default_factory=lambda: list(COLLECTIONS),
        help="music21 ABC collections to read: oneills1850 (2,009 tunes), ryansMammoth (1,059), "
        "airdsAirs (1,180), miscFolk (185), essenFolksong (8,514).",
        sources=("music21",),
    )
    keep_rhythm: bool = hfield(False, help="Keep the R: header (jig, reel, ...) in front of M:, L: and K:.")
    unit_length: Literal["1/8", "keep"] = hfield(
        "1/8", help="1/8: rewrite every note length for L:1/8, so one symbol means one duration; keep: leave L: as written."
    )
    simplify: bool = hfield(
        True, help="Drop chord symbols, annotations, grace notes, decorations and slurs (pitches, lengths, bars and repeats stay)."
    )
    require_meter: bool = hfield(True, help="Skip tunes without a metre (M:none or no M:): their bars cannot be checked.")
    max_tune_chars: int = hfield(1200, help="Skip tunes whose normalised text is longer; 0 keeps all.")
    transpose: Literal["none", "common", "augment"] = hfield(
        "none",
        help="none; common: move every tune to C (major modes) or A (minor modes) with music21; "
        "augment: add training copies transposed by each interval in data.augment_semitones.",
    )
    augment_semitones: list[int] = hfield(
        default_factory=lambda: [-2, 2], help='With transpose = "augment": semitone shifts of the extra training copies.'
    )
    val_fraction: float = hfield(0.05, help="Fraction of the tunes held out for validation (> 0). Tunes with the same title stay together.")
    test_fraction: float = hfield(0.05, help="Fraction of the tunes held out for the test split; 0 for none.")
    seq_len: int = hfield(256, help="Tokens per training window; windows run across tune boundaries (marked by the tune start/end tokens).")
    sample_tunes: int = hfield(
        32, help="Tunes sampled at each evaluation to measure parse_rate and bar_fill_rate with music21; 0 turns it off."
    )
    sample_temperature: float = hfield(0.8, help="Sampling temperature of those evaluation tunes and of the final report.")
    max_tune_tokens: int = hfield(1000, help="Longest tune sampled at evaluation, in tokens; longer ones are cut (and counted unfinished).")

    def chosen_source(self) -> str:
        """path (``.abc`` files of your own) replaces the music21 collections."""
        return "path" if self.path else "music21"

    def source_choice(self, source: str) -> str:
        return "data.path=FILE.abc" if source == "path" else "no data.path"

    def describe_source(self, source: str) -> str:
        if source == "path":
            return f"data.path = '{self.path}' (it replaces the music21 collections)"
        return "the music21 collections"


@dataclass(frozen=True)
class MusicVocab(VocabConfig):
    """What a token is."""

    tokens: Literal["chars", "abc"] = hfield(
        "chars",
        help="chars: one token per character of the normalised tune; abc: folk-rnn-style tokens "
        "(whole header lines, notes with their lengths, bar lines and repeats, chord brackets, tuplets).",
    )
    min_freq: int = hfield(1, help="Tokens seen fewer times in train share the one OOV bucket.")


@dataclass(frozen=True)
class MusicModel(CharLMConfig):
    """The core's character LM (CharLMConfig): embedding, a stack of recurrent layers, a softmax head."""

    num_layers: int = hfield(2, help="Number of stacked recurrent layers (folk-rnn: 3).")
    hidden_size: int = hfield(256, help="Hidden units per layer (folk-rnn: 512).")
