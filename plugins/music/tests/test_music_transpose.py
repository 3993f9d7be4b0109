"""Transposing ABC tunes: the text moves by the semitones asked, and every note sounds exactly that much
higher."""

from __future__ import annotations

import pytest

pytest.importorskip("music21")


@pytest.mark.parametrize("semitones", [2, -3, 6])
def test_transposed_text_sounds_transposed(semitones):
    from seqtk_plugins.music.m21 import parse_abc
    from seqtk_plugins.music.transpose import transpose

    tune = "M:4/4\nL:1/8\nK:D\nDF^GA =c2 cB|d'2 _B,2 z2 f2|]\n"
    pitches = [p.midi for p in parse_abc("X:1\n" + tune).recurse().notes.stream().pitches]
    moved = transpose(tune, semitones)
    assert [p.midi for p in parse_abc("X:1\n" + moved).recurse().notes.stream().pitches] == [p + semitones for p in pitches]


def test_common_key_moves_minor_tunes_to_a():
    from seqtk_plugins.music.transpose import to_common_key

    assert to_common_key("M:6/8\nL:1/8\nK:Em\nEFG B2e|^d3|]\n") == "M:6/8\nL:1/8\nK:Am\nABc e2a|^g3|]\n"


@pytest.mark.parametrize("key", ["Bm", "G", "Edor", "F#m", "Bb", "Amix"])
@pytest.mark.parametrize("semitones", [-3, 2, 6])
def test_transposed_tunes_sound_exactly_the_shift_higher(key, semitones):
    # music21 reads the transposed text: every pitch must move by `semitones`, whatever key spelling is chosen
    from seqtk_plugins.music.m21 import parse_abc
    from seqtk_plugins.music.transpose import transpose
    from seqtk_plugins.music.validate import abc_document

    tune = f"M:4/4\nL:1/8\nK:{key}\nBcde fgab|^c'd=e_B A,B,CD|]\n"
    moved = transpose(tune, semitones)
    before = [n.pitch.midi for n in parse_abc(abc_document(tune)).recurse().notes]
    after = [n.pitch.midi for n in parse_abc(abc_document(moved)).recurse().notes]
    assert after == [m + semitones for m in before], moved
