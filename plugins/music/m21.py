"""The one place that imports music21 (an optional dependency), quietly.

music21 is imported on first use, never when the plugin is imported, and its
absence is a :class:`SeqtkError` that says how to install it.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from seqtk.errors import SeqtkError

INSTALL = 'pip install "seqtk[music]"   (or: pip install music21)'


def music21() -> ModuleType:
    """The music21 module; raises :class:`SeqtkError` naming the extra when it is missing."""
    try:
        import music21 as m21
    except ImportError as exc:
        raise SeqtkError(f"the music task needs music21, which is not installed ({exc})", fix=INSTALL) from None
    return m21


def corpus_dir() -> Path:
    """The ``corpus`` folder inside the installed music21 package."""
    m21 = music21()
    return Path(m21.common.getCorpusFilePath())


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence music21's warnings and the notes it prints while parsing odd ABC."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def parse_abc(text: str) -> Any:
    """A music21 Score from ABC text; raises whatever music21 raises for bad ABC."""
    m21 = music21()
    with quiet():
        return m21.converter.parse(text, format="abc")


def parse_file(path: str | Path) -> Any:
    """A music21 stream from a file music21 can read (.mid, .musicxml, .abc)."""
    m21 = music21()
    with quiet():
        return m21.converter.parse(str(path))
