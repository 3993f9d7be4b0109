"""Recipe checks for the textgen task, run before any data is loaded."""

from __future__ import annotations

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
    _check_positive("data.seq_len", data.seq_len)
    _check_positive("data.block_chars", data.block_chars)
    if not 0 < data.val_fraction < 1 or not 0 <= data.test_fraction < 1:
        raise SeqtkError(
            f"data.val_fraction ({data.val_fraction}) must be in (0, 1) and data.test_fraction "
            f"({data.test_fraction}) in [0, 1)",
            fix="use e.g. val_fraction = 0.05 and test_fraction = 0.05",
        )
    if data.val_fraction + data.test_fraction > 0.5:
        raise SeqtkError(
            f"data.val_fraction + data.test_fraction = {data.val_fraction + data.test_fraction:g} leaves "
            "less than half of the text for training",
            fix="hold out at most half, e.g. 0.05 each",
        )


def check_model(model: TextGenModel) -> None:
    """Raise :class:`SeqtkError` for a ``[model]`` section that cannot be built."""
    from seqtk.encoders import LayerSpec, check_stack

    _check_positive("model.num_layers", model.num_layers)
    _check_positive("model.hidden_size", model.hidden_size)
    _check_positive("model.embedding_dim", model.embedding_dim)
    if not 0 <= model.dropout < 1:
        raise SeqtkError(f"model.dropout must be in [0, 1), not {model.dropout}", fix="use e.g. dropout = 0.1")
    if model.tie_weights and model.embedding_dim != model.hidden_size:
        raise SeqtkError(
            f"model.tie_weights needs embedding_dim = hidden_size, but they are "
            f"{model.embedding_dim} and {model.hidden_size}",
            fix=f"set model.embedding_dim = {model.hidden_size}, or tie_weights = false",
        )
    check_stack([LayerSpec(model.cell, model.hidden_size, dropout=model.dropout)] * model.num_layers)


def _check_positive(key: str, value: int) -> None:
    if value < 1:
        raise SeqtkError(f"{key} must be at least 1, not {value}", fix=f"set {key} to a positive integer")
