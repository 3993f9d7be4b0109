"""seqtk.nn.fast_rnn: equal to nn.GRU / nn.RNN (outputs, states, every gradient), padding, dispatch, state_dicts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqtk.errors import SeqtkValueError
from seqtk.nn import fast_rnn
from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.nn.fast_rnn import FastGRU, FastRNN, prefer_fast, run_direction, run_module, use_fast

MODULES = {
    "gru": lambda f, h, **kw: nn.GRU(f, h, batch_first=True, **kw),
    "rnn_tanh": lambda f, h, **kw: nn.RNN(f, h, batch_first=True, **kw),
    "rnn_relu": lambda f, h, **kw: nn.RNN(f, h, batch_first=True, nonlinearity="relu", **kw),
}
LENGTHS = [7, 3, 5, 1]


def grads_of(module: nn.Module, x: torch.Tensor, h0: torch.Tensor, run) -> list[torch.Tensor]:
    """Outputs, final state and the gradients of x, h0 and every parameter under a fixed loss."""
    for t in (x, h0, *module.parameters()):
        t.grad = None
    out, h_n = run(x, h0)
    (out.sin().sum() + (h_n * 1.7).cos().sum()).backward()
    return [out.detach(), h_n.detach(), x.grad, h0.grad] + [p.grad for p in module.parameters()]


@pytest.mark.parametrize("kind", list(MODULES))
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("shape", [(1, 1, 3, 4), (4, 9, 5, 6), (3, 17, 2, 8)], ids=["B1T1", "B4T9", "B3T17"])
def test_equals_torch_float32(kind, bidirectional, shape):
    batch, steps, features, hidden = shape
    torch.manual_seed(0)
    module = MODULES[kind](features, hidden, bidirectional=bidirectional)
    x = torch.randn(batch, steps, features, requires_grad=True)
    h0 = torch.randn(2 if bidirectional else 1, batch, hidden, requires_grad=True)
    want = grads_of(module, x, h0, module)
    got = grads_of(module, x, h0, lambda a, b: run_module(module, a, b))
    for name, g, w in zip(["out", "h_n", "x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"], got, want):
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5, msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("kind", list(MODULES))
@pytest.mark.parametrize("reverse", [False, True], ids=["ahead", "back"])
def test_gradcheck_float64(kind, reverse):
    torch.manual_seed(1)
    module = MODULES[kind](3, 4).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    weights = [p.detach().clone().requires_grad_(True) for p in module.parameters()]
    if kind == "rnn_relu":  # keep pre-activations away from relu's kink, where finite differences break
        x = (x.detach() + 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, h, *w: run_direction(module.mode, a, h, w, reverse), (x, h0, *weights))


def test_float64_matches_torch_tightly():
    torch.manual_seed(2)
    module = nn.GRU(4, 6, batch_first=True, bidirectional=True).double()
    x = torch.randn(3, 11, 4, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    for g, w in zip(grads_of(module, x, h0, lambda a, b: run_module(module, a, b)), grads_of(module, x, h0, module)):
        torch.testing.assert_close(g, w, atol=1e-12, rtol=0)


def make_encoder(cell: str, bidirectional: bool, dtype=torch.float64, **spec) -> StackedEncoder:
    torch.manual_seed(0)
    layers = [LayerSpec(cell, 6, bidirectional=bidirectional, **spec), LayerSpec(cell, 5, bidirectional=bidirectional)]
    return StackedEncoder(4, layers).to(dtype)


def padded(lengths: list[int], total: int, dtype=torch.float64) -> torch.Tensor:
    torch.manual_seed(3)
    batch = torch.randn(len(lengths), total, 4, dtype=dtype)
    for row, n in enumerate(lengths):
        batch[row, n:] = 10 * torch.randn(total - n, 4, dtype=dtype)  # loud padding
    return batch


@pytest.mark.parametrize("cell", ["gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("ragged", [True, False], ids=["lengths", "full"])
def test_encoder_fast_equals_torch_path(cell, bidirectional, ragged, monkeypatch):
    enc = make_encoder(cell, bidirectional)
    x = padded(LENGTHS, 8).requires_grad_(True)
    lengths = torch.tensor(LENGTHS) if ragged else None
    results = {}
    for switch in ("1", "0"):
        monkeypatch.setenv(fast_rnn.ENV_SWITCH, switch)
        enc.zero_grad()
        x.grad = None
        out, states = enc(x, lengths, return_state=True)
        (out.tanh().sum() + sum(s.sum() for s in states)).backward()
        results[switch] = [out, *states, x.grad] + [p.grad for p in enc.parameters()]
    for g, w in zip(results["1"], results["0"]):
        torch.testing.assert_close(g, w, atol=1e-10, rtol=0)


@pytest.mark.parametrize("cell", ["gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_padding_never_changes_valid_outputs_or_gradients(cell, bidirectional, monkeypatch):
    monkeypatch.setenv(fast_rnn.ENV_SWITCH, "1")
    enc = make_encoder(cell, bidirectional)
    tight = padded(LENGTHS, max(LENGTHS)).requires_grad_(True)
    loose = torch.cat([tight.detach(), 5 * torch.randn(len(LENGTHS), 9, 4, dtype=torch.float64)], 1).requires_grad_(True)
    lengths = torch.tensor(LENGTHS)
    seen = []
    for x in (tight, loose):
        out, states = enc(x, lengths, return_state=True)  # final state at each sequence's own length
        out[:, : max(LENGTHS)].sum().backward()
        seen.append((out, [out[:, : max(LENGTHS)], *states, x.grad[:, : max(LENGTHS)]]))
    for a, b in zip(seen[0][1], seen[1][1]):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=0)
    for row, n in enumerate(LENGTHS):  # padded steps: zero outputs, and no gradient reaches them
        assert seen[1][0][row, n:].abs().max() == 0 and loose.grad[row, n:].abs().max() == 0


def test_encoder_dispatches_to_fast_path_in_training_only(monkeypatch):
    calls = []
    real = fast_rnn.run_module
    monkeypatch.setattr(fast_rnn, "run_module", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setenv(fast_rnn.ENV_SWITCH, "1")
    enc = make_encoder("gru", False, dtype=torch.float32)
    x = torch.randn(2, 5, 4)
    enc(x)
    assert len(calls) == 2  # both layers: parameters require grad
    with torch.no_grad():
        enc(x)
    assert len(calls) == 2  # inference keeps PyTorch's fused forward
    monkeypatch.setenv(fast_rnn.ENV_SWITCH, "0")
    enc(x)
    assert len(calls) == 2  # the escape hatch


def test_use_fast_conditions(monkeypatch):
    monkeypatch.setenv(fast_rnn.ENV_SWITCH, "1")
    gru, x = nn.GRU(3, 4, batch_first=True), torch.randn(2, 5, 3)
    assert use_fast(gru, x)
    assert not use_fast(nn.LSTM(3, 4, batch_first=True), x)
    assert not use_fast(nn.GRU(3, 4), x)  # time-major modules keep PyTorch's path
    assert not use_fast(gru, x.half())
    gru.requires_grad_(False)
    assert not use_fast(gru, x)  # nothing needs a gradient
    assert use_fast(gru, x.requires_grad_(True))
    with torch.no_grad():
        assert not use_fast(gru, x)
    monkeypatch.setenv(fast_rnn.ENV_SWITCH, "0")
    assert not use_fast(gru, x)


def test_dispatch_rule():
    # the seeds' sentiment shapes and the bulk of the measured grid: fast
    assert prefer_fast("GRU", 64, 256, 64) and prefer_fast("GRU", 64, 64, 64)
    assert prefer_fast("RNN_TANH", 64, 256, 64) and prefer_fast("RNN_RELU", 32, 128, 128)
    assert not prefer_fast("LSTM", 64, 256, 64)
    assert prefer_fast("GRU", 1, 16, 512) and prefer_fast("GRU", 128, 512, 32)  # the grid's corners
    for mode in fast_rnn.MODES:  # a single step has no recurrence to save: PyTorch's kernels
        assert not prefer_fast(mode, 64, 1, 64)


def test_state_dicts_interchange_with_torch():
    torch.manual_seed(4)
    ours, theirs = FastGRU(3, 5, batch_first=True, bidirectional=True), nn.GRU(3, 5, batch_first=True, bidirectional=True)
    theirs.load_state_dict(ours.state_dict())
    ours.load_state_dict(theirs.state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = torch.randn(2, 6, 3, requires_grad=True)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], atol=1e-6, rtol=1e-6)
    rnn = FastRNN(3, 5, batch_first=True, nonlinearity="relu")
    assert list(rnn.state_dict()) == list(nn.RNN(3, 5).state_dict())
    keys = list(make_encoder("gru", True).state_dict())  # the encoder keeps nn.GRU's names: old checkpoints load
    assert "layers.0.weight_ih_l0" in keys and "layers.0.bias_hh_l0_reverse" in keys


def test_shape_errors_name_the_fix():
    gru = nn.GRU(3, 4, batch_first=True)
    with pytest.raises(SeqtkValueError, match=r"expected input of shape \(B, T, 3\), got \(2, 5\).*batch-first"):
        run_module(gru, torch.randn(2, 5))
    with pytest.raises(SeqtkValueError, match=r"h0 must have shape \(D, B, H\) = \(1, 2, 4\)"):
        run_module(gru, torch.randn(2, 5, 3), torch.zeros(2, 2, 4))
    with pytest.raises(SeqtkValueError, match="num_layers=1, batch_first=True"):
        run_module(nn.GRU(3, 4, num_layers=2, batch_first=True), torch.randn(2, 5, 3))


@pytest.mark.gpu
def test_encoder_keeps_cudnn_on_cuda(monkeypatch):
    monkeypatch.setenv(fast_rnn.ENV_SWITCH, "1")  # even when forced, CUDA stays on cuDNN
    enc = make_encoder("gru", True, dtype=torch.float32).cuda()
    x = torch.randn(4, 8, 4, device="cuda", requires_grad=True)
    assert not use_fast(enc.layers[0], x)
    called = []
    monkeypatch.setattr(fast_rnn, "run_module", lambda *a: called.append(1))
    monkeypatch.setattr(fast_rnn, "run_direction", lambda *a: called.append(1))
    enc(x, torch.tensor(LENGTHS, device="cuda")).sum().backward()
    assert not called and x.grad is not None


def test_the_layer_picks_its_kernel(monkeypatch):
    # LayerSpec.kernel, not the process: fused never takes seqtk's BPTT, fast takes it at every training shape
    from seqtk.nn.encoders import LayerSpec, StackedEncoder

    monkeypatch.delenv(fast_rnn.ENV_SWITCH, raising=False)
    x = torch.randn(2, 1, 4, requires_grad=True)  # T = 1: auto stays on PyTorch's kernel (prefer_fast)
    auto, fused, fast = (StackedEncoder(4, [LayerSpec("gru", 5, kernel=k)]).layers[0] for k in ("auto", "fused", "fast"))
    assert [fast_rnn.use_fast(m, x) for m in (auto, fused, fast)] == [False, False, True]
    long = torch.randn(2, 6, 4, requires_grad=True)
    assert [fast_rnn.use_fast(m, long) for m in (auto, fused, fast)] == [True, False, True]
    monkeypatch.setenv(fast_rnn.ENV_SWITCH, "0")  # the process-wide override reaches auto layers only
    assert [fast_rnn.use_fast(m, long) for m in (auto, fused, fast)] == [False, False, True]
    for spec, words in ((dict(cell="lstm", kernel="fast"), "exists for gru and rnn"),
                        (dict(cell="elman", kernel="fused"), "applies to the fused cells"),
                        (dict(cell="gru", kernel="cudnn"), "unknown kernel 'cudnn'")):
        with pytest.raises(SeqtkValueError, match=words):
            LayerSpec(hidden_size=4, **spec)
    text = StackedEncoder(4, [LayerSpec("gru", 5, kernel="fused")]).summary(show=False)
    assert "fused: cuDNN / ATen" in str(text.columns[1]._cells)


@pytest.mark.parametrize("mode", ["gru", "rnn"])
def test_cpu_autocast_bf16_runs_the_loop_in_float32(mode):
    # under torch.autocast("cpu", bfloat16) the input projection comes out in bf16; the hand-written loop
    # casts its inputs to float32 (custom_fwd) instead of failing on an in-place bf16/float addmm
    from seqtk.nn.encoders import LayerSpec, StackedEncoder

    torch.manual_seed(0)
    enc = StackedEncoder(4, [LayerSpec(mode, 8, kernel="fast")]).train()
    x = torch.randn(3, 6, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = enc(x)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
    torch.testing.assert_close(out, enc(x), atol=0.05, rtol=0.05)  # bf16 inputs, float32 recurrence
