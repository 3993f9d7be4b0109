"""Checking generated tunes with music21: does a tune parse, and do its bars fill the metre?

A tune *parses* when music21 reads it without an error and finds at least
one note. Its bars are music21's measures, each compared with the bar length
of the metre the tune declares (its M: header and any M: change in the body;
not the odd time signature music21 invents to hold an over-long bar):

- an inner bar fills the metre when its notes add up to exactly one bar;
- two short bars in a row that add up to one bar both count as full (a bar
  split by a repeat or a double bar line: ``G2 G2 G :| G | ...``);
- the first and the last bar may be short (a pickup, and the bar that
  completes it) but not long.

The *bar-fill rate* pools the bars of every tune that parsed; tunes without a
metre add no bars. Known limits, from music21's measures: a bar exactly twice
the metre long becomes two full measures (two filled bars), and some tunes get
no measures at all (two bars closed by ``|]``, a bare ``|: ... :|``), so they
add no bars. Of music_folk's 100 sampled tunes none had zero measures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import re

from seqtk_plugins.music.m21 import music21, parse_abc
from seqtk_plugins.music.tunes import meter_fraction, normalise_meter

_TOLERANCE = 1e-6
_METER_FIELD = re.compile(r"(?m)(?:^M:|\[M:)([^\]\n]*)")


@dataclass(frozen=True)
class TuneCheck:
    """What music21 made of one tune."""

    parsed: bool
    bars: int = 0  #: bars checked against the metre
    filled: int = 0  #: of those, bars that fill it
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"parsed": self.parsed, "bars": self.bars, "filled_bars": self.filled, "error": self.error}


def abc_document(tune: str, number: int = 1, title: str = "") -> str:
    """A standalone ABC tune: ``X:`` and ``T:`` lines, then the normalised headers and body."""
    return f"X:{number}\nT:{title or f'seqtk tune {number}'}\n{tune.rstrip()}\n"


def check_tune(tune: str) -> TuneCheck:
    """Parse one normalised tune with music21 and count the bars that fill the metre."""
    bad = _unreadable_meter(tune)
    if bad is not None:  # music21 can take minutes over a metre like M:99/1, so such tunes never reach it
        return TuneCheck(parsed=False, error=f"unreadable metre M:{bad}")
    try:
        score = parse_abc(abc_document(tune))
        if not score.recurse().notes:
            return TuneCheck(parsed=False, error="no notes")
        bars, filled = count_bars(score, declared_meters(tune))
    except Exception as exc:  # music21 raises many kinds of error for bad ABC: every one means "does not parse"
        return TuneCheck(parsed=False, error=f"{type(exc).__name__}: {str(exc).strip()[:200]}")
    return TuneCheck(parsed=True, bars=bars, filled=filled)


def declared_meters(tune: str) -> list[Fraction]:
    """Bar lengths in quarter notes of the tune's M: header and M: changes, in order (none for M:none).

    >>> declared_meters("M:6/8\\nL:1/8\\nK:G\\nGAB c2d|[M:2/4]AB cd|]\\n")
    [Fraction(3, 1), Fraction(2, 1)]
    """
    meters = (meter_fraction(normalise_meter(m)) for m in _METER_FIELD.findall(tune))
    return [4 * m for m in meters if m is not None]


def _unreadable_meter(tune: str) -> str | None:
    """The first M: value that is not C, C| or n/d with n <= 32 and d a power of two up to 32; None if all are."""
    for value in _METER_FIELD.findall(tune):
        meter = normalise_meter(value)
        if meter is None and value.strip() == "none":
            continue
        if meter is None or (not meter.startswith("C") and not _sane_fraction(meter)):
            return value.strip()
    return None


def _sane_fraction(meter: str) -> bool:
    top, bottom = meter.split("/")
    return sum(int(n) for n in top.split("+")) <= 32 and int(bottom) in (1, 2, 4, 8, 16, 32)


def count_bars(score: Any, meters: list[Fraction]) -> tuple[int, int]:
    """(bars checked, bars that fill the metre) over every part of a music21 score."""
    m21 = music21()
    parts = list(score.parts) or [score]
    bars = filled = 0
    for part in parts:
        lengths = _bar_lengths(part, meters, m21)
        bars += len(lengths)
        filled += sum(bar_fills(lengths))
    return bars, filled


def _bar_lengths(part: Any, meters: list[Fraction], m21: Any) -> list[tuple[Fraction, Fraction]]:
    """(duration, bar length) of each measure, in quarter notes; none without a declared metre."""
    if not meters:
        return []
    out, current, pending = [], meters[0], list(meters[1:])
    for measure in part.getElementsByClass(m21.stream.Measure):
        sig = measure.timeSignature
        if sig is not None and pending and abs(Fraction(sig.barDuration.quarterLength) - pending[0]) < _TOLERANCE:
            current = pending.pop(0)  # a declared change, not a signature music21 made up for a long bar
        out.append((Fraction(measure.duration.quarterLength).limit_denominator(960), current))
    return out


def bar_fills(lengths: list[tuple[Fraction, Fraction]]) -> list[bool]:
    """Whether each bar counts as full, by the rules in the module docstring.

    >>> q = Fraction
    >>> bar_fills([(q(1, 2), q(3)), (q(3), q(3)), (q(5, 2), q(3)), (q(1, 2), q(3)), (q(2), q(3)), (q(3), q(3)), (q(5, 2), q(3))])
    [True, True, True, True, False, True, True]
    """
    full = [abs(d - bar) < _TOLERANCE for d, bar in lengths]
    last = len(lengths) - 1
    i = 1
    while i < last:
        d, bar = lengths[i]
        if not full[i] and i + 1 < last and d < bar and abs(d + lengths[i + 1][0] - bar) < _TOLERANCE:
            full[i] = full[i + 1] = True
            i += 1
        i += 1
    for end in {0, last} if lengths else ():
        d, bar = lengths[end]
        full[end] = 0 < d <= bar + _TOLERANCE
    return full


def summarise(checks: Iterable[TuneCheck]) -> dict[str, float]:
    """``parse_rate`` (tunes that parse) and ``bar_fill_rate`` (bars of parsed tunes that fill the metre).

    A rate with nothing to count is NaN.
    """
    checks = list(checks)
    parsed = [c for c in checks if c.parsed]
    bars = sum(c.bars for c in parsed)
    return {
        "parse_rate": len(parsed) / len(checks) if checks else float("nan"),
        "bar_fill_rate": sum(c.filled for c in parsed) / bars if bars else float("nan"),
    }
