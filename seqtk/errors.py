"""The one exception type users see.

Every error that is the user's to fix (a bad recipe, a missing file, a wrong
shape) is raised as :class:`SeqtkError` with two parts: what went wrong and
how to fix it. The CLI prints it as one paragraph and exits non-zero; a
traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SeqtkError(Exception):
    """A problem the user can fix.

    >>> str(SeqtkError("the file 'x.txt' does not exist", fix="check the path"))
    "the file 'x.txt' does not exist. Fix: check the path."
    """

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem.rstrip(".")
        self.fix = fix.rstrip(".") if fix else None
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.fix:
            return f"{_end(self.problem)} Fix: {_end(self.fix)}"
        return _end(self.problem)


def _end(sentence: str) -> str:
    """A full stop, unless the sentence already ends in ? or !.

    >>> _end("unknown section [modle]. Did you mean 'model'?")
    "unknown section [modle]. Did you mean 'model'?"
    """
    return sentence if sentence.endswith(("?", "!")) else sentence + "."


class SeqtkValueError(SeqtkError, ValueError):
    """A :class:`SeqtkError` that is also a ``ValueError`` (bad shapes, bad arguments)."""


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return a ``" Did you mean 'x'?"`` hint for the closest candidate, or ``""``.

    >>> suggest("max_step", ["max_steps", "seed"])
    " Did you mean 'max_steps'?"
    """
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""
