"""StackedEncoder: padding invariance, states, stacking rules, input checks and summaries."""

from __future__ import annotations

import dataclasses
import io

import pytest
import torch
from rich.console import Console
from torch import nn

from seqtk.errors import SeqtkValueError
from seqtk.nn.encoders import LayerSpec, StackedEncoder, check_stack
from seqtk.runtime.summary import count_parameters, model_summary

LENGTHS = [7, 3, 5, 1]


def make_encoder(cell: str, bidirectional: bool, return_sequences: bool, dtype=torch.float64) -> StackedEncoder:
    torch.manual_seed(0)
    layers = [
        LayerSpec(cell, 6, bidirectional=bidirectional),
        LayerSpec(cell, 5, bidirectional=bidirectional, return_sequences=return_sequences),
    ]
    return StackedEncoder(4, layers).to(dtype).eval()


def padded_batch(lengths: list[int], total: int, dtype=torch.float64) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The sequences alone, and the batch right-padded with noise (never zeros) to ``total`` steps."""
    seqs = [torch.randn(n, 4, dtype=dtype) for n in lengths]
    batch = torch.randn(len(lengths), total, 4, dtype=dtype) * 10
    for row, seq in enumerate(seqs):
        batch[row, : len(seq)] = seq
    return seqs, batch


def state_row(state, row: int):
    # one sequence's slice of a per-layer state list
    return [tuple(t[:, row] for t in s) if isinstance(s, tuple) else s[:, row] for s in state]


def assert_states_close(got, want, atol: float) -> None:
    for g, w in zip(got, want):
        for a, b in zip(g if isinstance(g, tuple) else (g,), w if isinstance(w, tuple) else (w,)):
            torch.testing.assert_close(a, b, atol=atol, rtol=0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
def test_padding_does_not_change_outputs_or_states(cell, bidirectional, return_sequences):
    enc = make_encoder(cell, bidirectional, return_sequences)
    torch.manual_seed(1)
    seqs, batch = padded_batch(LENGTHS, 3 * max(LENGTHS))
    lengths = torch.tensor(LENGTHS)
    with torch.no_grad():
        out, states = enc(batch, lengths, return_state=True)  # LSTM states need the packed path
        torch.testing.assert_close(enc(batch, lengths), out, atol=1e-10, rtol=0)  # the path without states
        for row, seq in enumerate(seqs):
            alone, alone_states = enc(seq.unsqueeze(0), return_state=True)  # padded to its own length
            n = len(seq)
            if return_sequences:
                torch.testing.assert_close(out[row, :n], alone[0], atol=1e-10, rtol=0)
                assert out[row, n:].abs().max() == 0
            else:
                torch.testing.assert_close(out[row], alone[0], atol=1e-10, rtol=0)
            assert_states_close(state_row(states, row), state_row(alone_states, 0), atol=1e-10)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_padding_invariance_float32_fused_kernels(cell):
    # float32 runs oneDNN (LSTM) / native kernels; same sequence padded to its length and to 3x
    enc = make_encoder(cell, True, True, dtype=torch.float32)
    torch.manual_seed(2)
    seqs, tight = padded_batch(LENGTHS, max(LENGTHS), dtype=torch.float32)
    loose = torch.cat([tight, torch.randn(len(LENGTHS), 2 * max(LENGTHS), 4)], dim=1)
    lengths = torch.tensor(LENGTHS)
    with torch.no_grad():
        a, b = enc(tight, lengths), enc(loose, lengths)
    torch.testing.assert_close(a, b[:, : max(LENGTHS)], atol=1e-6, rtol=0)


def test_full_lengths_match_no_lengths():
    enc = make_encoder("lstm", True, True)
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    torch.testing.assert_close(enc(x, torch.tensor([6, 6, 6])), enc(x))


def test_gradients_do_not_reach_padding():
    enc = make_encoder("gru", True, False)
    _, batch = padded_batch(LENGTHS, 9)
    batch.requires_grad_(True)
    enc(batch, torch.tensor(LENGTHS)).sum().backward()
    for row, n in enumerate(LENGTHS):
        assert batch.grad[row, n:].abs().max() == 0
        assert batch.grad[row, :n].abs().max() > 0


def test_initial_state_and_carry_over_two_halves():
    enc = make_encoder("lstm", False, True)
    x = torch.randn(2, 8, 4, dtype=torch.float64)
    whole, whole_state = enc(x, return_state=True)
    first, state = enc(x[:, :5], return_state=True)
    second, second_state = enc(x[:, 5:], state=state, return_state=True)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
    assert_states_close(second_state, whole_state, atol=1e-12)


def test_bidirectional_initial_state_with_ragged_lengths_matches_packing():
    # the reversed-within-length path and the packed path agree when given an initial state
    enc = make_encoder("gru", True, True)
    _, batch = padded_batch(LENGTHS, 8)
    h0 = [torch.randn(2, 4, 6, dtype=torch.float64), torch.randn(2, 4, 5, dtype=torch.float64)]
    out = enc(batch, torch.tensor(LENGTHS), state=h0)
    alone = [enc(batch[i : i + 1, :n], state=[h[:, i : i + 1] for h in h0]) for i, n in enumerate(LENGTHS)]
    for row, (n, a) in enumerate(zip(LENGTHS, alone)):
        torch.testing.assert_close(out[row, :n], a[0], atol=1e-10, rtol=0)


def test_state_shapes():
    enc = StackedEncoder(3, [LayerSpec("lstm", 4, bidirectional=True), LayerSpec("gru", 5)])
    out, (lstm_state, gru_state) = enc(torch.randn(2, 6, 3), torch.tensor([6, 2]), return_state=True)
    assert out.shape == (2, 6, 5)
    assert [t.shape for t in lstm_state] == [(2, 2, 4), (2, 2, 4)]
    assert gru_state.shape == (1, 2, 5)
    with pytest.raises(SeqtkValueError, match=r"state for layer 2 \(gru, 5\) must be h with shape \(1, 2, 5\)"):
        enc(torch.randn(2, 6, 3), state=[None, torch.zeros(2, 2, 5)])
    with pytest.raises(SeqtkValueError, match="state has 1 entries but the encoder has 2 layers"):
        enc(torch.randn(2, 6, 3), state=[None])


def test_stacking_error_names_both_layers_and_the_fix():
    layers = [{"cell": "gru", "hidden_size": 64, "return_sequences": False}, {"cell": "gru", "hidden_size": 64}]
    with pytest.raises(SeqtkValueError) as info:
        check_stack(layers)
    assert str(info.value) == (
        "layer 2 (gru, 64) follows layer 1 (gru, 64), which has return_sequences=false, "
        "so it receives (B, 64) instead of (B, T, 64). "
        "Fix: set return_sequences=true on layer 1 (only the last layer may return one vector per sequence)."
    )
    with pytest.raises(SeqtkValueError, match="layer 3 .* follows layer 2 \\(lstm, 8, bidirectional\\).*\\(B, 16\\)"):
        StackedEncoder(4, [LayerSpec(), LayerSpec("lstm", 8, bidirectional=True, return_sequences=False), LayerSpec()])
    check_stack(layers[::-1])  # returning a vector from the last layer is fine
    with pytest.raises(SeqtkValueError, match="no layers"):
        check_stack([])


def test_layer_spec_errors_suggest_names():
    with pytest.raises(SeqtkValueError, match="unknown cell 'lstn'. Did you mean 'lstm'"):
        LayerSpec("lstn")
    with pytest.raises(SeqtkValueError, match="unknown layer option 'hiden_size'. Did you mean 'hidden_size'"):
        LayerSpec.from_any({"cell": "gru", "hiden_size": 3})
    with pytest.raises(SeqtkValueError, match="applies only to rnn cells"):
        LayerSpec("lstm", nonlinearity="relu")
    with pytest.raises(SeqtkValueError, match="dropout must be in"):
        LayerSpec(dropout=1.5)
    with pytest.raises(SeqtkValueError, match="hidden_size must be a positive integer"):
        LayerSpec(hidden_size=0)


def test_layer_spec_fields_have_help_and_from_any_round_trips():
    for f in dataclasses.fields(LayerSpec):
        assert f.metadata["help"]
    spec = LayerSpec("rnn", 3, nonlinearity="relu")
    assert LayerSpec.from_any(spec) is spec
    assert LayerSpec.from_any(dataclasses.asdict(spec)) == spec


def test_shape_errors_say_expected_and_actual():
    enc = StackedEncoder(4, [LayerSpec("gru", 3)])
    with pytest.raises(SeqtkValueError, match=r"expected input of shape \(B, T, 4\), got \(5, 4\).*time dimension"):
        enc(torch.randn(5, 4))
    with pytest.raises(SeqtkValueError, match=r"got \(2, 5, 3\).*input_size=3"):
        enc(torch.randn(2, 5, 3))
    with pytest.raises(SeqtkValueError, match=r"got \(2, 5\).*time or feature dimension"):
        enc(torch.randn(2, 5))
    scalar = StackedEncoder(1, [LayerSpec("gru", 3)])
    with pytest.raises(SeqtkValueError, match=r"unsqueeze\(-1\)"):
        scalar(torch.randn(2, 5))
    with pytest.raises(SeqtkValueError, match="floating-point"):
        enc(torch.ones(2, 5, 4, dtype=torch.long))


def test_lengths_errors():
    enc = StackedEncoder(4, [LayerSpec("gru", 3)])
    x = torch.randn(2, 5, 4)
    with pytest.raises(SeqtkValueError, match=r"shape \(2,\)"):
        enc(x, torch.tensor([5, 5, 5]))
    with pytest.raises(SeqtkValueError, match=r"lie in 1\.\.5.*from 0 to 5"):
        enc(x, torch.tensor([0, 5]))
    with pytest.raises(SeqtkValueError, match=r"lie in 1\.\.5.*from 2 to 6"):
        enc(x, torch.tensor([2, 6]))
    with pytest.raises(SeqtkValueError, match="integer tensor"):
        enc(x, torch.tensor([2.0, 5.0]))


def test_output_dim_and_input_size():
    assert StackedEncoder(3, [LayerSpec("lstm", 8)]).output_dim == 8
    enc = StackedEncoder(3, [LayerSpec("lstm", 8), LayerSpec("gru", 7, bidirectional=True)])
    assert (enc.output_dim, enc.input_size) == (14, 3)
    assert enc(torch.randn(2, 4, 3)).shape == (2, 4, 14)


def test_three_layer_mixed_stack():
    enc = StackedEncoder(
        4,
        [
            LayerSpec("lstm", 8, bidirectional=True, dropout=0.1),
            {"cell": "gru", "hidden_size": 6},
            LayerSpec("rnn", 5, bidirectional=True, nonlinearity="relu", return_sequences=False),
        ],
    ).double()
    assert [type(m) for m in enc.layers] == [nn.LSTM, nn.GRU, nn.RNN]
    assert enc.layers[1].input_size == 16 and enc.layers[2].input_size == 6
    _, batch = padded_batch(LENGTHS, 7)
    out = enc(batch, torch.tensor(LENGTHS))  # training mode: dropout on, backward works
    assert out.shape == (4, 10)
    out.sum().backward()
    enc.eval()
    with torch.no_grad():
        ragged = enc(batch, torch.tensor(LENGTHS))
        alone = torch.cat([enc(batch[i : i + 1, :n]) for i, n in enumerate(LENGTHS)])
    torch.testing.assert_close(ragged, alone, atol=1e-10, rtol=0)


def render(table) -> str:
    console = Console(file=io.StringIO(), width=200)
    console.print(table)
    return console.file.getvalue()


def test_parameter_counts_pytorch_and_keras():
    lstm = nn.LSTM(1, 50)
    assert count_parameters(lstm).total == 10_600
    assert count_parameters(lstm, keras_style=True).total == 10_400
    gru = nn.GRU(1, 50)  # Keras' default GRU (reset_after=True) also keeps two bias vectors
    assert count_parameters(gru, keras_style=True) == count_parameters(gru)
    assert count_parameters(nn.RNN(1, 50), keras_style=True).total == 50 * 51 + 50
    frozen = nn.Linear(2, 3).requires_grad_(False)
    assert (count_parameters(frozen).trainable, count_parameters(frozen).non_trainable) == (0, 9)


def test_encoder_summary_table():
    enc = StackedEncoder(1, [LayerSpec("lstm", 50, bidirectional=True), LayerSpec("lstm", 50, return_sequences=False)])
    text = render(enc.summary(show=False))
    assert "(B, T, 100)" in text and "(B, 50)" in text and "lstm (bidirectional)" in text
    total = count_parameters(enc).total
    assert f"Total params: {total:,}" in text and "Non-trainable params: 0" in text
    assert "Keras" not in text
    keras = enc.summary(keras_style=True, show=False)
    assert f"Total params: {total - 3 * 200:,}" in render(keras)  # three LSTM directions, 4 * 50 biases each
    assert "Keras" in keras.caption and f"PyTorch's own total: {total:,}" in keras.caption


def test_summary_of_any_module():
    one = model_summary(nn.LSTM(1, 50), keras_style=True)
    assert "10,400" in render(one) and "PyTorch's own total: 10,600" in one.caption
    text = render(model_summary(nn.Sequential(nn.Linear(4, 8), nn.ReLU())))
    assert "Linear" in text and "ReLU" in text and "Total params: 40" in text


@pytest.mark.gpu
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "ref_lstm"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("return_state", [False, True], ids=["outputs", "states"])
def test_cuda_matches_cpu_on_ragged_batches(cell, bidirectional, return_state):
    # cuDNN (or the reference cells on CUDA) must give the CPU's outputs, padding included; without
    # return_state a ragged bidirectional LSTM takes the two-call route, with it the packed one
    cpu = make_encoder(cell, bidirectional, True)
    gpu = make_encoder(cell, bidirectional, True).cuda()
    _, batch = padded_batch(LENGTHS, 9)
    lengths = torch.tensor(LENGTHS)
    expected, expected_states = cpu(batch, lengths, return_state=True)
    if return_state:
        got, states = gpu(batch.cuda(), lengths.cuda(), return_state=True)
    else:
        got, states = gpu(batch.cuda(), lengths.cuda()), []
    mask = (torch.arange(9)[None, :] < lengths[:, None])[..., None]  # padded steps are unspecified
    torch.testing.assert_close((got.cpu() * mask), (expected * mask), rtol=1e-9, atol=1e-9)
    for mine, theirs in zip(states, expected_states):  # final states at each row's true ends
        mine, theirs = (mine, theirs) if isinstance(mine, tuple) else ((mine,), (theirs,))
        for a, b in zip(mine, theirs):
            torch.testing.assert_close(a.cpu(), b, rtol=1e-9, atol=1e-9)


@pytest.mark.gpu
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_cuda_keeps_cudnn_and_no_weight_warning_reaches_the_user(cell):
    # Each direction of a ragged bidirectional layer is its own torch.lstm/gru/rnn call on half of the
    # module's flat weights. cuDNN must run them (fp32 and under bf16 autocast), and its note that it
    # compacts the reverse half's weights (measured cheaper than packing; see seqtk.nn.ragged) is
    # expected there, so it must not reach the user as a warning.
    import warnings

    from seqtk.nn import ragged

    enc = make_encoder(cell, True, False, dtype=torch.float32).train().cuda()
    x = torch.randn(4, 9, 4, device="cuda", requires_grad=True)
    lengths = torch.tensor(LENGTHS, device="cuda")
    with warnings.catch_warnings(record=True) as seen, pytest.MonkeyPatch.context() as patch:
        warnings.simplefilter("always")
        patch.setattr(ragged, "_weight_warning_filtered", False)  # so seqtk's filter goes in front of "always"
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            enc(x, lengths).sum().backward()
            with torch.autocast("cuda", dtype=torch.bfloat16):
                enc(x, lengths).float().sum().backward()
    copies = [str(w.message) for w in seen if "contiguous" in str(w.message) or "cudnn" in str(w.message).lower()]
    assert not copies, "a cuDNN weight warning reached the user"
    assert "aten::_cudnn_rnn" in {event.key for event in prof.key_averages()}


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_reference_kernel_runs_the_same_equations_as_a_python_cell(cell):
    # one recurrence, several kernels: kernel = "reference" swaps the fused kernel for seqtk.nn.cells' equations
    from seqtk.nn.cell_kinds import CellLayer
    from seqtk.nn.cells import REFERENCE_CELLS

    torch.manual_seed(0)
    fused = StackedEncoder(3, [LayerSpec(cell, 5)])
    ref = StackedEncoder(3, [LayerSpec(cell, 5, kernel="reference")])
    layer = ref.layers[0]
    assert isinstance(layer, CellLayer) and layer.cell == LayerSpec(cell, 5, kernel="reference").runs_as
    with torch.no_grad():
        layer.directions[0].load_state_dict(REFERENCE_CELLS[layer.cell].from_torch(fused.layers[0]).state_dict())
    x, lengths = torch.randn(4, 6, 3), torch.tensor([6, 3, 1, 5])
    torch.testing.assert_close(ref(x, lengths), fused(x, lengths), atol=1e-5, rtol=0)
    assert "reference: Python cell" in ref.summary_rows()[0][1]
    LayerSpec(cell, 5, kernel="reference", nonlinearity="relu")  # the fused kernels have tanh built in; a cell does not


def test_irnn_init_starts_a_fused_relu_rnn_at_the_identity_and_draws_no_random_numbers():
    """LayerSpec.init = "irnn" (Le et al. 2015) on the fused rnn: identity recurrent weights, zero biases, every
    direction; the input weights and any later module start as they would without it."""
    specs = [LayerSpec("rnn", 6, nonlinearity="relu", init="irnn", bidirectional=True), LayerSpec("rnn", 4)]
    torch.manual_seed(0)
    irnn = StackedEncoder(3, specs)
    after_irnn = torch.rand(1)
    torch.manual_seed(0)
    plain = StackedEncoder(3, [dataclasses.replace(specs[0], init="default"), specs[1]])
    assert torch.equal(after_irnn, torch.rand(1))
    first = irnn.layers[0]
    for direction in ("", "_reverse"):
        assert torch.equal(getattr(first, f"weight_hh_l0{direction}"), torch.eye(6))
        assert torch.equal(getattr(first, f"weight_ih_l0{direction}"), getattr(plain.layers[0], f"weight_ih_l0{direction}"))
        assert not getattr(first, f"bias_ih_l0{direction}").any() and not getattr(first, f"bias_hh_l0{direction}").any()
    assert torch.equal(irnn.layers[1].weight_hh_l0, plain.layers[1].weight_hh_l0)  # only the layer that asks


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cell": "gru", "init": "irnn"}, 'needs cell = "rnn" and nonlinearity = "relu"'),
        ({"cell": "rnn", "init": "irnn"}, 'nonlinearity = "tanh"'),
        ({"cell": "rnn", "nonlinearity": "relu", "init": "irnn", "kernel": "reference"}, 'use cell = "irnn"'),
        ({"cell": "rnn", "init": "irrn"}, "Did you mean 'irnn'"),
    ],
)
def test_layer_init_errors_say_what_irnn_needs(options, message):
    with pytest.raises(SeqtkValueError, match=message):
        LayerSpec.from_any(options)
