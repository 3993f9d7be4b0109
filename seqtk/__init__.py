"""seqtk: recurrent sequence models (RNN, LSTM, GRU) with recipes, plugins and a CLI.

Importing seqtk has no side effects: it loads no plugin, touches no GPU and
does not even import torch until one of the public classes is used.

>>> from seqtk import Vocab, Embedding, StackedEncoder, CharLM  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Vocab": "seqtk.vocab",
    "Embedding": "seqtk.embedding",
    "StackedEncoder": "seqtk.encoders",
    "LayerSpec": "seqtk.encoders",
    "CharLM": "seqtk.lm",
    "Task": "seqtk.task",
    "run_training": "seqtk.training.train",
    "SeqtkError": "seqtk.errors",
    "load": "seqtk.predictor",
    "Predictor": "seqtk.predictor",
}

__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.embedding import Embedding
    from seqtk.encoders import LayerSpec, StackedEncoder
    from seqtk.errors import SeqtkError
    from seqtk.lm import CharLM
    from seqtk.predictor import Predictor, load
    from seqtk.task import Task
    from seqtk.training.train import run_training
    from seqtk.vocab import Vocab


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seqtk' has no attribute {name!r}")
