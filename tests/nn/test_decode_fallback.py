"""The fallback note and the fixes a refused fast route names."""

from __future__ import annotations

import warnings

from torch import nn

from seqtk.nn.decode_fallback import DecodeFallback, fallback_fix, warn_once


def test_the_note_comes_once_per_model_and_reason_at_the_callers_line():
    first, second = nn.Linear(1, 1), nn.Linear(1, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for model in (first, first, second):
            warn_once(model, "the X cell has no ONNX step")
        warn_once(first, "another reason")
    notes = [w for w in caught if issubclass(w.category, DecodeFallback)]
    assert [str(w.message) for w in notes] == ["generating with the eager PyTorch step: the X cell has no ONNX step"] * 2 + [
        "generating with the eager PyTorch step: another reason"]
    assert {w.filename for w in notes} == {__file__}  # the first frame outside seqtk/nn


def test_each_refusal_names_its_own_fix():
    assert "device='cpu'" in fallback_fix("the model is on cuda, and the onnxruntime step runs on the CPU", "int8")
    assert "pip install onnx onnxruntime" in fallback_fix("onnxruntime is not installed", None)
    assert "drop the int8 option" in fallback_fix("the PeepholeLSTMCell cell has no ONNX step", "int8")
    assert "route='auto' or 'eager'" in fallback_fix("the PeepholeLSTMCell cell has no ONNX step", None)
