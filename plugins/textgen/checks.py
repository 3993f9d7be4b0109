"""Recipe checks for the textgen task, run before any data is loaded."""

from __future__ import annotations

from seqtk.config import checks
from seqtk.errors import SeqtkError
from seqtk_plugins.textgen.config import TextGenData, TextGenVocab


def check_data(data: TextGenData) -> None:
    """Raise :class:`SeqtkError` for ``[data]`` values that cannot work."""
    from seqtk_plugins.textgen.corpus import check_work_names

    if data.source != "auto" and (data.path or data.hf_dataset):
        given = "data.path" if data.path else "data.hf_dataset"
        raise SeqtkError(
            f'data.source = "{data.source}" and {given} are both set; the text can come from one source only',
            fix=f'remove {given} to read {data.source}, or set data.source = "auto" to read {given}',
        )
    checks.at_least("data.max_lines", data.max_lines, 0)

    if data.path and data.hf_dataset:
        raise SeqtkError(
            "data.path and data.hf_dataset are both set; the text can come from one source only",
            fix="remove one of them",
        )
    if data.works and data.corpus != "works":
        raise SeqtkError(
            f'data.works is set but data.corpus is "{data.corpus}", so the list would be ignored',
            fix='set data.corpus = "works", or remove data.works',
        )
    if data.corpus == "works" and not (data.path or data.hf_dataset):
        if not data.works:
            raise SeqtkError('data.corpus = "works" but data.works is empty', fix='list works, e.g. works = ["hamlet", "macbeth"]')
        check_work_names(data.works)
    checks.at_least("data.seq_len", data.seq_len, 1)
    checks.at_least("data.block_chars", data.block_chars, 1)
    checks.split_fractions(data.val_fraction, data.test_fraction, example=(0.05, 0.05))


def check_vocab(vocab: TextGenVocab, tokens: str) -> None:
    """Raise :class:`SeqtkError` for ``[vocab]`` values that cannot work, or that a character model would
    ignore (a word recipe run with ``data.tokens=bpe`` may keep its ``max_size``: the override chose bpe)."""
    checks.at_least("vocab.min_freq", vocab.min_freq, 1)
    checks.at_least("vocab.max_size", vocab.max_size, 1)
    checks.at_least("vocab.bpe_size", vocab.bpe_size, 10)
    defaults = TextGenVocab()
    for key, reader in (("max_size", "word"), ("bpe_size", "bpe")):
        if tokens == "char" and getattr(vocab, key) != getattr(defaults, key):
            raise SeqtkError(
                f'vocab.{key} is set but data.tokens = "{tokens}", which does not read it (only {reader} does)',
                fix=f'set data.tokens = "{reader}", or remove vocab.{key}',
            )
