"""Where the tagged sentences come from: the Brown corpus, a file (plus val/test files), or a folder.

:func:`load_splits` reads the recipe's source and returns the three
:class:`~seqtk_plugins.tag.splits.Splits`:

- ``brown``: the corpus's 500 files, split by file and stratified by genre;
- a training file: ``data.val_path`` and ``data.test_path`` when given, the
  missing ones carved from it by sentence;
- a folder whose file names say their split (``*train*``; ``*dev*``,
  ``*val*`` or ``*testa*``; ``*test*`` or ``*testb*``), as UD treebanks and
  CoNLL-2003 ship: those files;
- any other folder: its files are documents, split like Brown's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from seqtk.errors import SeqtkError
from seqtk_plugins.tag.readers import ReadOptions, Sentence, read_file
from seqtk_plugins.tag.splits import Document, Splits, check_nonempty, first_documents, split_documents, split_sentences

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from seqtk_plugins.tag.config import TagData

#: split -> the pattern a file name matches in a folder of split files (checked in this order)
SPLIT_NAMES = {"train": re.compile(r"train"), "val": re.compile(r"dev|val|testa"), "test": re.compile(r"test")}
#: files of a document folder that are not documents
_NOT_DATA = re.compile(r"^(readme|license|licence|contents|cats\.txt|package\.json)|\.(md|pickle|pkl|py|json)$", re.I)


def read_options(cfg: TagData) -> ReadOptions:
    return ReadOptions(cfg.format, cfg.conllu_tag, cfg.word_column, cfg.tag_column, cfg.tokens_key, cfg.tags_key)


def load_splits(cfg: TagData, console: Console | None = None) -> tuple[Splits, str]:
    """The recipe's data, split; and a name for it (for reports)."""
    source = cfg.chosen_source()
    if source == "brown":
        from seqtk_plugins.tag.brown import brown_folder, read_brown

        folder = Path(cfg.path).expanduser() if cfg.path else brown_folder(console)
        _need_folder(folder, "data.path (a local Brown corpus folder)")
        documents = read_brown(folder, cfg.tags, cfg.max_documents)
        splits = split_documents(documents, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
        return splits, f"Brown corpus, {cfg.tags} tags"
    if not cfg.path:
        raise SeqtkError('data.source = "files" needs data.path', fix="set data.path to a tagged file or folder")
    path = Path(cfg.path).expanduser()
    if path.is_dir():
        return _folder_splits(path, cfg), str(path)
    _need_file(path, "data.path")
    return _file_splits(path, cfg), str(path)


def _file_splits(path: Path, cfg: TagData) -> Splits:
    options = read_options(cfg)
    given = {name: getattr(cfg, f"{name}_path") for name in ("val", "test")}
    fractions = {name: getattr(cfg, f"{name}_fraction") for name, p in given.items() if not p}
    sentences = read_file(path, options)
    if fractions and len(sentences) == 1:
        _one_sentence(path, options, sentences[0])
    parts = split_sentences(sentences, fractions, cfg.split_seed)
    for name, held in given.items():
        if held:
            _need_file(Path(held).expanduser(), f"data.{name}_path")
            parts[name] = read_file(Path(held).expanduser(), options)
    how = "by sentence" if fractions else "the given files"
    splits = Splits(parts["train"], parts["val"], parts["test"], how=how, seed=cfg.split_seed)
    check_nonempty(splits, f"{sum(len(p) for p in parts.values())} sentences", "sentences")
    return splits


def _one_sentence(path: Path, options: ReadOptions, sentence: Sentence) -> None:
    """A training file of one sentence cannot be split. Read as columns, a file of many lines without a blank
    line between sentences is one sentence (a plain text, or one sentence per line): say so, not that the
    train split came out empty."""
    from seqtk_plugins.tag.readers import detect_format, read_lines

    kind = options.format if options.format != "auto" else detect_format(path, read_lines(path))
    if kind != "columns" or len(sentence.words) < 2:
        return
    raise SeqtkError(
        f"the file '{path}', read as columns (one token and its tag per line, a blank line after each sentence), "
        f"is one sentence of {len(sentence.words):,} tokens: it has no blank line, so it cannot be split into "
        f"train, val and test (its first token '{sentence.words[0]}' got the tag '{sentence.tags[0]}')",
        fix="if each line is a sentence, write its tokens as word/TAG (data.format = \"slash\"); in a column file, "
        "put a blank line after each sentence; or give the held-out files as data.val_path and data.test_path",
    )


def _folder_splits(folder: Path, cfg: TagData) -> Splits:
    names = (p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    files = sorted(p for p in names if not _NOT_DATA.search(p.name))
    if not files:
        raise SeqtkError(f"the folder '{folder}' holds no data files", fix="point data.path at a tagged file or folder")
    named = _split_files(files)
    options = read_options(cfg)
    if named:
        if "train" not in named:
            raise SeqtkError(
                f"the folder '{folder}' has files named for {', '.join(named)} but none named *train*",
                fix="name the training file *train* (e.g. en-ud-train.conllu), or set data.path to it",
            )
        parts = {name: read_file(path, options) for name, path in named.items()}
        carve = {n: getattr(cfg, f"{n}_fraction") for n in ("val", "test") if n not in parts}
        parts |= {k: v for k, v in split_sentences(parts.pop("train"), carve, cfg.split_seed).items()}
        splits = Splits(parts["train"], parts["val"], parts["test"], how="the folder's split files", seed=cfg.split_seed)
        check_nonempty(splits, f"{sum(len(p) for p in parts.values())} sentences", "sentences")
        return splits
    documents = [Document(p.name, "", read_file(p, options)) for p in files]
    documents = first_documents(documents, cfg.max_documents)
    return split_documents(documents, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)


def _split_files(files: list[Path]) -> dict[str, Path]:
    """split -> file, for files whose names say their split; empty when none does."""
    found: dict[str, list[Path]] = {}
    for path in files:
        for name, pattern in SPLIT_NAMES.items():
            if pattern.search(path.name.lower()):
                found.setdefault(name, []).append(path)
                break
    for name, paths in found.items():
        if len(paths) > 1:
            raise SeqtkError(
                f"several files are named for the {name} split: {', '.join(p.name for p in paths)}",
                fix="keep one file per split in the folder, or set data.path, data.val_path and data.test_path",
            )
    return {name: paths[0] for name, paths in found.items()}


def _need_file(path: Path, key: str) -> None:
    if not path.is_file():
        raise SeqtkError(f"{key} '{path}' is not a file", fix=f"set {key} to a tagged file")


def _need_folder(path: Path, key: str) -> None:
    if not path.is_dir():
        raise SeqtkError(f"{key} '{path}' is not a folder", fix=f"set {key} to a folder, or remove it")


def tag_set(sentences: list[Sentence]) -> list[str]:
    """The distinct tags of ``sentences``, sorted."""
    return sorted({tag for s in sentences for tag in s.tags})
