"""Tensors and numpy arrays given to ``Predictor.predict``, read the one way every task's
:meth:`~seqtk.tasks.task.Task.predict_inputs` reads them.

seqtk does not depend on numpy: an array is recognised by its type's module, and numpy is imported only
when one is given.

>>> as_tensor([1.0, 2.0]) is None, as_tensor(torch.ones(2, requires_grad=True)).requires_grad
(True, False)
"""

from __future__ import annotations

from typing import Any

import torch


def is_array(value: Any) -> bool:
    """Whether ``value`` is a torch tensor or a numpy array (not a numpy scalar, not a list)."""
    return isinstance(value, torch.Tensor) or (type(value).__module__ == "numpy" and type(value).__name__ == "ndarray")


def as_tensor(value: Any) -> torch.Tensor | None:
    """A tensor or numpy array as a CPU tensor that owns its memory (nothing the caller holds is changed
    or kept); None for anything else, and for numpy arrays of strings or objects, which hold no numbers."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if not is_array(value) or value.dtype.kind not in "biuf":  # bool, int, unsigned, float
        return None
    import numpy

    return torch.from_numpy(numpy.array(value, copy=True))
