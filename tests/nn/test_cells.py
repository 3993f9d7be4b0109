"""Reference cells: equal to the fused kernels, the lectures' equations, and their use in StackedEncoder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqtk.nn.cells import (
    REFERENCE_CELLS, ChoGRUCell, CoupledLSTMCell, ElmanCell, GRUCell, IRNNCell, LSTMCell, PeepholeLSTMCell,
    keras_init_,
)
from seqtk.errors import SeqtkValueError
from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.runtime.summary import count_parameters

LENGTHS = [6, 2, 4, 1]
FUSED = [
    (lambda: nn.RNN(3, 5, batch_first=True), ElmanCell),
    (lambda: nn.RNN(3, 5, batch_first=True, nonlinearity="relu"), ElmanCell),
    (lambda: nn.LSTM(3, 5, batch_first=True), LSTMCell),
    (lambda: nn.GRU(3, 5, batch_first=True), GRUCell),
]
IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def torch_grads(cell):
    """The cell's gradients mapped like its weights onto the PyTorch layout (gradients are linear in the map)."""
    ghost = type(cell)(cell.input_size, cell.hidden_size, cell.nonlinearity).double()
    with torch.no_grad():
        for p, q in zip(ghost.parameters(), cell.parameters()):
            p.copy_(q.grad)
    return dict(ghost.to_torch().named_parameters())


@pytest.mark.parametrize("make, kind", FUSED, ids=IDS)
def test_outputs_and_gradients_equal_the_fused_kernels(make, kind):
    torch.manual_seed(0)
    fused = make().double()
    cell = kind.from_torch(fused)
    x = torch.randn(4, 7, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 4, 5, dtype=torch.float64)
    start = (h0, torch.randn_like(h0)) if kind is LSTMCell else h0
    want, want_final = fused(x, start)
    got, got_final = cell(x, tuple(s[0] for s in start) if kind is LSTMCell else (h0[0],))
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    finals = want_final if kind is LSTMCell else (want_final,)
    for g, w in zip(got_final, finals):
        torch.testing.assert_close(g, w[0], atol=1e-5, rtol=0)
    weights = torch.randn_like(want)  # a loss that weighs every output differently
    (want * weights).sum().backward()
    want_dx, x.grad = x.grad, None
    (got * weights).sum().backward()
    torch.testing.assert_close(x.grad, want_dx, atol=1e-5, rtol=0)
    mapped = torch_grads(cell)
    for name, p in fused.named_parameters():
        if kind is not GRUCell and name == "bias_hh_l0":  # one bias: its gradient equals each of PyTorch's two
            torch.testing.assert_close(cell.bias.grad, p.grad, atol=1e-5, rtol=0)
            continue
        torch.testing.assert_close(mapped[name], p.grad, atol=1e-5, rtol=0, msg=name)


@pytest.mark.parametrize("make, kind", FUSED, ids=IDS)
def test_to_torch_round_trip_and_float32(make, kind):
    torch.manual_seed(1)
    cell = kind(3, 5, nonlinearity=getattr(make(), "nonlinearity", "tanh"))
    x = torch.randn(2, 5, 3)
    torch.testing.assert_close(cell.to_torch()(x)[0], cell(x)[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(kind.from_torch(cell.to_torch())(x)[0], cell(x)[0], atol=1e-6, rtol=0)


def test_from_torch_accepts_torch_cells_and_rejects_stacks():
    torch.manual_seed(2)
    torch_cell, x = nn.LSTMCell(3, 4), torch.randn(2, 3)
    h, (state_h, state_c) = LSTMCell.from_torch(torch_cell).step(x)
    want_h, want_c = torch_cell(x)
    torch.testing.assert_close(h, want_h)
    torch.testing.assert_close(state_c, want_c)
    with pytest.raises(SeqtkValueError, match="single-layer unidirectional nn.LSTM"):
        LSTMCell.from_torch(nn.LSTM(3, 4, num_layers=2))
    with pytest.raises(SeqtkValueError, match="single-layer unidirectional nn.GRU"):
        GRUCell.from_torch(nn.LSTM(3, 4))


@pytest.mark.parametrize("kind", [CoupledLSTMCell, ChoGRUCell])
def test_cells_without_a_pytorch_form_say_so(kind):
    with pytest.raises(SeqtkValueError, match="no exact PyTorch equivalent"):
        kind(2, 3).to_torch()
    with pytest.raises(SeqtkValueError, match="no exact PyTorch equivalent"):
        LSTMCell(2, 3, nonlinearity="relu").to_torch()


def test_peephole_lstm_equals_lstm_with_zero_peepholes_and_uses_them_otherwise():
    torch.manual_seed(3)
    lstm = nn.LSTM(3, 4, batch_first=True)
    cell, x = PeepholeLSTMCell.from_torch(lstm), torch.randn(2, 5, 3)
    torch.testing.assert_close(cell(x)[0], lstm(x)[0], atol=1e-6, rtol=0)
    with torch.no_grad():
        cell.peephole_o.fill_(0.5)
    assert (cell(x)[0] - lstm(x)[0]).abs().max() > 1e-3
    with pytest.raises(SeqtkValueError, match="non-zero peephole"):
        cell.to_torch()


def sig(t):
    return torch.sigmoid(t)


def test_peephole_equations_step_by_step():
    torch.manual_seed(4)
    cell = PeepholeLSTMCell(2, 3)
    x, h, c = torch.randn(1, 2), torch.randn(1, 3), torch.randn(1, 3)
    a = x @ cell.weight_ih.T + h @ cell.weight_hh.T + cell.bias
    ai, af, ag, ao = a.chunk(4, dim=1)
    i, f = sig(ai + cell.peephole_i * c), sig(af + cell.peephole_f * c)  # c_{t-1} feeds i and f
    c_new = f * c + i * torch.tanh(ag)
    o = sig(ao + cell.peephole_o * c_new)  # c_t feeds o
    got_h, (_, got_c) = cell.step(x, (h, c))
    torch.testing.assert_close(got_c, c_new)
    torch.testing.assert_close(got_h, o * torch.tanh(c_new))


def test_coupled_lstm_input_gate_is_one_minus_forget():
    torch.manual_seed(5)
    cell = CoupledLSTMCell(2, 3)
    x, h, c = torch.randn(1, 2), torch.randn(1, 3), torch.randn(1, 3)
    af, ag, ao = (x @ cell.weight_ih.T + h @ cell.weight_hh.T + cell.bias).chunk(3, dim=1)
    f = sig(af)
    c_new = f * c + (1 - f) * torch.tanh(ag)
    got_h, (_, got_c) = cell.step(x, (h, c))
    torch.testing.assert_close(got_c, c_new)
    torch.testing.assert_close(got_h, sig(ao) * torch.tanh(c_new))
    assert count_parameters(cell).total == 3 * (3 * 2 + 3 * 3 + 3)


def test_cho_gru_resets_before_the_matmul_and_uses_the_lectures_update_sense():
    torch.manual_seed(6)
    cell = ChoGRUCell(2, 3)
    x, h = torch.randn(1, 2), torch.randn(1, 3)
    u, w, b = cell.weight_ih.T, cell.weight_hh.T, cell.bias  # (F, 3H), (H, 3H), (3H,)
    r = sig(x @ u[:, 0:3] + h @ w[:, 0:3] + b[0:3])
    z = sig(x @ u[:, 3:6] + h @ w[:, 3:6] + b[3:6])
    g = torch.tanh(x @ u[:, 6:9] + (r * h) @ w[:, 6:9] + b[6:9])
    torch.testing.assert_close(cell.step(x, (h,))[0], (1 - z) * h + z * g)


def test_gru_update_gate_has_the_opposite_sense_to_pytorch():
    torch.manual_seed(7)
    gru = nn.GRU(2, 3)
    cell = GRUCell.from_torch(gru)
    torch.testing.assert_close(cell.weight_hh[3:6], -gru.weight_hh_l0[3:6].detach())  # z rows negated
    torch.testing.assert_close(cell.weight_hh[:3], gru.weight_hh_l0[:3].detach())


def test_lectures_two_step_elman_example():
    # batch 4, input 3, hidden 5: h0 = tanh(X0 U + b), h1 = tanh(X1 U + h0 W + b), b zeros
    torch.manual_seed(8)
    cell = ElmanCell(3, 5)
    with torch.no_grad():
        cell.bias.zero_()
    u, w = cell.weight_ih.T, cell.weight_hh.T  # U: [3, 5], W: [5, 5]
    x = torch.randn(4, 2, 3)
    h0 = torch.tanh(x[:, 0] @ u)
    h1 = torch.tanh(x[:, 1] @ u + h0 @ w)
    torch.testing.assert_close(cell(x)[0], torch.stack([h0, h1], dim=1))


def test_irnn_starts_with_identity_and_zero_bias():
    cell = IRNNCell(2, 4)
    assert torch.equal(cell.weight_hh, torch.eye(4)) and torch.equal(cell.bias, torch.zeros(4))
    assert cell.nonlinearity == "relu"


def test_step_equals_scan_and_lengths_freeze_the_state():
    torch.manual_seed(9)
    cell, x = PeepholeLSTMCell(3, 4), torch.randn(2, 5, 3)
    out, final = cell(x, lengths=torch.tensor([5, 2]))
    state = None
    for t in range(5):
        h, state = cell.step(x[:, t], state)
        rows = 2 if t < 2 else 1  # row 1 has 2 steps; its later outputs are padding
        torch.testing.assert_close(out[:rows, t], h[:rows])
        if t == 1:
            at_two = state
    for got, after_two, after_five in zip(final, at_two, state):  # h and c
        torch.testing.assert_close(got[1], after_two[1])  # row 1 stopped after its 2 steps
        torch.testing.assert_close(got[0], after_five[0])


def test_keras_parameter_count_and_init():
    # Keras LSTM(50) on 1 feature has 10,400 parameters: one bias per gate, as this cell keeps
    assert count_parameters(LSTMCell(1, 50)).total == 10_400 == count_parameters(nn.LSTM(1, 50), keras_style=True).total
    cell = keras_init_(LSTMCell(1, 50))
    assert torch.equal(cell.bias[50:100], torch.ones(50)) and cell.bias[:50].abs().max() == 0
    w = cell.weight_hh.T  # (H, 4H) with orthonormal rows
    torch.testing.assert_close(w @ w.T, torch.eye(50), atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------
# Reference cells inside StackedEncoder
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("cell", sorted(REFERENCE_CELLS))
def test_encoder_reference_cells_are_padding_invariant_bidirectional(cell):
    torch.manual_seed(10)
    layers = [LayerSpec(cell, 4, bidirectional=True), LayerSpec(cell, 3, bidirectional=True, return_sequences=False)]
    enc = StackedEncoder(2, layers).double().eval()
    batch = torch.randn(len(LENGTHS), 3 * max(LENGTHS), 2, dtype=torch.float64) * 10
    with torch.no_grad():
        out, states = enc(batch, torch.tensor(LENGTHS), return_state=True)
        for row, n in enumerate(LENGTHS):
            alone, alone_states = enc(batch[row : row + 1, :n], return_state=True)
            torch.testing.assert_close(out[row], alone[0], atol=1e-10, rtol=0)
            for got, want in zip(states, alone_states):
                for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
                    torch.testing.assert_close(g[:, row], w[:, 0], atol=1e-10, rtol=0)


def test_encoder_ref_lstm_equals_fused_bidirectional_lstm_on_ragged_batches():
    torch.manual_seed(11)
    fused = StackedEncoder(2, [LayerSpec("lstm", 4, bidirectional=True)]).double()
    ref = StackedEncoder(2, [LayerSpec("ref_lstm", 4, bidirectional=True)]).double()
    rnn = fused.layers[0]
    for d, cell in enumerate(ref.layers[0].directions):
        suffix = "_reverse" if d else ""
        with torch.no_grad():
            cell.weight_ih.copy_(getattr(rnn, f"weight_ih_l0{suffix}"))
            cell.weight_hh.copy_(getattr(rnn, f"weight_hh_l0{suffix}"))
            cell.bias.copy_(getattr(rnn, f"bias_ih_l0{suffix}") + getattr(rnn, f"bias_hh_l0{suffix}"))
    x, lengths = torch.randn(4, 6, 2, dtype=torch.float64), torch.tensor(LENGTHS)
    want, want_state = fused(x, lengths, return_state=True)
    got, got_state = ref(x, lengths, return_state=True)
    torch.testing.assert_close(got, want, atol=1e-10, rtol=0)
    for g, w in zip(got_state[0], want_state[0]):
        torch.testing.assert_close(g, w, atol=1e-10, rtol=0)


def test_layer_spec_names_and_nonlinearity_rules():
    assert LayerSpec("ref_lstm", 50, nonlinearity="relu").state_size == 2
    assert LayerSpec("cho_gru").state_size == 1
    with pytest.raises(SeqtkValueError, match="kernel: reference \\(the reference cell ref_lstm\\)"):
        LayerSpec("lstm", nonlinearity="relu")
    with pytest.raises(SeqtkValueError, match="Did you mean 'peephole_lstm'"):
        LayerSpec("pephole_lstm")
    enc = StackedEncoder(1, [LayerSpec("ref_lstm", 50)])
    assert count_parameters(enc, keras_style=True).total == count_parameters(enc).total == 10_400


def test_encoder_initial_state_for_reference_cells():
    torch.manual_seed(12)
    enc = StackedEncoder(2, [LayerSpec("coupled_lstm", 3)])
    x = torch.randn(2, 6, 2)
    whole, whole_state = enc(x, return_state=True)
    first, state = enc(x[:, :4], return_state=True)
    second, second_state = enc(x[:, 4:], state=state, return_state=True)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    with pytest.raises(SeqtkValueError, match=r"must be \(h, c\)"):
        enc(x, state=[torch.zeros(1, 2, 3)])
