"""The music plugin's checks and renderings of a tune: bars that fill the metre, MIDI, ties, audio."""

from __future__ import annotations

from fractions import Fraction

import pytest

from seqtk.errors import SeqtkError

pytest.importorskip("music21")

from seqtk_plugins.music.tunes import normalise, split_tunes  # noqa: E402
from seqtk_plugins.music.validate import bar_fills, check_tune, summarise  # noqa: E402


def test_the_validator_counts_a_broken_bar_as_broken():
    good = "M:3/4\nL:1/8\nK:D\nA|d2 f2 a2|g2 e2 c2|d4 A2|d2 f2 a2|d4 :|\n"
    broken = good.replace("g2 e2 c2", "g2 e2 c2 B")  # one bar an eighth too long
    assert check_tune(good) == check_tune(good) and check_tune(good).filled == check_tune(good).bars == 6
    bad = check_tune(broken)
    # music21 cuts the long bar into a full one and a stray eighth (under a made-up 1/8 time
    # signature, which the validator ignores): that fragment is the one bar that fails the 3/4 metre
    assert bad.parsed and bad.bars == 7 and bad.filled == 6
    assert summarise([check_tune(good), bad]) == {"parse_rate": 1.0, "bar_fill_rate": 12 / 13}


def test_bars_split_by_a_repeat_count_as_one_and_garbage_does_not_parse():
    q = Fraction
    assert bar_fills([(q(3), q(3)), (q(2), q(3)), (q(1), q(3)), (q(3), q(3))]) == [True, True, True, True]
    assert bar_fills([(q(4), q(3)), (q(3), q(3)), (q(2), q(3))]) == [False, True, True]  # a long pickup is wrong
    assert not check_tune("M:3/4\nL:1/8\nK:G\n|]]((((zz[[[\n").parsed
    assert not check_tune("M:3/4\nL:1/8\nK:G\n|]\n").parsed  # no notes


def test_midi_is_written_and_read_back(tmp_path):
    from seqtk_plugins.music.export import write_tune
    from seqtk_plugins.music.m21 import parse_abc, parse_file
    from seqtk_plugins.music.midi import midi_to_abc

    tune = "M:6/8\nL:1/8\nK:G\nGAB c2d|e2f g3|fed cBA|G3 G3|]\n"
    files = write_tune(tune, tmp_path / "out", 1, musicxml=True)
    assert (tmp_path / "out" / "tune_001.abc").read_text().startswith("X:1\nT:seqtk tune 1\nM:6/8")
    midi = parse_file(files["mid"])
    expected = [p.midi for p in parse_abc("X:1\n" + tune).recurse().notes.stream().pitches]
    assert [p.midi for p in midi.recurse().notes.stream().pitches] == expected
    assert parse_file(files["musicxml"]).recurse().notes
    back = split_tunes(midi_to_abc(files["mid"]))[0]  # MIDI as ABC text, the way data.path reads .mid files
    text = normalise(back)
    assert [p.midi for p in parse_abc("X:1\n" + text).recurse().notes.stream().pitches] == expected
    assert check_tune(text).filled == check_tune(text).bars > 0


def test_a_note_held_over_a_bar_line_stays_one_tied_note(tmp_path):
    from seqtk_plugins.music.export import write_tune
    from seqtk_plugins.music.m21 import parse_abc
    from seqtk_plugins.music.midi import midi_to_abc

    tune = "M:4/4\nL:1/8\nK:C\nC2 D2 E2 ^F2-|^F2 G2 A4-|A2 B4 z2|]\n"  # F# and A run over the bar lines
    files = write_tune(tune, tmp_path / "out", 1)
    text = normalise(split_tunes(midi_to_abc(files["mid"]))[0])
    assert "^F2-|^F2" in text and "A4-|A2" in text  # tied, not struck again
    sounded = [(n.pitch.midi, float(n.quarterLength)) for n in parse_abc("X:1\n" + text).stripTies().recurse().notes]
    assert sounded == [(60, 1.0), (62, 1.0), (64, 1.0), (66, 2.0), (67, 1.0), (69, 3.0), (71, 2.0)]
    assert check_tune(text).filled == check_tune(text).bars == 3


def test_a_whole_note_that_runs_over_a_bar_line_is_split_into_tied_pieces():
    from types import SimpleNamespace

    from seqtk_plugins.music.m21 import music21
    from seqtk_plugins.music.midi import _body

    def note(name, offset, length):  # as music21 gives events that it did not split at the bar line
        return SimpleNamespace(duration=SimpleNamespace(quarterLength=length), offset=offset, isChord=False,
                               pitch=music21().pitch.Pitch(name), tie=None)

    events = [note("C4", 0, 3), note("E4", 3, 6), note("G4", 9, 3)]
    assert _body(events, bar=4) == "C6 E2-|E8-|E2 G6"


def test_badly_formed_repeats_still_give_a_midi_file(tmp_path):
    from seqtk_plugins.music.export import write_tune
    from seqtk_plugins.music.m21 import parse_abc, parse_file

    # a sampled tune: music21 parses it but cannot play its repeats out when writing MIDI
    tune = "M:C\nL:1/8\nK:G\n(3EFE|(3A,ED(3cBAGcGE|(3FECDEDG(3FGE|D2D2D2:||:fe|dBBGBEFD|EcBEE2EF|FABcd2B2|]BEdFABA2|BdcBAFG2|]\n"
    files = write_tune(tune, tmp_path, 3)
    written = len(parse_abc(f"X:1\n{tune}").recurse().notes)
    assert "repeats" in files["note"] and len(parse_file(files["mid"]).recurse().notes) == written  # each note once


def test_an_unreadable_tune_keeps_its_abc_and_the_error(tmp_path):
    from seqtk_plugins.music.export import write_tune

    files = write_tune("M:3/4\nL:1/8\nK:G\n|]]((((zz[[[\n", tmp_path, 2)
    assert "error" in files and "mid" not in files and (tmp_path / "tune_002.abc").exists()


def test_wav_without_fluidsynth_names_the_packages(monkeypatch):
    from seqtk_plugins.music import export

    monkeypatch.setattr(export.shutil, "which", lambda name: None)
    with pytest.raises(SeqtkError, match="fluidsynth") as info:
        export.audio_tools()
    assert "apt-get install fluidsynth fluid-soundfont-gm" in info.value.fix
