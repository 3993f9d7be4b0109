"""Recipe checks for the textgen task, run before any data is loaded."""

from __future__ import annotations

from seqtk import checks
from seqtk.errors import SeqtkError
from seqtk_plugins.textgen.config import TextGenData, TextGenModel


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


def check_model(model: TextGenModel) -> None:
    """Raise :class:`SeqtkError` for a ``[model]`` section that cannot be built."""
    from seqtk.encoders import LayerSpec, check_stack

    for key in ("num_layers", "hidden_size", "embedding_dim"):
        checks.at_least(f"model.{key}", getattr(model, key), 1)
    checks.dropout("model.dropout", model.dropout)
    if model.tie_weights and model.embedding_dim != model.hidden_size:
        raise SeqtkError(
            f"model.tie_weights needs embedding_dim = hidden_size, but they are "
            f"{model.embedding_dim} and {model.hidden_size}",
            fix=f"set model.embedding_dim = {model.hidden_size}, or tie_weights = false",
        )
    check_stack([LayerSpec(model.cell, model.hidden_size, dropout=model.dropout)] * model.num_layers)

