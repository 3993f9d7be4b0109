"""seqtk.nn.ragged: running one layer over a right-padded batch (its padding invariance is tested through
StackedEncoder in test_encoders.py)."""

from __future__ import annotations

import warnings

from seqtk.nn import ragged


def test_the_weight_compaction_warning_is_silenced_only_where_seqtk_raises_it(monkeypatch):
    # seqtk's ragged bidirectional CUDA calls make cuDNN compact the reverse weights (expected, see
    # seqtk.nn.ragged); the filter must not hide the same warning from a user's own module
    message = ragged._WEIGHT_WARNING + " of memory."
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        monkeypatch.setattr(ragged, "_weight_warning_filtered", False)
        ragged._expect_weight_compaction()
        ragged._expect_weight_compaction()  # once: the filter list does not grow per call
        assert sum(1 for f in warnings.filters if f[1] is not None and ragged._WEIGHT_WARNING in f[1].pattern) == 1
        warnings.warn_explicit(message, UserWarning, "ragged.py", 1, module="seqtk.nn.ragged")
        warnings.warn_explicit(message, UserWarning, "train.py", 1, module="my_project.train")
        warnings.warn_explicit("another warning", UserWarning, "ragged.py", 2, module="seqtk.nn.ragged")
    assert [(str(w.message), w.filename) for w in seen] == [(message, "train.py"), ("another warning", "ragged.py")]
