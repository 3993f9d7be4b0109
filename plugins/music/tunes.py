"""ABC tunes as text: splitting files into tunes, normalising headers and bodies.

A normalised tune keeps only the musical headers, in a fixed order, then the
body::

    R:jig            (only with data.keep_rhythm)
    M:6/8
    L:1/8
    K:Em
    E2F G2A|B2^A B^cd|...

Reference numbers (X:), titles (T:), sources, notes, comments (``%``),
directives (``%%``), lyrics and every other field are dropped. With
``simplify`` chord symbols, annotations, grace notes, decorations and slurs go
too, since they do not change which notes sound or how long. With
``unit_length = "1/8"`` every note length is rewritten for ``L:1/8`` (``A2``
under ``L:1/16`` becomes ``A``) in its shortest spelling (``A/`` becomes
``A/2``), so one symbol means one duration in every tune.
Tunes with several voices (V:) are skipped, as are, with ``require_meter``,
tunes without a metre.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

EIGHTH = Fraction(1, 8)
_FIELD_LINE = re.compile(r"^([A-Za-z]):(?![|:])\s*(.*)$")  # "B:|" is a note and a repeat, not a field
_INLINE_FIELD = re.compile(r"\[([A-Za-z]):([^\]\n]*)\]")
_STRIP_SPANS = re.compile(r'"[^"\n]*"|![^!\n]*!|\+[^+\n]*\+|\{[^}\n]*\}')
_STRIP_CHARS = re.compile(r"[H-Wh-w~.y`\\!$]|\((?!\d)|\)")
_LENGTH = re.compile(r"([_^=]*[A-Ga-g][,']*|[zx])(\d*(?:/+\d*)?)")
_CHORD = re.compile(r"\[([^\]|:\d][^\]|:]*)\](\d+(?:/+\d*)?|/+\d*)?")  # [CEG]2: the suffix scales every note
_KEY = re.compile(r"^\s*([A-Ga-g])([#b]?)\s*([A-Za-z]*)")
_METER = re.compile(r"^(C\|?|\d+(?:\+\d+)*/\d+)$")
_MODES = {"": "", "maj": "", "ion": "", "m": "m", "min": "m", "aeo": "m",
          "mix": "mix", "dor": "dor", "phr": "phr", "lyd": "lyd", "loc": "loc"}  # fmt: skip


@dataclass(frozen=True)
class RawTune:
    """One tune as written: its first title, header fields (first value each) and body lines."""

    title: str
    fields: dict[str, str]
    body: list[str]


class Skip(Exception):
    """A tune that normalisation leaves out; the message is the reason (counted, not shown per tune)."""


def split_tunes(text: str) -> list[RawTune]:
    """Every tune in the text of an .abc file (each starts at an ``X:`` line).

    >>> [t.title for t in split_tunes("% file header\\nX:1\\nT:A\\nK:G\\nGAB|\\n\\nX:2\\nT:B\\nK:D\\nDEF|\\n")]
    ['A', 'B']
    """
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    chunks = re.split(r"(?m)^X:.*$", text)
    chunks = chunks[1:] if len(chunks) > 1 else chunks  # text before the first X: is the file header
    return [tune for chunk in chunks if (tune := _read_tune(chunk)) is not None]


def _read_tune(chunk: str) -> RawTune | None:
    fields: dict[str, str] = {}
    lines = chunk.split("\n")
    for i, line in enumerate(lines):
        match = _FIELD_LINE.match(line.strip())
        if match is None:
            if not line.strip() or line.lstrip().startswith("%"):
                continue
            return None  # music before K: is not a tune
        letter, value = match.group(1), match.group(2).split("%", 1)[0].strip()
        fields.setdefault(letter, value)
        if letter == "K":
            body = []
            for rest in lines[i + 1 :]:
                if not rest.strip():  # an empty line ends the tune
                    break
                body.append(rest)
            return RawTune(fields.get("T", ""), fields, body)
    return None


def normalise(tune: RawTune, *, keep_rhythm: bool = False, unit_length: str = "1/8", simplify: bool = True,
              require_meter: bool = True) -> str:  # fmt: skip
    """The normalised text of ``tune``; raises :class:`Skip` with the reason when it is left out.

    >>> t = split_tunes("X:7\\nT:Jig\\nM:6/8\\nL:1/16\\nK:G major\\n\\"G\\"G4 {a}B2 d4|]\\n")[0]
    >>> print(normalise(t), end="")
    M:6/8
    L:1/8
    K:G
    G2 B d2|]
    """
    if "V" in tune.fields:
        raise Skip("several voices")
    meter = normalise_meter(tune.fields.get("M", ""))
    if meter is None and require_meter:
        raise Skip("no metre")
    key = normalise_key(tune.fields["K"])
    if key is None:
        raise Skip("unusual key")
    written = _unit(tune.fields.get("L", ""), meter)
    unit = EIGHTH if unit_length == "1/8" else written
    head = []
    if keep_rhythm and (rhythm := normalise_rhythm(tune.fields.get("R", ""))):
        head.append(f"R:{rhythm}")
    head += [f"M:{meter or 'none'}", f"L:{_fmt_unit(unit)}", f"K:{key}"]
    body = _Body(written, unit, simplify).lines(tune.body)
    if not any(_LENGTH.search(line) for line in body):
        raise Skip("no notes")
    return "\n".join(head + body) + "\n"


class _Body:
    """Cleans body lines one by one, following L: changes to rescale note lengths."""

    def __init__(self, written: Fraction, unit: Fraction, simplify: bool) -> None:
        self.written, self.unit, self.simplify, self.fixed = written, unit, simplify, unit == EIGHTH

    def lines(self, raw: list[str]) -> list[str]:
        out = []
        for line in raw:
            if line.lstrip().startswith("%"):
                continue
            text = self._field_line(line.split("%", 1)[0]) if _FIELD_LINE.match(line.strip()) else self._music(line.split("%", 1)[0])
            text = " ".join(text.split())
            if text:
                out.append(text)
        return out

    def _field_line(self, line: str) -> str:
        match = _FIELD_LINE.match(line.strip())
        assert match is not None
        return self._field(match.group(1), match.group(2).strip(), inline=False)

    def _field(self, letter: str, value: str, inline: bool) -> str:
        if letter == "V":
            raise Skip("several voices")
        if letter == "L" and (unit := _parse_unit(value)) is not None:
            self.written = unit
            if not self.fixed:
                self.unit = unit
                return f"[L:{_fmt_unit(unit)}]" if inline else f"L:{_fmt_unit(unit)}"
            return ""
        if letter == "M" and (meter := normalise_meter(value)) is not None:
            return f"[M:{meter}]" if inline else f"M:{meter}"
        if letter == "K" and (key := normalise_key(value)) is not None:
            return f"[K:{key}]" if inline else f"K:{key}"
        return ""  # other fields (lyrics, parts, tempo, notes) carry no notes

    def _music(self, line: str) -> str:
        parts, last = [], 0
        for match in _INLINE_FIELD.finditer(line):
            parts.append(self._notes(line[last : match.start()]))
            parts.append(self._field(match.group(1), match.group(2).strip(), inline=True))
            last = match.end()
        parts.append(self._notes(line[last:]))
        return "".join(parts)

    def _notes(self, text: str) -> str:
        if self.simplify:
            text = _STRIP_CHARS.sub("", _STRIP_SPANS.sub("", text))
        if self.written == self.unit and not self.fixed:
            return text
        factor = self.written / self.unit
        parts, last = [], 0
        for chord in _CHORD.finditer(text):  # a chord with a length scales once, by its suffix
            parts.append(_scale(text[last : chord.start()], factor))
            if chord.group(2):
                parts.append(f"[{chord.group(1)}]{format_length(parse_length(chord.group(2)) * factor)}")
            else:
                parts.append(f"[{_scale(chord.group(1), factor)}]")
            last = chord.end()
        parts.append(_scale(text[last:], factor))
        return "".join(parts)


def _scale(text: str, factor: Fraction) -> str:
    return _LENGTH.sub(lambda m: m.group(1) + format_length(parse_length(m.group(2)) * factor), text)


def parse_length(text: str) -> Fraction:
    """An ABC length suffix as a multiple of the unit: ``""`` 1, ``"3"`` 3, ``"/"`` 1/2, ``"3/2"``, ``"//"`` 1/4.

    >>> [str(parse_length(s)) for s in ("", "3", "/", "//", "/4", "3/2", "3/")]
    ['1', '3', '1/2', '1/4', '1/4', '3/2', '3/2']
    """
    num, _, rest = text.partition("/")
    value = Fraction(int(num) if num else 1)
    if not _:
        return value
    slashes = 1 + len(rest) - len(rest.lstrip("/"))
    digits = rest.lstrip("/")
    return value / (int(digits) if digits else 2**slashes)


def format_length(value: Fraction) -> str:
    """The shortest ABC suffix for a length: 1 -> ``""``, 1/2 -> ``"/2"``, 3/2 -> ``"3/2"``."""
    num = "" if value.numerator == 1 else str(value.numerator)
    return num if value.denominator == 1 else f"{num}/{value.denominator}"


def normalise_meter(value: str) -> str | None:
    """``"6/8"``, ``"C"``, ``"C|"`` as written (spaces dropped); None for none, free or unreadable metres."""
    value = "".join(value.split())
    return value if _METER.match(value) else None


def normalise_key(value: str) -> str | None:
    """Tonic plus a short mode: ``"G major"`` -> ``G``, ``"E minor"`` -> ``Em``, ``"A Dorian"`` -> ``Ador``.

    None for keys the task leaves out (``none``, bagpipe ``HP``, unknown modes).
    """
    match = _KEY.match(value)
    if match is None or value.strip().lower().startswith(("none", "hp")):
        return None
    tonic, accidental, mode = match.groups()
    mode = mode.lower()
    mode = "m" if mode == "m" else mode[:3]
    if mode not in _MODES:
        return None
    return tonic.upper() + accidental + _MODES[mode]


def normalise_rhythm(value: str) -> str:
    """The first of the R: values, lower case: ``"Jig"`` -> ``jig``, ``"Romanze, Ballade"`` -> ``romanze``."""
    return " ".join(value.split(",")[0].lower().split())


def meter_fraction(meter: str | None) -> Fraction | None:
    if not meter:
        return None
    if meter.startswith("C"):
        return Fraction(1)  # C is 4/4 and C| is 2/2
    top, bottom = meter.split("/")
    return Fraction(sum(int(n) for n in top.split("+")), int(bottom))


def _unit(value: str, meter: str | None) -> Fraction:
    """The L: unit as written, or ABC's default: 1/16 below a 3/4 metre, else 1/8."""
    unit = _parse_unit(value)
    if unit is not None:
        return unit
    fraction = meter_fraction(meter)
    return Fraction(1, 16) if fraction is not None and fraction < Fraction(3, 4) else EIGHTH


def _parse_unit(value: str) -> Fraction | None:
    try:
        unit = Fraction("".join(value.split()))
    except (ValueError, ZeroDivisionError):
        return None
    return unit if unit > 0 else None


def _fmt_unit(unit: Fraction) -> str:
    return f"{unit.numerator}/{unit.denominator}"
