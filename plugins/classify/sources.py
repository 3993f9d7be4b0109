"""Where the classify task's labelled texts come from: ``data.source`` resolved and read.

``auto`` reads ``data.path`` when it is set (a folder of label subfolders, or
a table file) and otherwise the BBC News articles (:mod:`.folders`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from seqtk.errors import SeqtkError
from seqtk_plugins.classify.corpus import Corpus, Label, index_labels
from seqtk_plugins.classify.tables import TABLE_SUFFIXES

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from seqtk_plugins.classify.config import ClassifyData


def load_corpus(cfg: ClassifyData, console: Console | None = None) -> Corpus:
    """The corpus ``cfg`` selects, its labels indexing sorted label names."""
    from seqtk_plugins.classify import folders, tables

    source = resolve_source(cfg)
    if cfg.multi_label and source in ("bbc_news", "folder"):
        raise SeqtkError(
            f"data.multi_label = true, but data.path is a folder of label subfolders, which gives each text one label",
            fix="remove data.multi_label, or use a JSONL/parquet file whose label column holds lists",
        )

    def labeler(values: list[Any], where: str) -> tuple[list[Label], tuple[str, ...]]:
        return index_labels(values, cfg.multi_label, cfg.label_separator, where)

    if source == "bbc_news":
        return folders.bbc_news(console)
    path = Path(cfg.path).expanduser() if cfg.path else None
    if source == "folder":
        assert path is not None  # checked by resolve_source
        return folders.read_label_folders(path)
    if source == "file":
        assert path is not None
        corpus = tables.read_table(path, cfg, labeler)
    else:
        corpus = tables.load_hub(cfg, labeler)
    corpus.multi_label = cfg.multi_label
    return corpus


def resolve_source(cfg: ClassifyData) -> str:
    """The concrete source: ``auto`` becomes folder or file from ``data.path`` (bbc_news without one)."""
    if cfg.path is None:
        return "bbc_news" if cfg.source == "auto" else cfg.source
    path = Path(cfg.path).expanduser()
    if not path.exists():
        raise SeqtkError(
            f"data.path '{path}' does not exist",
            fix="check the path, or remove data.path to use the BBC News articles (fetched once)",
        )
    if cfg.source != "auto" or path.is_dir() or path.suffix.lower() in TABLE_SUFFIXES:
        return cfg.chosen_source()
    raise SeqtkError(
        f"cannot tell what kind of data '{path}' holds from its name",
        fix=f"use a {', '.join(TABLE_SUFFIXES)} file, a folder with one subfolder of .txt files per label, "
        "or set data.source",
    )
