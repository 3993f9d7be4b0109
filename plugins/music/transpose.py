"""Transposing normalised ABC tunes, with music21 for the theory (intervals, key signatures, spelling).

music21 reads ABC but does not write it, so the tune text is rewritten here
note by note: each note's sounding pitch comes from its accidental, the
accidentals earlier in its bar and the key signature; music21 transposes it
by the diatonic interval between the old and the new tonic; it is written
back with an accidental only where the new key signature and the bar so far
do not already give it.

``common`` moves each tune to the tonic its mode has without sharps or flats
(major to C, minor to A, Dorian to D, Mixolydian to G, ...), as folk-rnn does;
``augment`` keeps each tune and adds copies shifted by the given semitones.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Any

from seqtk_plugins.music.corpus import Tune
from seqtk_plugins.music.m21 import music21

_MODES = {"": "major", "m": "minor", "dor": "dorian", "mix": "mixolydian", "phr": "phrygian", "lyd": "lydian", "loc": "locrian"}
_WHITE_TONIC = {"": "C", "m": "A", "dor": "D", "mix": "G", "phr": "E", "lyd": "F", "loc": "B"}
_KEY = re.compile(r"^([A-G][#b]?)(m|dor|mix|phr|lyd|loc)?$")
_TOKEN = re.compile(r"(\[K:[^\]]*\]|^K:.*$)|([_^=]*)([A-Ga-g])([,']*)|(\|)", re.M)
_SIGN = {"^^": 2, "^": 1, "=": 0, "_": -1, "__": -2}
_WRITE = {2: "^^", 1: "^", 0: "=", -1: "_", -2: "__"}


def transpose_tunes(tunes: list[Tune], how: str, semitones: list[int]) -> list[Tune]:
    """``common``: each tune moved to its mode's white-key tonic; ``augment``: the tunes plus shifted copies."""
    if how == "common":
        return [replace(t, text=to_common_key(t.text)) for t in tunes]
    shifted = [replace(t, text=transpose(t.text, s)) for s in semitones if s % 12 for t in tunes]
    return tunes + [t for t in shifted if t.text]


def to_common_key(text: str) -> str:
    """The tune moved so that its first key has no sharps or flats (G -> C, Em -> Am, Ador -> Ddor)."""
    tonic, mode = _parse_key(_first_key(text))
    shift = (_pc(_WHITE_TONIC[mode]) - _pc(tonic)) % 12
    return transpose(text, shift - 12 if shift > 6 else shift)


def transpose(text: str, semitones: int) -> str:
    """The tune shifted by ``semitones``; unchanged when a key cannot be read.

    >>> print(transpose("M:6/8\\nL:1/8\\nK:G\\nGA^A B2=f|f3|]\\n", 2), end="")
    M:6/8
    L:1/8
    K:A
    AB^B c2=g|g3|]
    """
    old = _parse_key(_first_key(text))
    if old[0] is None or semitones % 12 == 0:
        return text
    return _Rewriter(semitones).run(text)


class _Rewriter:
    def __init__(self, semitones: int) -> None:
        self.semitones = semitones
        self.old_sig: dict[str, int] = {}
        self.new_sig: dict[str, int] = {}
        self.interval: Any = None
        self.bar_in: dict[tuple[str, int], int] = {}
        self.bar_out: dict[tuple[str, int], int] = {}

    def run(self, text: str) -> str:
        return _TOKEN.sub(self._token, text)

    def _token(self, m: re.Match[str]) -> str:
        if m.group(1):
            return self._key(m.group(1))
        if m.group(5):
            self.bar_in, self.bar_out = {}, {}
            return m.group(5)
        return self._note(m.group(2), m.group(3), m.group(4))

    def _key(self, field: str) -> str:
        inline = field.startswith("[")
        value = field[3:-1] if inline else field[2:]
        tonic, mode = _parse_key(value)
        if tonic is None:
            return field
        new_tonic, self.interval = _move_tonic(tonic, mode, self.semitones)
        self.old_sig, self.new_sig = _signature(tonic, mode), _signature(new_tonic, mode)
        new = f"K:{new_tonic.replace('-', 'b')}{mode}"
        return f"[{new}]" if inline else new

    def _note(self, sign: str, letter: str, marks: str) -> str:
        if self.interval is None:
            return sign + letter + marks
        step, octave = letter.upper(), 4 + (letter.islower()) + marks.count("'") - marks.count(",")
        alter = _SIGN[sign] if sign in _SIGN else self.bar_in.get((step, octave), self.old_sig.get(step, 0))
        if sign in _SIGN:
            self.bar_in[(step, octave)] = alter
        new_step, new_alter, new_octave = _move_pitch(step, alter, octave, self.interval)
        implied = self.bar_out.get((new_step, new_octave), self.new_sig.get(new_step, 0))
        out_sign = "" if implied == new_alter else _WRITE.get(new_alter, "")
        if out_sign:
            self.bar_out[(new_step, new_octave)] = new_alter
        name = new_step if new_octave <= 4 else new_step.lower()
        octave_marks = "," * (4 - new_octave) if new_octave < 4 else "'" * (new_octave - 5)
        return out_sign + name + octave_marks


def _first_key(text: str) -> str:
    match = re.search(r"(?m)^K:(.*)$", text)
    return match.group(1) if match else ""


def _parse_key(value: str) -> tuple[str | None, str]:
    match = _KEY.match(value.strip())
    return (match.group(1), match.group(2) or "") if match else (None, "")


def _pc(name: str) -> int:
    return int(music21().pitch.Pitch(name.replace("b", "-") if len(name) > 1 else name).pitchClass)


@lru_cache(maxsize=None)
def _move_tonic(tonic: str, mode: str, semitones: int) -> tuple[str, Any]:
    """The new tonic, spelled for the simpler signature *in the tune's mode*, and the interval to it.

    The mode matters: B minor up 2 is C# minor (4 sharps), not Db minor (8 flats,
    which ABC readers such as music21 take as 7 and so misread every B).
    """
    m21 = music21()
    start = m21.pitch.Pitch((tonic.replace("b", "-") if len(tonic) > 1 else tonic) + "4")  # octaves make the interval's direction
    end = start.transpose(semitones)
    if abs(end.alter) > 0:
        def cost(p: Any) -> tuple[bool, int]:
            return abs(p.alter) > 1, abs(m21.key.Key(p.name, _MODES[mode]).sharps)

        end = min((end, end.getEnharmonic()), key=cost)
    return end.name, m21.interval.Interval(noteStart=m21.note.Note(start), noteEnd=m21.note.Note(end))


@lru_cache(maxsize=None)
def _signature(tonic: str, mode: str) -> dict[str, int]:
    m21 = music21()
    key = m21.key.Key(tonic.replace("b", "-") if len(tonic) > 1 else tonic, _MODES[mode])
    return {p.step: int(p.alter) for p in key.alteredPitches}


@lru_cache(maxsize=None)
def _move_pitch(step: str, alter: int, octave: int, interval: Any) -> tuple[str, int, int]:
    m21 = music21()
    pitch = m21.pitch.Pitch(step=step, octave=octave)
    if alter:
        pitch.accidental = m21.pitch.Accidental(alter)
    moved = pitch.transpose(interval)
    return moved.step, int(moved.alter), int(moved.octave)
