"""Tokens of a normalised tune: characters, or folk-rnn-style ABC tokens.

``chars`` keeps every character, line breaks included. ``abc`` cuts a tune
into musical symbols, as folk-rnn does (but with each note's length inside its
token, so that ``^c'3/2`` is one token): a whole header line (``M:6/8``,
``K:Em``), an inline field (``[K:D]``), a note or rest with its length, a bar
line or repeat (``|``, ``||``, ``|:``, ``:|``, ``::``, ``|1``, ``:|2``,
``[2``, ``|]``), a tuplet (``(3``), a broken rhythm (``>``), a tie (``-``),
and chord brackets. Spaces and line breaks inside the body are dropped: they
do not change the music.

>>> AbcCodec().tokens("M:6/8\\nL:1/8\\nK:Em\\n|:E2F [GB]3/2>A/ (3Bcd|]\\n")
['M:6/8', 'L:1/8', 'K:Em', '|:', 'E2', 'F', '[', 'G', 'B', ']3/2', '>', 'A/', '(3', 'B', 'c', 'd', '|]']
>>> print(AbcCodec().text(['M:6/8', 'L:1/8', 'K:Em', 'E2', 'F', '|]']), end="")
M:6/8
L:1/8
K:Em
E2F|]
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^[RMLK]:")
_BODY_TOKEN = re.compile(
    r"\[[KLM]:[^\]\n]*\]"  # inline field
    r"|:\|\]|\|\]|\[\||:\|[12]?|\|:|::|\|\||\|[12]|\[[12]|\|"  # bar lines and repeats
    r"|\(\d(?::\d?)*"  # tuplet
    r"|[_^=]*[A-Ga-g][,']*\d*(?:/+\d*)?"  # note with its length
    r"|[zxZX]\d*(?:/+\d*)?"  # rest
    r"|\]\d*(?:/+\d*)?"  # chord end, with the chord's length
    r"|[<>]+|\S"  # broken rhythm; anything else, one character at a time
)


class CharCodec:
    """One token per character."""

    name = "chars"

    def tokens(self, text: str) -> list[str]:
        return list(text)

    def text(self, tokens: list[str]) -> str:
        return "".join(tokens)

    def header(self, letter: str, value: str) -> list[str]:
        """The tokens of a header line, e.g. ``K:G`` plus its line break."""
        return list(f"{letter}:{value}\n")


class AbcCodec:
    """Folk-rnn-style tokens: header lines, notes with lengths, bar lines."""

    name = "abc"

    def tokens(self, text: str) -> list[str]:
        out: list[str] = []
        in_header = True
        for line in text.split("\n"):
            if _HEADER.match(line):
                out.append(line.strip() if in_header else f"[{line.strip()}]")  # a key change mid-tune is inline
                in_header = in_header and not line.startswith("K:")
            else:
                out.extend(_BODY_TOKEN.findall(line))
        return out

    def text(self, tokens: list[str]) -> str:
        n = 0
        while n < len(tokens) and _HEADER.match(tokens[n]):
            n += 1
        body = _join([f"[{t}]" if _HEADER.match(t) else t for t in tokens[n:]])  # a header token mid-tune is a change
        return "\n".join(tokens[:n] + ([body] if body else [])) + "\n"

    def header(self, letter: str, value: str) -> list[str]:
        return [f"{letter}:{value}"]


def _join(tokens: list[str]) -> str:
    """Body tokens as text that reads back as the same tokens: a space (which ABC ignores, but
    for beaming) goes between two that would otherwise merge, e.g. ``|`` ``|1`` or ``d/2`` ``2``.

    >>> _join(["|", "|1", "d/2", "2", "e"])
    '| |1d/2 2e'
    """
    parts: list[str] = []
    for token in tokens:
        if parts and _BODY_TOKEN.findall(parts[-1] + token) != [parts[-1], token]:
            parts.append(" ")
        parts.append(token)
    return "".join(parts)


def make_codec(kind: str) -> CharCodec | AbcCodec:
    return AbcCodec() if kind == "abc" else CharCodec()
