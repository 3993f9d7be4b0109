"""seqtk.nn.ragged: running one layer over a right-padded batch (its padding invariance is tested through
StackedEncoder in test_encoders.py)."""

from __future__ import annotations

import warnings

import pytest
import torch

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


@pytest.mark.parametrize("cell", ["gru", "rnn", "lstm"])
def test_inference_on_a_ragged_batch_packs_where_it_pays_and_gives_the_padded_routes_numbers(cell):
    from seqtk.nn.encoders import LayerSpec, StackedEncoder
    from seqtk.nn.ragged import packing_pays

    torch.manual_seed(0)
    encoder = StackedEncoder(5, [LayerSpec(cell, 6, bidirectional=True), LayerSpec(cell, 4, return_sequences=False)])
    encoder.eval()
    rnn = encoder.layers[0]
    x, lengths = torch.randn(8, 10, 5), torch.tensor([10, 2, 3, 4, 1, 6, 2, 5])  # 33 of 80 steps real
    full = torch.tensor([10, 10, 9, 10, 10, 10, 10, 10])
    with torch.no_grad():
        assert packing_pays(rnn, x, lengths) == (cell != "lstm")  # an LSTM's padded oneDNN kernel is faster
        assert not packing_pays(rnn, x, full)  # little padding: the padded route
        assert not packing_pays(rnn, x[:4], lengths[:4])  # few rows: the padded route
        packed = encoder(x, lengths)
    assert not packing_pays(rnn, x, lengths)  # training: never
    padded = encoder(x, lengths).detach()  # with gradients: the training route, padded
    assert (packed - padded).abs().max() < 1e-6
    with torch.no_grad():  # and each row as it would be alone
        alone = torch.cat([encoder(x[b : b + 1, : int(n)], lengths[b : b + 1]) for b, n in enumerate(lengths)])
    assert (packed - alone).abs().max() < 1e-6
