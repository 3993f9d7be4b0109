"""``seqtk.training.checkpoint``, the path before the areas became folders: the checkpoint file is now
:mod:`seqtk.inference.checkpoint` (training writes it, everything that uses a model reads it) and loading a
model back is :mod:`seqtk.inference.loading`. Code inside seqtk imports those modules."""

from seqtk.inference.checkpoint import (
    FORMAT, FOR_INFERENCE, FOR_RESUME, VERSION, code_globals, describe, load_checkpoint, require,
    save_checkpoint,
)
from seqtk.inference.loading import Changed, Loaded, load_for_inference, load_weights, recipe_changes

__all__ = ["Changed", "FORMAT", "FOR_INFERENCE", "FOR_RESUME", "Loaded", "VERSION", "code_globals", "describe", "load_checkpoint", "load_for_inference", "load_weights", "recipe_changes", "require", "save_checkpoint"]
