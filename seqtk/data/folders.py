"""Reading a user's folder of data files by one stated rule, or refusing it with the fix.

A recipe's ``data.path`` may name a folder. Walking it without limits once
read a whole disk (``data.path=/``) and failed on an unrelated file deep
inside. The rule here: files whose names end in one of the given suffixes,
in the folder and its sub-folders at most :data:`MAX_DEPTH` levels down;
hidden files and folders (a leading dot) are skipped; symbolic links to
folders are not followed (no loops); at most :data:`MAX_FILES` matching
files and :data:`MAX_ENTRIES` entries looked at in all. A folder outside the
rule is refused before any file is read, with a one-paragraph error.

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> _ = (root / "a.txt").write_text("x"); (root / "b").mkdir(); _ = (root / "b" / "c.txt").write_text("y")
>>> [str(p.relative_to(root)) for p in data_files(root, (".txt",))]
['a.txt', 'b/c.txt']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from seqtk.errors import SeqtkError

#: sub-folder levels read below the folder itself
MAX_DEPTH = 4
#: matching files read from one folder
MAX_FILES = 10_000
#: directory entries looked at before giving up (a whole disk has millions)
MAX_ENTRIES = 200_000


def data_files(
    root: Path,
    suffixes: Sequence[str],
    what: str = "data.path",
    max_depth: int = MAX_DEPTH,
    max_files: int = MAX_FILES,
    max_entries: int = MAX_ENTRIES,
) -> list[Path]:
    """The files under ``root`` that the rule admits, sorted; :class:`SeqtkError` for a folder outside it."""
    kinds = "/".join(f"*{s}" for s in suffixes)
    rule = (f"seqtk reads {kinds} files in a folder and its sub-folders up to {max_depth} levels down, "
            f"at most {max_files:,} of them")
    found: list[Path] = []
    seen = 0
    for folder, dirs, names in os.walk(root, followlinks=False):
        depth = len(Path(folder).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        seen += len(dirs) + len(names)
        if depth == max_depth and dirs:
            deeper = Path(folder, dirs[0]).relative_to(root)
            raise SeqtkError(
                f"{what} '{root}' has sub-folders more than {max_depth} levels deep (e.g. '{deeper}'); {rule}",
                fix=f"point {what} at the folder that holds the text files, or at one file",
            )
        if seen > max_entries:
            raise SeqtkError(
                f"{what} '{root}' holds more than {max_entries:,} files and folders, which looks like a whole "
                f"disk or home folder rather than a data set; {rule}",
                fix=f"point {what} at the folder that holds the data files, or at one file",
            )
        found.extend(Path(folder, n) for n in names if n.endswith(tuple(suffixes)) and not n.startswith("."))
        if len(found) > max_files:
            raise SeqtkError(
                f"{what} '{root}' holds more than {max_files:,} {kinds} files; {rule}",
                fix=f"concatenate the files into fewer, larger ones, or point {what} at a smaller folder",
            )
    return sorted(f for f in found if f.is_file())
