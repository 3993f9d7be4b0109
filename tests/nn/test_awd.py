"""AWD-LSTM's weight-drop and locked dropout."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqtk.errors import SeqtkValueError
from seqtk.nn.awd import LockedDropout, WeightDrop, weight_drop_
from seqtk.nn.encoders import LayerSpec, StackedEncoder


def test_weight_drop_draws_one_mask_per_forward_and_the_fused_kernel_reads_it():
    torch.manual_seed(0)
    enc = StackedEncoder(3, [LayerSpec("lstm", 6, weight_drop=0.5)]).train()
    raw = enc.layers[0].parametrizations.weight_hh_l0.original
    masks = []

    def spy(module, inputs, output):
        masks.append(output.detach().clone())

    enc.layers[0].parametrizations.weight_hh_l0[0].register_forward_hook(spy)
    x = torch.randn(2, 5, 3)
    out = enc(x)
    assert len(masks) == 1  # parametrize.cached(): one draw for the whole forward
    dropped = masks[0]
    assert ((dropped == 0) | torch.isclose(dropped, raw * 2)).all() and (dropped == 0).any()
    plain = nn.LSTM(3, 6, batch_first=True)  # the same equations with the dropped matrix give the same output
    with torch.no_grad():
        for name, p in plain.named_parameters():
            p.copy_(dropped if name == "weight_hh_l0" else getattr(enc.layers[0], name))
    torch.testing.assert_close(out, plain(x)[0])
    out.sum().backward()
    assert raw.grad is not None and (raw.grad[dropped == 0] == 0).all()  # a dropped weight learns nothing this step


def test_weight_drop_is_off_in_eval_mode_and_the_state_dict_keeps_the_raw_weight():
    torch.manual_seed(0)
    enc = StackedEncoder(3, [LayerSpec("gru", 4, weight_drop=0.9, bidirectional=True)]).eval()
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(enc(x), enc(x))
    names = set(enc.state_dict())
    assert "layers.0.parametrizations.weight_hh_l0.original" in names
    assert "layers.0.parametrizations.weight_hh_l0_reverse.original" in names
    twin = StackedEncoder(3, [LayerSpec("gru", 4, weight_drop=0.9, bidirectional=True)]).eval()
    twin.load_state_dict(enc.state_dict())
    torch.testing.assert_close(twin(x), enc(x))


def test_weight_drop_in_training_with_ragged_lengths_uses_the_same_mask_for_both_directions_calls():
    # With ragged lengths a bidirectional layer runs each direction as its own kernel call (seqtk.nn.ragged):
    # both calls, and the backward pass, must read the one mask per matrix drawn for this training step.
    torch.manual_seed(0)
    enc = StackedEncoder(3, [LayerSpec("lstm", 4, weight_drop=0.5, bidirectional=True)]).train()
    layer, names = enc.layers[0], ("weight_hh_l0", "weight_hh_l0_reverse")
    masks: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for name in names:
        getattr(layer.parametrizations, name)[0].register_forward_hook(
            lambda module, inputs, output, name=name: masks[name].append(output.detach().clone()))
    x, lengths = torch.randn(3, 6, 3), torch.tensor([6, 2, 4])
    out = enc(x, lengths)
    assert [len(masks[name]) for name in names] == [1, 1]  # one draw per matrix for the whole step
    dropped = {name: masks[name][0] for name in names}
    plain = nn.LSTM(3, 4, batch_first=True, bidirectional=True)  # packed: the exact ragged reference
    with torch.no_grad():
        for name, p in plain.named_parameters():
            p.copy_(dropped[name] if name in dropped else getattr(layer, name))
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected = nn.utils.rnn.pad_packed_sequence(plain(packed)[0], batch_first=True, total_length=6)[0]
    torch.testing.assert_close(out, expected)  # each direction's call computed with its drawn mask
    out.square().sum().backward()
    for name in names:
        grad = getattr(layer.parametrizations, name).original.grad
        assert (dropped[name] == 0).any() and grad.abs().sum() > 0
        assert (grad[dropped[name] == 0] == 0).all(), name  # the backward pass used the same mask


def test_locked_dropout_keeps_one_mask_along_time_and_scales_it():
    torch.manual_seed(0)
    drop = LockedDropout(0.25).train()
    y = drop(torch.ones(64, 10, 32))
    assert (y == y[:, :1]).all()
    assert set(y.unique().tolist()) <= {0.0, torch.tensor(1 / 0.75).item()}
    assert abs(float((y == 0).float().mean()) - 0.25) < 0.03
    assert torch.equal(drop.eval()(y), y)
    enc = StackedEncoder(3, [LayerSpec("gru", 8, dropout=0.5, locked_dropout=True), LayerSpec("gru", 4)])
    assert isinstance(enc.dropouts[0], LockedDropout) and isinstance(enc.dropouts[1], nn.Identity)


def test_weight_drop_helper_leaves_a_module_alone_at_zero():
    rnn = nn.LSTM(2, 3)
    assert weight_drop_(rnn, 0.0) is rnn and not any(isinstance(m, WeightDrop) for m in rnn.modules())


@pytest.mark.parametrize(
    "spec, words",
    [
        ({"cell": "min_gru", "weight_drop": 0.3}, "weight_drop applies to the fused cells"),
        ({"cell": "lstm", "weight_drop": 1.0}, r"weight_drop must be in \[0, 1\)"),
        ({"cell": "lstm", "locked_dropout": "yes"}, "locked_dropout must be true or false"),
        ({"cell": "lstm", "heads": 2}, "heads applies to the xLSTM cells"),
    ],
)
def test_bad_regularisation_options_are_refused_with_the_fix(spec, words):
    with pytest.raises(SeqtkValueError, match=words):
        LayerSpec.from_any(spec)


def test_options_a_cell_would_silently_ignore_are_refused():
    with pytest.raises(SeqtkValueError, match="weight_drop applies to the fused cells"):
        LayerSpec.from_any({"cell": "lstm", "weight_drop": 0.5, "kernel": "reference"})  # a Python cell has no mask
    for cell in ("min_gru", "min_lstm", "mlstm"):
        with pytest.raises(SeqtkValueError, match=f"does not apply to {cell}"):
            LayerSpec.from_any({"cell": cell, "nonlinearity": "relu"})


def test_a_seq2seq_encoder_cannot_end_in_mlstm():
    from seqtk.config.model_config import EncoderDecoderConfig
    from seqtk.errors import SeqtkError

    with pytest.raises(SeqtkError, match="last layer is mlstm"):
        EncoderDecoderConfig(cell="mlstm", hidden_size=8, embedding_dim=6).check()


def test_embedding_dropout_drops_whole_words_scaled_as_merity():
    from seqtk.nn.awd import embedding_dropout

    torch.manual_seed(0)
    emb = nn.Embedding(7, 3)
    idx = torch.tensor([[0, 1, 2, 1], [3, 1, 4, 0]])
    torch.manual_seed(5)
    out = embedding_dropout(emb, idx, 0.4, training=True)
    torch.manual_seed(5)  # the same draw by hand: one Bernoulli(0.6) per row of the matrix, kept rows / 0.6
    keep = torch.empty(7, 1).bernoulli_(0.6)
    expected = (emb.weight * keep / 0.6)[idx]
    torch.testing.assert_close(out, expected)
    assert (keep == 0).any() and (keep == 1).any()  # the seed drops some words and keeps others
    dropped = (out == 0).all(-1)  # (B, T): a word is dropped everywhere in the batch or nowhere
    for word in idx.unique():
        assert dropped[idx == word].all() or not dropped[idx == word].any()
    assert torch.equal(embedding_dropout(emb, idx, 0.4, training=False), emb(idx))


def test_ar_tar_against_a_hand_computation():
    from seqtk.nn.awd import ar_tar

    raw = torch.tensor([[[1.0, 2.0], [3.0, 5.0]]])  # (B=1, T=2, H=2)
    dropped = torch.tensor([[[2.0, 0.0], [0.0, 4.0]]])
    # AR: 2 * mean(4, 0, 0, 16) = 10; TAR: 1 * mean((3-1)^2, (5-2)^2) = 6.5
    assert float(ar_tar(raw, dropped, alpha=2.0, beta=0.0)) == 10.0
    assert float(ar_tar(raw, dropped, alpha=0.0, beta=1.0)) == 6.5
    assert float(ar_tar(raw, dropped, alpha=2.0, beta=1.0)) == 16.5
    assert float(ar_tar(raw[:, :1], dropped[:, :1], alpha=0.0, beta=1.0)) == 0.0  # one step: no difference
