"""xLSTM's sLSTM and mLSTM: the training forms equal the paper's step-by-step equations, in seqtk's stacks."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from seqtk.errors import SeqtkValueError
from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.nn.lm import CharLM
from seqtk.nn.traceable import LMStep
from seqtk.nn.xlstm import MLSTMCell, SLSTMCell
from seqtk.runtime.summary import count_parameters
from seqtk.testing import train_recipe
import seqtk

LENGTHS = torch.tensor([70, 3, 64, 1])  # 70 is past one 64-step chunk, and not a multiple of it
STEPS = 70


def _state(cell, batch, dtype):
    """A random initial state that a real sequence could reach (sLSTM's normaliser n is positive)."""
    parts = [torch.randn(batch, *shape, dtype=dtype) for shape in cell.state_shapes()]
    if isinstance(cell, SLSTMCell):
        parts[2] = parts[2].abs() + 0.5
    return tuple(p.requires_grad_(True) for p in parts)


def _cell(kind, dtype, chunk):
    cell = kind(5, 8, heads=2).to(dtype)
    if chunk:
        cell.chunk = chunk
    with torch.no_grad():  # gates away from their init, so that both branches of every max are taken
        cell.bias.add_(torch.randn_like(cell.bias))
    return cell


@pytest.mark.parametrize("kind, chunk", [(SLSTMCell, None), (MLSTMCell, None), (MLSTMCell, 16)],
                         ids=["slstm", "mlstm", "mlstm-chunk16"])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)], ids=["float64", "float32"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "initial-state"])
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
def test_the_training_form_equals_the_step_by_step_equations(kind, chunk, dtype, tol, with_state, ragged):
    torch.manual_seed(0)
    cell = _cell(kind, dtype, chunk)
    x = torch.randn(4, STEPS, 5, dtype=dtype, requires_grad=True)
    state = _state(cell, 4, dtype) if with_state else None
    lengths = LENGTHS if ragged else None
    valid = (torch.arange(STEPS) < (LENGTHS if ragged else torch.full((4,), STEPS)).unsqueeze(1)).unsqueeze(-1)
    fast, fast_final = cell(x, state, lengths)
    ref, ref_final = cell.scan_steps(x, state, lengths)
    torch.testing.assert_close(fast * valid, ref * valid, atol=tol, rtol=0)
    for a, b in zip(fast_final, ref_final):
        torch.testing.assert_close(a, b, atol=tol, rtol=0)
    weights = torch.randn_like(fast)
    finals = [torch.randn_like(part) for part in fast_final]
    wrt = [x, *cell.parameters(), *(state or ())]

    def loss(out, final):
        return (out * valid * weights).sum() + sum((f * w).sum() for f, w in zip(final, finals))

    got = torch.autograd.grad(loss(fast, fast_final), wrt)
    want = torch.autograd.grad(loss(ref, ref_final), wrt)
    for a, b in zip(got, want):  # a weight's gradient sums B·T terms: compared relative to its largest entry
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, atol=tol * 10 * max(1.0, float(b.abs().max())), rtol=0)


def test_slstm_equals_the_paper_with_a_dense_block_diagonal_matrix():
    """The per-head layout of weight_hh is the block-diagonal 4H × H matrix's blocks, nothing else."""
    torch.manual_seed(1)
    cell = SLSTMCell(3, 8, heads=4).double()
    size, d = 8, 2
    dense = torch.zeros(4 * size, size, dtype=torch.float64)  # gate-major rows, like weight_ih
    for head in range(4):
        rows = torch.cat([torch.arange(g * size + head * d, g * size + (head + 1) * d) for g in range(4)])
        dense[rows, head * d : (head + 1) * d] = cell.weight_hh.detach()[rows]
    x = torch.randn(2, 9, 3, dtype=torch.float64)
    h, c, n, m = (torch.zeros(2, size, dtype=torch.float64) for _ in range(4))
    outputs = []
    for t in range(9):  # the paper's equations (exponential input gate, sigmoid forget gate), written out
        i_raw, f_raw, z_raw, o_raw = (x[:, t] @ cell.weight_ih.detach().t() + cell.bias.detach() + h @ dense.t()).chunk(4, 1)
        m_new = torch.maximum(torch.log(torch.sigmoid(f_raw)) + m, i_raw)
        i, f = torch.exp(i_raw - m_new), torch.exp(torch.log(torch.sigmoid(f_raw)) + m - m_new)
        c, n, m = f * c + i * torch.tanh(z_raw), f * n + i, m_new
        h = torch.sigmoid(o_raw) * c / n
        outputs.append(h)
    torch.testing.assert_close(cell(x)[0], torch.stack(outputs, 1), atol=1e-12, rtol=0)


def test_the_stabiliser_cancels_mlstm_equals_its_unstabilised_equations():
    torch.manual_seed(2)
    cell = MLSTMCell(3, 6, heads=2).double()
    x = torch.randn(2, 12, 3, dtype=torch.float64)
    q, k, v, o, i_raw, log_f = cell.split(cell.project(x))
    C, n = torch.zeros(2, 2, 3, 3, dtype=torch.float64), torch.zeros(2, 2, 3, dtype=torch.float64)
    outputs = []
    for t in range(12):  # no m: i = exp(ĩ), f = σ(f̃), h̃ = C q / max(|nᵀq|, 1)
        i, f = torch.exp(i_raw[:, t])[..., None], torch.exp(log_f[:, t])[..., None]
        C = f[..., None] * C + i[..., None] * v[:, t, :, :, None] * k[:, t, :, None, :]
        n = f * n + i * k[:, t]
        h = (C @ q[:, t, ..., None]).squeeze(-1) / torch.clamp((n * q[:, t]).sum(-1).abs(), min=1)[..., None]
        outputs.append((torch.sigmoid(o[:, t]) * h).flatten(-2))
    want = torch.stack(outputs, 1)
    torch.testing.assert_close(cell.scan_steps(x)[0], want, atol=1e-12, rtol=0)
    torch.testing.assert_close(cell(x)[0], want, atol=1e-12, rtol=0)


def test_mlstm_trains_on_2048_steps_in_chunks():
    torch.manual_seed(3)
    cell = MLSTMCell(4, 16, heads=4)
    x = torch.randn(2, 2048, 4, requires_grad=True)
    out, (C, n, m) = cell(x, lengths=torch.tensor([2048, 1500]))
    out.square().mean().backward()
    assert out.shape == (2, 2048, 16) and C.shape == (2, 4, 4, 4)
    assert torch.isfinite(x.grad).all() and all(torch.isfinite(p.grad).all() for p in cell.parameters())


@pytest.mark.parametrize("cell", ["slstm", "mlstm"])
def test_an_xlstm_layer_trains_in_a_bidirectional_stack_and_ignores_padding(cell):
    torch.manual_seed(0)
    enc = StackedEncoder(4, [LayerSpec(cell, 16, heads=4, bidirectional=True), LayerSpec(cell, 8, heads=2)])
    x, lengths = torch.randn(3, 9, 4), torch.tensor([9, 4, 2])
    out, finals = enc(x, lengths, return_state=True)
    padded, padded_finals = enc(torch.cat([x, torch.randn(3, 5, 4)], dim=1), lengths, return_state=True)
    valid = (torch.arange(9) < lengths.unsqueeze(1)).unsqueeze(-1)
    torch.testing.assert_close(out * valid, padded[:, :9] * valid, atol=1e-6, rtol=0)  # more padding: no change
    for a, b in zip(finals, padded_finals):
        for p, q in zip(a, b):
            torch.testing.assert_close(p, q, atol=1e-6, rtol=0)
    alone = enc(x[1:2, :4])  # a row alone, unpadded, gives its padded-batch outputs
    torch.testing.assert_close(alone[0], out[1, :4], atol=1e-6, rtol=0)
    optimiser = torch.optim.Adam(enc.parameters(), lr=1e-2)
    target = torch.randn(3, 9, 8)
    losses = []
    for _ in range(15):
        loss = ((enc(x, lengths) - target).square() * valid).mean()
        optimiser.zero_grad()
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in enc.parameters())
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    kind = enc.summary_rows()[0][1]
    assert kind.startswith(cell) and enc.layers[0].directions[0].training_form in kind


def test_parameter_counts_are_the_equations():
    enc = StackedEncoder(10, [LayerSpec("slstm", 16, heads=4), LayerSpec("mlstm", 12, heads=3)])
    size, d = 16, 4  # sLSTM: W (4H × F), per head R (4d × d), b (4H)
    assert count_parameters(enc.layers[0]).total == 4 * size * 10 + 4 * (4 * d * d) + 4 * size
    # mLSTM: q, k, v, o (H × F each, + bias), scalar input and forget gates per head (F + 1 each); no recurrent weights
    assert count_parameters(enc.layers[1]).total == (4 * 12 + 2 * 3) * (16 + 1)
    assert not hasattr(enc.layers[1].directions[0], "weight_hh")


def test_heads_must_divide_hidden_size_and_only_xlstm_takes_them():
    for cell in ("slstm", "mlstm"):
        with pytest.raises(SeqtkValueError, match="divisible by heads"):
            LayerSpec(cell, 10, heads=4)
    with pytest.raises(SeqtkValueError, match="divisible by heads"):
        SLSTMCell(3, 10, heads=4)
    with pytest.raises(SeqtkValueError, match="heads applies to the xLSTM cells"):
        LayerSpec("lstm", 8, heads=2)
    with pytest.raises(SeqtkValueError, match="does not apply to mlstm"):  # refused by the spec, before any module
        LayerSpec("mlstm", 8, nonlinearity="relu")
    assert LayerSpec("slstm", 8, heads=2).state_size == 4


@pytest.mark.parametrize("cell", ["slstm", "mlstm"])
def test_a_char_lm_of_xlstm_cells_steps_as_its_forward_reads(cell):
    torch.manual_seed(0)
    lm = CharLM(11, layers=[LayerSpec(cell, 16, heads=2), LayerSpec(cell, 12, heads=3)], embedding_dim=8).eval()
    out = lm.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=8, temperature=0)
    ids = torch.cat([torch.tensor([[1, 2, 3]]), out], dim=1)
    with torch.no_grad():
        logits = lm(ids)[0]  # the training form over prompt and generated text
        assert torch.equal(logits[0, 2:-1].argmax(-1), out[0])  # each generated token is the forward's argmax
        step = LMStep(lm).eval()  # what seqtk export writes: one step at a time from the zero state
        state = step.zero_state(1)
        for t in range(ids.size(1)):
            stepped, *state = step(ids[:, t], *state)
            torch.testing.assert_close(stepped, logits[:, t], atol=1e-5, rtol=0)
    assert step.state_names() == (["h0", "c0", "n0", "m0", "h1", "c1", "n1", "m1"] if cell == "slstm"
                                  else ["c0", "n0", "m0", "c1", "n1", "m1"])


HAS_ONNX = all(importlib.util.find_spec(name) for name in ("onnx", "onnxscript", "onnxruntime"))
FORMATS = ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(not HAS_ONNX, reason="pip install 'seqtk[export]'"))]


@pytest.fixture(scope="module")
def xlstm_lm(tmp_path_factory):
    """A character model of one mLSTM and one sLSTM layer, trained for two steps."""
    folder = tmp_path_factory.mktemp("xlstm_lm")
    (folder / "t.txt").write_text("the quick brown fox jumps over the lazy dog.\n" * 20, encoding="utf-8")
    return train_recipe(
        folder, "lm", f'[task]\nname = "textgen"\n[data]\npath = "{folder / "t.txt"}"\nseq_len = 16\n'
        '[model]\nembedding_dim = 8\n[[model.layers]]\ncell = "mlstm"\nhidden_size = 8\nheads = 2\n'
        '[[model.layers]]\ncell = "slstm"\nhidden_size = 6\nheads = 2\n'
        '[train]\nmax_steps = 2\neval_every = 2\nbatch_size = 4\ndevice = "cpu"\n[log]\nprogress = false\n'
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_char_lm_of_xlstm_layers_exports_its_step(xlstm_lm, tmp_path, fmt):
    from seqtk.cli.main import main

    out = tmp_path / fmt
    # seqtk export runs the written file on other batch sizes than the traced one and compares it with LMStep
    assert main(["export", str(xlstm_lm), "--format", fmt, "--out", str(out)]) == 0
    p = seqtk.load(xlstm_lm, device="cpu")
    step = LMStep(p.model).eval()
    assert step.state_names() == ["c0", "n0", "m0", "h1", "c1", "n1", "m1"]
    ids = torch.tensor([[3, 4, 5, 6], [7, 8, 9, 3]])
    with torch.no_grad():
        logits = p.model(ids)[0]
        state = step.zero_state(2)
        for t in range(ids.size(1)):  # the exported file, stepped from the zero state, reads as the forward
            if fmt == "torchscript":
                got, *state = torch.jit.load(str(out / "model.pt"))(ids[:, t], *state)
            else:
                import onnxruntime

                session = onnxruntime.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
                feed = {"ids": ids[:, t].numpy(), **{n: s.numpy() for n, s in zip(step.state_names(), state)}}
                got, *state = (torch.as_tensor(a) for a in session.run(None, feed))
            torch.testing.assert_close(got, logits[:, t], atol=1e-5, rtol=0)


@pytest.mark.gpu
@pytest.mark.parametrize("cell", ["slstm", "mlstm"])
def test_cuda_training_form_equals_the_cpu(cell):
    from seqtk.nn.encoders import LayerSpec, StackedEncoder

    torch.manual_seed(0)
    enc = StackedEncoder(4, [LayerSpec(cell, 16, heads=2)]).double()
    x, lengths = torch.randn(2, 70, 4, dtype=torch.float64), torch.tensor([70, 9])
    want = enc(x, lengths)
    got = enc.cuda()(x.cuda(), lengths.cuda())
    torch.testing.assert_close(got.cpu(), want, atol=1e-9, rtol=0)
