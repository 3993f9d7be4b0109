"""What the tag task prints about its data: sentences, tokens and documents per split, tags, unseen words."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from seqtk_plugins.tag.batching import SentenceEncoder
    from seqtk_plugins.tag.splits import Splits

SPLITS = ("train", "val", "test")


def describe(splits: Splits, source: str, encoder: SentenceEncoder, scheme: str, console: Console) -> None:
    """A table of the splits, then the tag set, the vocabulary and the split's fingerprint."""
    from rich.table import Table

    table = Table(title=f"tag data: {source}", title_justify="left")
    for column in ("split", "documents", "sentences", "tokens", "unseen words"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for name in SPLITS:
        part = splits[name]
        tokens = sum(len(s.words) for s in part)
        docs = f"{len(splits.documents[name]):,}" if splits.documents else "-"
        unseen = "-" if name == "train" else f"{_oov_rate(part, encoder):.1%}"
        table.add_row(name, docs, f"{len(part):,}", f"{tokens:,}", unseen)
    console.print(table)
    tags = list(encoder.tag_index)
    shown = " ".join(tags[:40]) + (f" ... ({len(tags) - 40} more)" if len(tags) > 40 else "")
    scheme_text = "none (token accuracy only)" if scheme == "none" else f"{scheme} (span precision/recall/F1 as conlleval)"
    vocab = encoder.vocab
    for line in (
        f"tags ({len(tags)}): {shown}",
        f"chunk scheme: {scheme_text}",
        f"vocabulary: {vocab.num_known - 1:,} words{' (lowercased)' if encoder.lowercase else ''}, "
        f"{vocab.num_oov_buckets} OOV bucket(s); {encoder.char_vocab.num_known - 1:,} characters",
        f"split: {splits.how}, data.split_seed = {splits.seed}, fingerprint {splits.fingerprint()}",
    ):
        console.print(line, highlight=False, soft_wrap=True)


def _oov_rate(sentences: list, encoder: SentenceEncoder) -> float:
    """The fraction of tokens whose word falls in an OOV bucket."""
    total = oov = 0
    for s in sentences:
        ids = encoder.word_ids(s.words)
        total += len(ids)
        oov += sum(1 for i in ids if encoder.vocab.is_oov(i))
    return oov / max(total, 1)
