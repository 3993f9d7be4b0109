"""Recipe files as text: reading TOML, ``key=value`` overrides, writing a resolved recipe back.

:mod:`seqtk.config.schema` maps the parsed dictionaries onto dataclasses; this module
only moves between text and plain dictionaries, each failure turned into a
:class:`~seqtk.errors.SeqtkError` that names the file, the line or the key.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from seqtk.config.schema import SECTIONS
from seqtk.errors import SeqtkError, suggest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML recipe, turning every failure into a clear :class:`SeqtkError`."""
    p = Path(path)
    if not p.exists():
        raise SeqtkError(f"recipe file '{p}' does not exist", fix="check the path; `seqtk recipes list` shows the bundled recipes")
    if p.is_dir():
        raise SeqtkError(f"'{p}' is a folder, not a recipe file", fix="pass a .toml file")
    _not_a_checkpoint(p)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SeqtkError(f"recipe file '{p}' is not UTF-8 text (byte {exc.start})", fix="save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SeqtkError(f"recipe file '{p}' is not valid TOML: {exc}", fix="correct the TOML syntax at the line and column named") from exc


def _not_a_checkpoint(p: Path) -> None:
    """A checkpoint given where a recipe belongs (``seqtk run last.pt``) is named as one, not as bad UTF-8."""
    try:
        with p.open("rb") as stream:
            head = stream.read(4)
    except OSError:
        return  # read_text says what is wrong
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):  # torch's zip format, or a pickle
        return
    run = p.parent.parent if p.parent.name == "checkpoints" else p.parent
    raise SeqtkError(
        f"'{p}' is a checkpoint (a binary file), not a recipe (a TOML text file)",
        fix=f"pass the recipe instead: a run keeps the one it trained with as {run / 'config.toml'} (seqtk run "
        f"{run / 'config.toml'} --resume {run} continues the run); seqtk eval, predict and generate take the "
        "checkpoint itself",
    )


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b=value``; the value is parsed as TOML, else kept as a string.

    >>> parse_override("train.lr=3e-4")
    (['train', 'lr'], 0.0003)
    >>> parse_override("data.path=/tmp/x.txt")
    (['data', 'path'], '/tmp/x.txt')
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise SeqtkError(
            f"cannot read the override '{text}'",
            fix="write overrides as section.key=value, e.g. train.max_steps=100",
        )
    try:
        parsed = tomllib.loads(f"v = {raw.strip()}")
    except tomllib.TOMLDecodeError:
        return key.split("."), raw.strip()
    if list(parsed) != ["v"]:  # "1\nx = 2": TOML reads a second key after the line break, which would be dropped
        raise SeqtkError(
            f"the override '{_shown(text)}' holds more than one value: after its line break TOML reads "
            f"{', '.join(k for k in parsed if k != 'v')}, which would be ignored",
            fix=f"give each override as its own key=value argument; a text over several lines goes in "
            f"triple quotes: {key}='''...'''",
        )
    return key.split("."), parsed["v"]


def _shown(text: str) -> str:
    """An override for a one-paragraph message: its line breaks written as \\n."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with ``key=value`` overrides applied."""
    out = _deep_copy(raw)
    for text in overrides:
        parts, value = parse_override(text)
        if parts[0] not in SECTIONS:
            raise SeqtkError(
                f"unknown recipe section '{parts[0]}' in the override '{text}'.{suggest(parts[0], SECTIONS)}",
                fix=f"use one of the sections {', '.join(SECTIONS)}, as in train.max_steps=100",
            )
        if len(parts) == 1:
            raise SeqtkError(f"the override '{text}' names a section, not a key", fix=f"write {parts[0]}.KEY=VALUE")
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SeqtkError(f"the override '{text}' goes inside '{part}', which is not a table", fix="override the whole value instead")
            node = child
        node[parts[-1]] = value
    return out


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deep_copy(v) for v in raw]
    return raw


# Writing TOML (the resolved config saved in every run directory)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_ESCAPES.get(c) or (f"\\u{ord(c):04x}" if _is_control(c) else c) for c in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\b": "\\b", "\f": "\\f"}


def _is_control(char: str) -> bool:
    """A character TOML allows neither in a string nor in a comment (a tab aside): U+0000-U+001F and U+007F."""
    return char < " " or char == "\x7f"


def _comment(header: str) -> str:
    """``header`` as TOML comment lines: an override's line break starts a new ``#`` line, and the other control
    characters, which TOML refuses even in a comment, are written as ``\\uXXXX``."""
    lines = header.rstrip("\n").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    shown = ("".join(f"\\u{ord(c):04x}" if _is_control(c) and c != "\t" else c for c in line) for line in lines)
    return "\n".join(line if line.startswith("#") else f"# {line}" for line in shown)


def to_toml(data: dict[str, Any], header: str = "") -> str:
    r"""Write recipe data (sections of scalars, lists, and arrays of tables) as TOML.

    ``None`` values are left out, which reads back as the default (``None``). The rest reads back as it was,
    whatever its strings hold, and so does the header, as comment lines:

    >>> print(to_toml({"data": {"label_separator": "\x1f"}}, header="# seqtk run r.toml data.path='''a\nb'''"), end="")
    # seqtk run r.toml data.path='''a
    # b'''
    <BLANKLINE>
    [data]
    label_separator = "\u001f"
    """
    lines = [_comment(header)] if header else []
    for section, body in data.items():
        scalars = {k: v for k, v in body.items() if v is not None and not _is_table_list(v)}
        tables = {k: v for k, v in body.items() if _is_table_list(v)}
        lines.append(f"\n[{section}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items())
        for key, items in tables.items():
            for item in items:
                lines.append(f"\n[[{section}.{key}]]")
                lines.extend(f"{k} = {_toml_value(v)}" for k, v in item.items() if v is not None)
    return "\n".join(lines).lstrip("\n") + "\n"


def _is_table_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, dict) for v in value)
