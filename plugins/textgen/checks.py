"""Recipe checks for the textgen task, run before any data is loaded."""

from __future__ import annotations

from seqtk.config import checks
from seqtk.errors import SeqtkError
from seqtk_plugins.textgen.config import TextGenData


def check_data(data: TextGenData) -> None:
    """Raise :class:`SeqtkError` for ``[data]`` values that cannot work."""
    from seqtk_plugins.textgen.corpus import check_work_names

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
