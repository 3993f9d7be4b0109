"""MIDI files as ABC text, through music21: the melody (the top part's highest notes) in L:1/8 and K:C.

Every accidental is written out (the key is C, so no key signature applies)
and cancelled with ``=`` when an earlier note of the bar altered the same
pitch; bar lines follow the file's first time signature (4/4 without one).
Chords keep their highest note, so a piano file becomes its tune.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

from seqtk.errors import SeqtkError
from seqtk_plugins.music.m21 import music21, parse_file
from seqtk_plugins.music.tunes import EIGHTH, format_length

_ACCIDENTALS = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}


def midi_to_abc(path: str | Path) -> str:
    """The melody of a MIDI file as one ABC tune (``X:``, ``T:``, ``M:``, ``L:1/8``, ``K:C``, body)."""
    m21 = music21()
    try:
        score = parse_file(path)
    except Exception as exc:  # music21 raises many kinds of error for a bad file
        raise SeqtkError(f"music21 cannot read the MIDI file '{path}': {type(exc).__name__}: {exc}",
                         fix="check that it is a standard MIDI file (.mid), or remove it from the folder") from None  # fmt: skip
    part = score.parts[0] if getattr(score, "parts", None) else score
    meter = part.recurse().getElementsByClass(m21.meter.TimeSignature).first()
    ratio = meter.ratioString if meter is not None else "4/4"
    bar = Fraction(meter.barDuration.quarterLength if meter is not None else 4).limit_denominator(64)
    body = _body(part.flatten().notesAndRests, bar)
    return f"X:1\nT:{Path(path).stem}\nM:{ratio}\nL:1/8\nK:C\n{body}|]\n"


def _body(events: Any, bar: Fraction) -> str:
    out: list[str] = []
    altered: dict[tuple[str, int], int] = {}  # (step, octave) -> alter written earlier in this bar
    position = Fraction(0)
    for event in events:
        length = Fraction(event.duration.quarterLength).limit_denominator(64)
        offset = Fraction(event.offset).limit_denominator(64)
        if length <= 0 or offset < position:  # grace notes and notes under a sounding one (chords in voices)
            continue
        if offset > position:
            out += _rest(offset - position)
            position = offset
        if position > 0 and position % bar == 0 and out and out[-1] != "|":
            out.append("|")
            altered = {}
        pitch = max(event.pitches, key=lambda p: p.ps) if event.isChord else getattr(event, "pitch", None)
        symbol = "z" if pitch is None else _pitch(pitch, altered)
        out.append(symbol + format_length(length / (EIGHTH * 4)))
        position += length
    return " ".join(out).replace(" | ", "|")


def _rest(length: Fraction) -> list[str]:
    return ["z" + format_length(length / (EIGHTH * 4))]


def _pitch(pitch: Any, altered: dict[tuple[str, int], int]) -> str:
    alter = int(pitch.alter)
    key = (pitch.step, pitch.octave)
    sign = ""
    if alter != altered.get(key, 0):
        sign = _ACCIDENTALS.get(alter, "")
        altered[key] = alter
    octave = pitch.octave if pitch.octave is not None else 4
    letter = pitch.step if octave <= 4 else pitch.step.lower()
    marks = "," * (4 - octave) if octave < 4 else "'" * (octave - 5) if octave > 5 else ""
    return sign + letter + marks
