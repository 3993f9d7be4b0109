"""The layer-normalised LSTM and the LSTM with projections: equations, stacking and generation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqtk.errors import SeqtkValueError
from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.nn.lm import CharLM
from seqtk.nn.ln_lstm import LayerNormLSTMCell
from seqtk.nn.projected_lstm import ProjectedLSTMCell


def test_the_ln_lstm_step_is_ba_et_al_s_equations():
    torch.manual_seed(0)
    cell = LayerNormLSTMCell(3, 4).double()
    with torch.no_grad():
        for p in (cell.ln_x_gain, cell.ln_h_gain, cell.ln_c_gain, cell.ln_c_shift):
            p.uniform_(0.5, 1.5)
    x, h, c = (torch.randn(2, n, dtype=torch.float64) for n in (3, 4, 4))

    def ln(v, gain, shift=0.0):
        return (v - v.mean(-1, keepdim=True)) / torch.sqrt(v.var(-1, unbiased=False, keepdim=True) + 1e-5) * gain + shift

    gates = ln(x @ cell.weight_ih.t(), cell.ln_x_gain) + ln(h @ cell.weight_hh.t(), cell.ln_h_gain) + cell.bias
    i, f, g, o = gates.chunk(4, dim=1)
    c_want = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_want = torch.sigmoid(o) * torch.tanh(ln(c_want, cell.ln_c_gain, cell.ln_c_shift))
    h_got, (_, c_got) = cell.step(x, (h, c))
    torch.testing.assert_close(c_got, c_want)
    torch.testing.assert_close(h_got, h_want)


def test_ln_lstm_starts_as_layer_norm_does_and_counts_its_gains():
    cell = LayerNormLSTMCell(5, 6)
    assert torch.equal(cell.ln_x_gain, torch.ones(24)) and torch.equal(cell.ln_c_shift, torch.zeros(6))
    assert sum(p.numel() for p in cell.parameters()) == 4 * 6 * (5 + 6 + 1) + 24 + 24 + 6 + 6


def test_ln_lstm_trains_in_a_bidirectional_stack_and_padding_changes_nothing():
    torch.manual_seed(0)
    enc = StackedEncoder(3, [LayerSpec("ln_lstm", 5, bidirectional=True)])
    x, lengths = torch.randn(2, 6, 3), torch.tensor([6, 3])
    out = enc(x, lengths)
    longer = enc(torch.cat([x, torch.randn(2, 4, 3)], dim=1), lengths)
    valid = (torch.arange(6) < lengths.unsqueeze(1)).unsqueeze(-1)
    torch.testing.assert_close(out * valid, longer[:, :6] * valid)


def test_a_char_lm_of_ln_lstms_generates_as_its_forward_reads():
    torch.manual_seed(0)
    lm = CharLM(9, layers=[LayerSpec("ln_lstm", 12)], embedding_dim=6).eval()
    prompt = torch.tensor([[1, 2]])
    out = lm.generate(prompt, max_new_tokens=5, temperature=0)
    logits = lm(torch.cat([prompt, out], dim=1))[0]
    assert torch.equal(logits[0, 1:-1].argmax(-1), out[0])


def test_a_projected_lstm_layer_is_nn_lstm_with_proj_size_and_steps_the_same():
    torch.manual_seed(0)
    enc = StackedEncoder(4, [LayerSpec("lstm", 10, proj_size=3), LayerSpec("lstm", 6, proj_size=2, bidirectional=True)])
    assert enc.output_dim == 4 and enc.layers[0].proj_size == 3
    x, lengths = torch.randn(3, 7, 4), torch.tensor([7, 5, 2])
    out, finals = enc(x, lengths, return_state=True)
    assert out.shape == (3, 7, 4)
    assert [tuple(t.shape) for t in finals[0]] == [(1, 3, 3), (1, 3, 10)]  # h has P features, c keeps H
    again = enc(x, lengths, state=finals)  # a state the encoder returned goes back in
    assert again.shape == out.shape
    cell = ProjectedLSTMCell.from_torch(nn.LSTM(4, 10, proj_size=3, batch_first=True).double())
    fused = nn.LSTM(4, 10, proj_size=3, batch_first=True).double()
    cell = ProjectedLSTMCell.from_torch(fused)
    xs = torch.randn(2, 5, 4, dtype=torch.float64)
    torch.testing.assert_close(cell(xs)[0], fused(xs)[0])


def test_a_char_lm_with_projections_generates_as_its_forward_reads():
    torch.manual_seed(0)
    lm = CharLM(9, layers=[LayerSpec("lstm", 16, proj_size=8), LayerSpec("lstm", 12)], embedding_dim=6).eval()
    prompt = torch.tensor([[3, 1]])
    out = lm.generate(prompt, max_new_tokens=5, temperature=0)
    logits = lm(torch.cat([prompt, out], dim=1))[0]
    assert torch.equal(logits[0, 1:-1].argmax(-1), out[0])


@pytest.mark.parametrize(
    "spec, words",
    [
        ({"cell": "gru", "proj_size": 4}, "proj_size applies to lstm"),
        ({"cell": "lstm", "hidden_size": 8, "proj_size": 8}, "smaller than hidden_size"),
        ({"cell": "lstm", "proj_size": 4, "kernel": "reference"}, "fused LSTM only"),
        ({"cell": "lstm", "proj_size": -1}, "proj_size must be an integer"),
    ],
)
def test_impossible_projections_are_refused_before_any_module_is_built(spec, words):
    with pytest.raises(SeqtkValueError, match=words):
        LayerSpec.from_any(spec)
