"""Writing sampled tunes to files: .abc always, .mid (and .musicxml) through music21, .wav through fluidsynth.

Audio needs the ``fluidsynth`` program and a General MIDI soundfont (Debian
and Ubuntu: ``apt-get install fluidsynth fluid-soundfont-gm``); set
``SEQTK_SOUNDFONT`` to use another .sf2 file.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from seqtk.errors import SeqtkError
from seqtk_plugins.music.m21 import music21, parse_abc, quiet
from seqtk_plugins.music.validate import abc_document

SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
)
AUDIO_FIX = (
    "install them (Debian/Ubuntu: sudo apt-get install fluidsynth fluid-soundfont-gm), "
    "or set SEQTK_SOUNDFONT to a General MIDI .sf2 file; or leave out --wav"
)


def audio_tools() -> tuple[str, str]:
    """(fluidsynth program, soundfont path); raises :class:`SeqtkError` saying how to get what is missing."""
    program = shutil.which("fluidsynth")
    candidates = [os.environ["SEQTK_SOUNDFONT"]] if os.environ.get("SEQTK_SOUNDFONT") else list(SOUNDFONTS)
    font = next((f for f in candidates if Path(f).is_file()), None)
    missing = [what for what, found in (("the fluidsynth program", program), ("a General MIDI soundfont", font)) if not found]
    if missing:
        raise SeqtkError(f"--wav needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed", fix=AUDIO_FIX)
    assert program is not None and font is not None
    return program, font


def next_tune_number(folder: Path) -> int:
    """1, or one past the highest ``tune_NNN.*`` already in ``folder``, so that no earlier tune is overwritten."""
    if folder.exists() and not folder.is_dir():
        raise SeqtkError(f"--out '{folder}' is a file, not a folder", fix="choose a folder for the tunes")
    numbers = [int(m.group(1)) for p in folder.glob("tune_*.*") if (m := re.fullmatch(r"tune_(\d+)\.\w+", p.name))]
    return max(numbers, default=0) + 1


def write_tune(tune: str, folder: Path, number: int, *, musicxml: bool = False, audio: tuple[str, str] | None = None) -> dict[str, Any]:
    """Write ``tune_NNN.abc`` and, when music21 reads it, ``.mid`` (and ``.musicxml``, ``.wav``).

    Returns the paths written and, for a tune music21 cannot read, the error.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"tune_{number:03d}"
    abc_path = stem.with_suffix(".abc")
    document = abc_document(tune, number)
    abc_path.write_text(document, encoding="utf-8")
    files: dict[str, Any] = {"abc": str(abc_path)}
    try:
        score = parse_abc(document)
        try:
            files["mid"] = _write(score, "midi", stem.with_suffix(".mid"))
        except Exception:  # music21 gives up on badly formed repeats and on some over-long bars
            score = _notes_only(score)
            files["mid"] = _write(score, "midi", stem.with_suffix(".mid"))
            files["note"] = "music21 could not write its repeats or bars as they are: the MIDI file plays the notes once, as written"
        if musicxml:
            files["musicxml"] = _write(score, "musicxml", stem.with_suffix(".musicxml"))
    except Exception as exc:  # a tune music21 cannot read keeps its .abc, so the user can see why
        files["error"] = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
        return files
    if audio is not None:
        files["wav"] = render_wav(Path(files["mid"]), stem.with_suffix(".wav"), *audio)
    return files


def _notes_only(score: Any) -> Any:
    """The notes and rests of a score in one flat stream, with its first time signature and key (no bars, no repeats)."""
    m21 = music21()
    flat = score.flatten()
    out = m21.stream.Stream()
    for cls in (m21.meter.TimeSignature, m21.key.KeySignature):
        if (first := flat.getElementsByClass(cls).first()) is not None:
            out.insert(0, copy.deepcopy(first))
    for element in flat.notesAndRests:
        out.insert(element.offset, copy.deepcopy(element))
    return out


def _write(score: Any, fmt: str, path: Path) -> str:
    with quiet():
        return str(score.write(fmt, fp=path))


def render_wav(midi: Path, wav: Path, program: str, font: str) -> str:
    """Render a MIDI file to 44.1 kHz WAV with fluidsynth."""
    cmd = [program, "-ni", "-F", str(wav), "-r", "44100", font, str(midi)]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise SeqtkError(
            f"fluidsynth could not render {midi}: {exc} {detail.decode(errors='replace').strip()[:300]}",
            fix="check that fluidsynth runs (fluidsynth --version) and that the soundfont is a valid .sf2 file",
        ) from None
    return str(wav)
