"""MIDI files as ABC text, through music21: the melody (the top part's highest notes) in L:1/8 and K:C.

Every accidental is written out (the key is C, so no key signature applies)
and cancelled with ``=`` when an earlier note of the bar altered the same
pitch; bar lines follow the file's first time signature (4/4 without one). A
note held over a bar line is written as tied pieces (``^F2-|^F2``), whether
music21 split it (its ``tie``) or the file holds it whole.
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
    bars = _Bars(bar)
    for event in events:
        length = Fraction(event.duration.quarterLength).limit_denominator(64)
        offset = Fraction(event.offset).limit_denominator(64)
        if length <= 0 or offset < bars.position:  # grace notes and notes under a sounding one (chords in voices)
            continue
        if offset > bars.position:
            bars.write(out, None, offset - bars.position, tied=False)
        pitch = max(event.pitches, key=lambda p: p.ps) if event.isChord else getattr(event, "pitch", None)
        tie = getattr(event, "tie", None)
        bars.write(out, pitch, length, tied=pitch is not None and tie is not None and tie.type in ("start", "continue"))
    return " ".join(out).replace(" | ", "|")


class _Bars:
    """Writes notes and rests bar by bar: a bar line where a bar ends, and a note that runs over it split into
    tied pieces (``c2-|c2``), so every bar holds exactly its time signature's length."""

    def __init__(self, bar: Fraction) -> None:
        self.bar, self.position = bar, Fraction(0)
        self.altered: dict[tuple[str, int], int] = {}  # (step, octave) -> alter written earlier in this bar

    def write(self, out: list[str], pitch: Any, length: Fraction, tied: bool) -> None:
        """Append ``pitch`` (None: a rest) of ``length`` quarters; ``tied``: it continues into the next note."""
        while length > 0:
            if self.position > 0 and self.position % self.bar == 0 and out and out[-1] != "|":
                out.append("|")
                self.altered = {}
            piece = min(length, self.bar - self.position % self.bar)
            length -= piece
            symbol = "z" if pitch is None else _pitch(pitch, self.altered)
            tie = "-" if pitch is not None and (length > 0 or tied) else ""
            out.append(symbol + format_length(piece / (EIGHTH * 4)) + tie)
            self.position += piece


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
