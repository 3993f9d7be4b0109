"""seqtk: recurrent sequence models (RNN, LSTM, GRU) with recipes, plugins and a CLI.

Importing seqtk has no side effects: it loads no plugin, touches no GPU and
does not even import torch until one of the public classes is used.

>>> from seqtk import Vocab, Embedding, StackedEncoder, CharLM  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from os import path as _path
from typing import TYPE_CHECKING, Any

from seqtk.version import __version__

# The module paths from before the areas became folders (seqtk.vocab, seqtk.encoders, ...) live in _compat/,
# each the module that now holds the code: see seqtk/_compat/__init__.py.
__path__.append(_path.join(_path.dirname(__file__), "_compat"))

_LAZY = {
    "Vocab": "seqtk.text.vocab",
    "Embedding": "seqtk.nn.embedding",
    "StackedEncoder": "seqtk.nn.encoders",
    "LayerSpec": "seqtk.nn.encoders",
    "CharLM": "seqtk.nn.lm",
    "Task": "seqtk.tasks.task",
    "run_training": "seqtk.training.train",
    "SeqtkError": "seqtk.errors",
    "load": "seqtk.inference.predictor",
    "Predictor": "seqtk.inference.predictor",
}

__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.errors import SeqtkError
    from seqtk.inference.predictor import Predictor, load
    from seqtk.nn.embedding import Embedding
    from seqtk.nn.encoders import LayerSpec, StackedEncoder
    from seqtk.nn.lm import CharLM
    from seqtk.tasks.task import Task
    from seqtk.text.vocab import Vocab
    from seqtk.training.train import run_training


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seqtk' has no attribute {name!r}")
