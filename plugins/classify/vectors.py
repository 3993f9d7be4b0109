"""Pretrained word vectors for the classify task: found before the data, copied into a fresh model's embedding.

``model.pretrained_vectors`` names a GloVe/word2vec text file or a set seqtk
fetches (:mod:`seqtk.text.vector_sets`). Both steps belong to a fresh
``seqtk run`` only, through the core's hooks: :func:`find` is the task's
``fetch_pretrained()`` (before the data are read, so a misspelt name or a
missing file costs no corpus read), :func:`load` its ``init_model()`` (after
``build_model()``). Resume, eval and predict take the trained table from the
checkpoint and never read the vectors, which may be gone by then.

The vector size is checked once: a named set's by the recipe checks (its size
is known without the file, so ``seqtk recipes validate`` catches it), a file's
here, from its first line, before the data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqtk.errors import SeqtkError
from seqtk.text.vector_sets import named, resolve

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from rich.console import Console
    from torch import nn

    from seqtk_plugins.classify.config import ClassifyModel


def find(model_cfg: ClassifyModel, console: Console) -> Path | None:
    """The vectors file ``model.pretrained_vectors`` names (a set is fetched and converted on first use),
    its vector size checked against ``model.embedding_dim``; None without pretrained vectors."""
    value = model_cfg.pretrained_vectors
    if not value:
        return None
    file = resolve(value, console)
    if named(value) is None:  # a named set's size was checked with the recipe
        check_size(file, model_cfg.embedding_dim)
    return file


def check_size(file: Path, embedding_dim: int) -> None:
    """Refuse a vectors file whose vectors are not ``embedding_dim`` long, naming the value that fits.

    >>> import tempfile, pathlib
    >>> glove = pathlib.Path(tempfile.mkdtemp()) / "g.txt"
    >>> _ = glove.write_text("rain 1 2 3\\n", encoding="utf-8")
    >>> check_size(glove, 4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    seqtk.errors.SeqtkError: the vectors in '...g.txt' have 3 dimensions but model.embedding_dim is 4. Fix: set model.embedding_dim = 3.
    """
    from seqtk.text.vectors import vector_file_dim

    dim = vector_file_dim(file)
    if dim != embedding_dim:
        raise SeqtkError(
            f"the vectors in '{file}' have {dim} dimensions but model.embedding_dim is {embedding_dim}",
            fix=f"set model.embedding_dim = {dim}",
        )


def load(model: nn.Module, file: Path, console: Console) -> None:
    """Copy the vectors of the model's vocabulary into its embedding (lowercase matches too), printing the
    coverage; a word the file lacks keeps its random start."""
    report = model.embedding.load_pretrained(file, lowercase=True)  # type: ignore[operator]
    console.print(f"pretrained vectors: {report}", highlight=False, soft_wrap=True)
