"""minGRU and minLSTM: the fast training forms equal the paper's step-by-step equations."""

from __future__ import annotations

import pytest
import torch

from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.nn.lm import CharLM
from seqtk.nn.min_rnn import MinGRUCell, MinLSTMCell, g, g_prime, log_g, log_space_scan
from seqtk.runtime.summary import count_parameters

CELLS = [MinGRUCell, MinLSTMCell]
LENGTHS = torch.tensor([70, 3, 64, 1])  # 70 is past one 64-step chunk of the log-space scan


def _grads(loss, tensors):
    return torch.autograd.grad(loss, tensors)


@pytest.mark.parametrize("kind", CELLS)
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("with_state", [False, True])
def test_the_training_form_equals_the_step_by_step_equations(kind, dtype, tol, with_state):
    torch.manual_seed(0)
    cell = kind(5, 7).to(dtype)
    x = torch.randn(4, 70, 5, dtype=dtype, requires_grad=True)
    h0 = torch.randn(4, 7, dtype=dtype, requires_grad=True)
    state = (h0,) if with_state else None
    valid = (torch.arange(70) < LENGTHS.unsqueeze(1)).unsqueeze(-1)  # (B, T, 1)
    fast, (fast_h,) = cell(x, state, LENGTHS)
    ref, (ref_h,) = cell.scan_steps(x, state, LENGTHS)
    torch.testing.assert_close(fast * valid, ref * valid, atol=tol, rtol=0)
    torch.testing.assert_close(fast_h, ref_h, atol=tol, rtol=0)
    weights = torch.randn_like(fast)
    wrt = [x, *cell.parameters()] + ([h0] if with_state else [])
    got = _grads((fast * valid * weights).sum() + fast_h.square().sum(), wrt)
    want = _grads((ref * valid * weights).sum() + ref_h.square().sum(), wrt)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=tol * 10, rtol=0)


@pytest.mark.parametrize("kind", CELLS)
def test_the_log_space_scan_of_the_gpu_equals_the_steps(kind):
    torch.manual_seed(1)
    cell = kind(3, 6).double()
    x, h0 = torch.randn(2, 150, 3, dtype=torch.float64), torch.randn(2, 6, dtype=torch.float64)  # h0 of either sign
    log_a, log_b = cell.log_coefficients(cell.project(x))
    torch.testing.assert_close(log_space_scan(log_a, log_b, h0), cell.scan_steps(x, (h0,))[0], atol=1e-12, rtol=0)


def test_g_and_its_log_and_slope_are_the_papers():
    x = torch.linspace(-30, 30, 601, dtype=torch.float64)
    want = torch.where(x >= 0, x + 0.5, torch.sigmoid(x))
    torch.testing.assert_close(g(x), want)
    torch.testing.assert_close(log_g(x), want.log())
    x.requires_grad_(True)
    (slope,) = torch.autograd.grad(torch.where(x >= 0, x + 0.5, torch.sigmoid(x)).sum(), x)
    torch.testing.assert_close(g_prime(x.detach()), slope)


@pytest.mark.parametrize("cell, blocks", [("min_gru", 2), ("min_lstm", 3)])
def test_a_min_layer_has_no_recurrent_weights_and_trains_in_a_stack(cell, blocks):
    torch.manual_seed(0)
    enc = StackedEncoder(4, [LayerSpec(cell, 8, bidirectional=True), LayerSpec(cell, 6)])
    assert count_parameters(enc.layers[1]).total == blocks * 6 * (16 + 1)  # W (G·H, F) and b, no W_hh
    x, lengths = torch.randn(3, 9, 4), torch.tensor([9, 4, 2])
    out = enc(x, lengths)
    padded = enc(torch.cat([x, torch.randn(3, 5, 4)], dim=1), lengths)  # more padding changes no valid output
    valid = (torch.arange(9) < lengths.unsqueeze(1)).unsqueeze(-1)
    torch.testing.assert_close(out * valid, padded[:, :9] * valid, atol=1e-6, rtol=0)
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in enc.parameters())
    assert "scan" in enc.summary_rows()[0][1]


@pytest.mark.parametrize("cell", ["min_gru", "min_lstm"])
def test_a_char_lm_of_min_cells_generates_as_its_forward_reads(cell):
    torch.manual_seed(0)
    lm = CharLM(11, layers=[LayerSpec(cell, 16), LayerSpec(cell, 12)], embedding_dim=8).eval()
    out = lm.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=6, temperature=0)
    ids = torch.cat([torch.tensor([[1, 2, 3]]), out], dim=1)
    logits = lm(ids)[0]  # the full (parallel-scan) forward over prompt and generated text
    assert torch.equal(logits[0, 2:-1].argmax(-1), out[0])  # each generated token is the forward's argmax


@pytest.mark.parametrize("cell", ["min_gru", "min_lstm"])
def test_cpu_autocast_bf16_runs_the_scan_in_float32(cell):
    torch.manual_seed(0)
    enc = StackedEncoder(4, [LayerSpec(cell, 8)]).train()
    x = torch.randn(3, 6, 4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = enc(x)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.gpu
@pytest.mark.parametrize("cell", ["min_gru", "min_lstm"])
def test_cuda_runs_the_log_space_scan_and_equals_the_cpu_scan(cell):
    torch.manual_seed(0)
    enc = StackedEncoder(4, [LayerSpec(cell, 16, bidirectional=True), LayerSpec(cell, 8)]).double()
    x, lengths = torch.randn(3, 150, 4, dtype=torch.float64, requires_grad=True), torch.tensor([150, 70, 3])
    want = enc(x, lengths)
    want.square().sum().backward()
    grads = [p.grad.clone() for p in enc.parameters()]
    enc.zero_grad()
    gpu = enc.cuda()
    got = gpu(x.detach().cuda().requires_grad_(True), lengths.cuda())
    torch.testing.assert_close(got.cpu(), want, atol=1e-9, rtol=0)
    got.square().sum().backward()
    for p, g in zip(gpu.parameters(), grads):
        torch.testing.assert_close(p.grad.cpu(), g, atol=1e-8, rtol=1e-8)
