"""The note generation gives when ``route="auto"`` cannot take its fast step, and the fix a refused route names.

``generate()`` on a cell without an ONNX step, or without onnxruntime, still works on the eager step: it says so
once per model and reason (:class:`DecodeFallback`, a ``UserWarning`` pointing at the caller's line). Asking for
the fast step outright (``route="onnx"``, int8 weights) refuses instead, with :func:`fallback_fix`'s fix.
"""

from __future__ import annotations

import os
import sys
import warnings
import weakref

from torch import nn


class DecodeFallback(UserWarning):
    """``route="auto"`` could not use the fast step and runs the eager one; the message says why."""


#: per model (weakly: the model still pickles and deep-copies)
_WARNED: weakref.WeakKeyDictionary[nn.Module, set[str]] = weakref.WeakKeyDictionary()


def fallback_fix(why: str, quantize: str | None) -> str:
    """The fix for a refused fast route, by why it could not run (``seqtk.nn.steppers``' reasons for not taking it) and
    the weights asked for (``quantize``: None or "int8")."""
    if "runs on the CPU" in why:
        return "load the model on the CPU (seqtk.load(..., device='cpu'), --device cpu) for int8 weights"
    if "not installed" in why:
        return "pip install onnx onnxruntime (they come with seqtk; a trimmed environment may lack them)"
    if quantize:
        return "drop the int8 option for this model; it decodes with float32 weights on the eager route"
    return "use route='auto' or 'eager', which step any cell on any device"


def warn_once(lm: nn.Module, why: str) -> None:
    """Warn (:class:`DecodeFallback`) that ``lm`` generates on the eager step because ``why``: once per model
    and reason."""
    warned = _WARNED.setdefault(lm, set())
    if why in warned:
        return
    warned.add(why)
    warnings.warn(f"generating with the eager PyTorch step: {why}", DecodeFallback, stacklevel=_caller_level())


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside ``seqtk/nn`` (the line that called ``generate()``): the note
    points at the user's code, however many of seqtk's own calls lie between."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == here:
        frame, level = frame.f_back, level + 1
    return level
