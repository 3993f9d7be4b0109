"""Fast GRU and Elman RNN training on CPU: a hand-written BPTT in one autograd node per layer.

On CPU, PyTorch runs ``nn.GRU``/``nn.RNN`` as a C++ loop of small ATen ops
that autograd records one by one, so the backward pass replays ~15 tiny
nodes per time step and computes every weight gradient as T small GEMMs.
(LSTM has a fused oneDNN kernel; GRU and RNN have none. The fused GRU cell
``aten::_thnn_fused_gru_cell`` is CUDA-only in torch 2.13.) Here each layer
direction is one :class:`torch.autograd.Function`:

- the input projection of the whole sequence is one GEMM over all T·B rows;
- the forward recurrence writes into preallocated time-major buffers with
  ``out=``/in-place ops (GRU: 6 ops a step, RNN: 2) and keeps the gate
  activations;
- the backward runs the recurrence once (GRU: 3 ops a step, RNN: 2), the
  per-step gate derivatives being precomputed for all steps at once, and then
  computes every weight and bias gradient and the input gradient as single
  GEMMs/reductions over all T·B rows.

Outputs and gradients equal ``nn.GRU``/``nn.RNN`` (same equations, same
parameters ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``
and ``*_reverse``), so modules and checkpoints interchange.

:class:`~seqtk.nn.encoders.StackedEncoder` picks this path by itself
(:func:`use_fast`): on CPU, when autograd will need gradients, for float32/64,
at the shapes where it measured faster (:func:`prefer_fast`, figures in
``docs/performance.md``), unless the layer says otherwise: ``LayerSpec.kernel``
``fused`` turns it off, ``fast`` uses it at every shape (still CPU training
only). ``SEQTK_FAST_RNN=0``/``=1`` does the same for every ``auto`` layer of
the process. Double backward is not supported.

>>> gru = nn.GRU(3, 4, batch_first=True)
>>> x = torch.randn(2, 5, 3, requires_grad=True)
>>> out, h = run_module(gru, x)
>>> torch.allclose(out, gru(x)[0], atol=1e-6), tuple(h.shape)
(True, (1, 2, 4))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from seqtk.errors import SeqtkValueError

ENV_SWITCH = "SEQTK_FAST_RNN"  # "0": never, "1": at every shape, unset/"auto": the measured rule
MODES = ("GRU", "RNN_TANH", "RNN_RELU")
_DTYPES = (torch.float32, torch.float64)
_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
_ONEDNN_MIN_ROWS = 256  # below this MKL's GEMM was faster (fewer than ~256 T*B rows: call overhead)


# -- dispatch -------------------------------------------------------------------------------------
def prefer_fast(mode: str, batch: int, steps: int, hidden: int) -> bool:
    """The measured rule: is the hand-written layer faster than PyTorch's for this training shape?

    From ``bench/gru.py --grid`` (forward + backward of one layer, F = H, 1 thread, torch 2.13 CPU;
    ``docs/performance.md``): the hand-written path was faster at every measured training shape,
    batch 1-128 x hidden 32-512 x T 16-512 (GRU 1.1-3.3x, tanh RNN 1.2-3x; the gain is largest at
    small batches and long sequences, where PyTorch's per-step autograd overhead dominates, and
    shrinks toward 1.1x where large GEMMs dominate both). T = 1 has no recurrence to save and was
    not measured, so it stays on PyTorch's kernels.
    """
    return mode in MODES and steps >= 2


def use_fast(rnn: nn.RNNBase, x: Tensor) -> bool:
    """Should ``rnn`` (a single-layer, batch-first GRU/RNN) run through this module for input ``x``?

    The layer decides (``LayerSpec.kernel``, stored on the module as ``seqtk_kernel``): ``fused`` never,
    ``fast`` wherever this module applies, ``auto`` by the measured rule. ``SEQTK_FAST_RNN`` still overrides
    ``auto`` layers process-wide, for benchmarks that compare the two paths on unchanged recipes.
    """
    kernel = getattr(rnn, "seqtk_kernel", "auto")
    switch = os.environ.get(ENV_SWITCH, "auto").strip().lower() if kernel == "auto" else kernel
    if switch in ("0", "false", "off", "no", "fused") or rnn.mode not in MODES:
        return False
    if x.device.type != "cpu" or x.dtype not in _DTYPES or not torch.is_grad_enabled():
        return False
    if not (x.requires_grad or any(w.requires_grad for w in rnn._flat_weights if w is not None)):
        return False  # inference: PyTorch's fused forward loop is faster and saves nothing
    if rnn.num_layers != 1 or not rnn.batch_first or getattr(rnn, "proj_size", 0):
        return False
    if switch in ("1", "true", "on", "yes", "always", "fast"):
        return True
    return prefer_fast(rnn.mode, x.size(0), x.size(1), rnn.hidden_size)


# -- public entry points --------------------------------------------------------------------------
def run_module(rnn: nn.RNNBase, x: Tensor, h0: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """What ``rnn(x, h0)`` returns for a single-layer, batch-first ``nn.GRU``/``nn.RNN``, computed here.

    # x (B, T, F), h0 (D, B, H) or None -> out (B, T, D*H), h_n (D, B, H)
    """
    _check_module(rnn)
    _check_input(x, rnn.input_size)
    directions = 2 if rnn.bidirectional else 1
    if h0 is None:
        h0 = x.new_zeros(directions, x.size(0), rnn.hidden_size)
    elif tuple(h0.shape) != (directions, x.size(0), rnn.hidden_size):
        raise SeqtkValueError(
            f"h0 must have shape (D, B, H) = {(directions, x.size(0), rnn.hidden_size)}, got {tuple(h0.shape)}",
            fix="pass one initial state per direction and sequence, or None for zeros",
        )
    weights = rnn._flat_weights
    per = len(weights) // directions
    outs = [run_direction(rnn.mode, x, h0[d], weights[d * per : (d + 1) * per], reverse=d == 1) for d in range(directions)]
    finals = [outs[0][:, -1]] + ([outs[1][:, 0]] if directions == 2 else [])
    return (torch.cat(outs, dim=-1) if directions == 2 else outs[0]), torch.stack(finals)


def run_direction(mode: str, x: Tensor, h0: Tensor | None, weights: Sequence[Tensor | None], reverse: bool = False) -> Tensor:
    """One direction of a GRU/RNN layer: ``weights`` = (w_ih, w_hh[, b_ih, b_hh]) in PyTorch's layout.

    # x (B, T, F), h0 (B, H) or (1, B, H) or None -> out (B, T, H); reverse reads t = T-1 .. 0
    """
    if mode not in MODES:
        raise SeqtkValueError(f"unknown recurrent mode {mode!r}", fix=f"use one of {', '.join(MODES)}")
    w_ih, w_hh = weights[0], weights[1]
    b_ih, b_hh = (weights[2], weights[3]) if len(weights) == 4 else (None, None)
    _check_input(x, w_ih.size(1))
    hidden = w_hh.size(1)
    if h0 is None:
        h0 = x.new_zeros(x.size(0), hidden)
    h0 = h0.reshape(x.size(0), hidden)
    if b_ih is None:  # bias=False modules: zero biases that need no gradient
        b_ih, b_hh = w_ih.new_zeros(w_ih.size(0)), w_hh.new_zeros(w_hh.size(0))
    xt = x.transpose(0, 1)  # (B, T, F) -> (T, B, F)
    xt = (xt.flip(0) if reverse else xt).contiguous()  # free when x is an earlier layer's (T, B, H) output
    fn = _GRUFunction if mode == "GRU" else _RNNFunction
    args: tuple[Any, ...] = (xt, h0, w_ih, w_hh, b_ih, b_hh) + (() if mode == "GRU" else (mode == "RNN_RELU",))
    out = fn.apply(*args)  # (T, B, H)
    return (out.flip(0) if reverse else out).transpose(0, 1)  # (T, B, H) -> (B, T, H)


class FastGRU(nn.GRU):
    """``nn.GRU`` (same parameters and ``state_dict``) whose training forward on CPU runs :func:`run_module`."""

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Any:  # type: ignore[override]
        # (B, T, F) -> (B, T, D*H), (D, B, H)
        if isinstance(x, Tensor) and x.dim() == 3 and use_fast(self, x):
            return run_module(self, x, hx)
        return super().forward(x, hx)


class FastRNN(nn.RNN):
    """``nn.RNN`` (tanh or relu; same parameters and ``state_dict``) with the fast CPU training path."""

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Any:  # type: ignore[override]
        # (B, T, F) -> (B, T, D*H), (D, B, H)
        if isinstance(x, Tensor) and x.dim() == 3 and use_fast(self, x):
            return run_module(self, x, hx)
        return super().forward(x, hx)


# -- GRU ----------------------------------------------------------------------------------------
class _GRUFunction(torch.autograd.Function):
    """h_t = (1 - z) n + z h_{t-1}, r/z = σ(W_i x + b_i + W_h h + b_h), n = tanh(W_in x + b_in + r (W_hn h + b_hn))."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)  # CPU autocast: the loop runs in float32
    def forward(ctx: Any, x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
        # x (T, B, F) time-major, h0 (B, H) -> out (T, B, H)
        x = x.contiguous()
        steps, batch, features = x.shape
        hidden = w_hh.size(1)
        # The loop runs on g = (h + 1) / 2 and s = (n + 1) / 2 = σ(2 a_n) instead of h and n = tanh(a_n): tanh
        # costs ~5 sigmoids on CPU, and in these units h_t = lerp(s, g_{t-1}, z) stays one op. W_hh h = 2 W_hh g - W_hh 1.
        # gates[t] = [W_ir x + W_hr h + b_r, W_iz x + W_hz h + b_z, W_hn h + b_hn]: the input parts, the biases and
        # -W_hh 1 are written before the loop (one GEMM), so each step only adds its 2 W_hh g in place.
        shift = b_hh - w_hh.sum(1)
        bias = torch.cat([b_ih[: 2 * hidden] + shift[: 2 * hidden], b_ih[2 * hidden :]])
        gates = _linear(x.view(-1, features), w_ih, bias).view(steps, batch, 3 * hidden)
        gi_n2 = torch.mul(gates[..., 2 * hidden :], 2)  # (T, B, H) 2 (W_in x + b_in)
        gates[..., 2 * hidden :] = shift[2 * hidden :]
        cand = x.new_empty(steps, batch, hidden)  # s, then n = 2 s - 1
        hs = x.new_empty(steps + 1, batch, hidden)  # g_0 .. g_T, then h_0 .. h_T
        torch.add(h0, 1, out=hs[0]).mul_(0.5)
        w_hh_t = w_hh.t()
        # every per-step view made once (unbind: one call each) instead of ~8 index ops a step, ~15% at T=64
        g_all, rz_all, r_all = gates.unbind(0), gates[..., : 2 * hidden].unbind(0), gates[..., :hidden].unbind(0)
        z_all, n_all, h_all = gates[..., hidden : 2 * hidden].unbind(0), gates[..., 2 * hidden :].unbind(0), hs.unbind(0)
        for t, (g, cand_t, gi_t) in enumerate(zip(g_all, cand.unbind(0), gi_n2.unbind(0))):
            g.addmm_(h_all[t], w_hh_t, alpha=2)
            rz_all[t].sigmoid_()
            torch.addcmul(gi_t, r_all[t], n_all[t], value=2, out=cand_t).sigmoid_()
            torch.lerp(cand_t, h_all[t], z_all[t], out=h_all[t + 1])  # g_t = s + z (g_{t-1} - s)
        cand.mul_(2).sub_(1)
        hs.mul_(2).sub_(1)
        hs[0] = h0
        ctx.save_for_backward(x, w_ih, w_hh, gates, cand, hs)
        return hs[1:]

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        # grad_out (T, B, H) -> grads of x (T, B, F), h0 (B, H), w_ih, w_hh, b_ih, b_hh
        x, w_ih, w_hh, gates, cand, hs = ctx.saved_tensors
        steps, batch, hidden = cand.shape
        coef, direct = _gru_coefficients(gates, cand, hs[:-1])  # (T, B, 3, H), (T, B, H) A = (1-z)(1-n²)
        dh = grad_out.contiguous().clone()  # (T, B, H): dL/dh_t, completed step by step below
        dgh = x.new_empty(steps, batch, 3 * hidden)  # dL/d(W_h h + b_h) per step
        z = gates[..., hidden : 2 * hidden]
        coef_t, dh_t, z_t = coef.unbind(0), dh.unbind(0), z.unbind(0)  # per-step views made once
        dh_rows, dgh_t, dgh_blocks = dh.unsqueeze(2).unbind(0), dgh.unbind(0), dgh.view(steps, batch, 3, hidden).unbind(0)
        for t in range(steps - 1, -1, -1):
            torch.mul(coef_t[t], dh_rows[t], out=dgh_blocks[t])
            if t > 0:
                dh_t[t - 1].addcmul_(dh_t[t], z_t[t]).addmm_(dgh_t[t], w_hh)
        grad_h0 = None
        if ctx.needs_input_grad[1]:
            grad_h0 = torch.addmm(dh[0] * z[0], dgh[0], w_hh)
        return _grads(ctx, x, hs[:-1], dgh, w_ih, grad_h0, n_block=(dh, direct))


def _gru_coefficients(gates: Tensor, cand: Tensor, h_prev: Tensor) -> tuple[Tensor, Tensor]:
    """dL/d(gate pre-activations) = dL/dh_t times these, for every step at once.

    # gates (T, B, 3H) [r, z, ghn], cand (T, B, H), h_prev (T, B, H) -> coef (T, B, 3, H), A (T, B, H)
    """
    hidden = cand.size(-1)
    r, z, ghn = gates[..., :hidden], gates[..., hidden : 2 * hidden], gates[..., 2 * hidden :]
    coef = cand.new_empty(*cand.shape[:2], 3, hidden)
    k_r, k_z, k_n = coef.unbind(2)
    direct = torch.mul(cand, cand).neg_().add_(1).mul_(1 - z)  # A = (1 - z)(1 - n²) = dh_t -> d n_pre
    torch.mul(direct, r, out=k_n)  # d(W_hn h + b_hn) = A r
    torch.mul(k_n, ghn, out=k_r).mul_(1 - r)  # d r_pre = A ghn r (1 - r)
    torch.sub(h_prev, cand, out=k_z).mul_(z).mul_(1 - z)  # d z_pre = (h_prev - n) z (1 - z)
    return coef, direct


# -- Elman RNN ----------------------------------------------------------------------------------
class _RNNFunction(torch.autograd.Function):
    """h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act = tanh or relu."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)  # CPU autocast: the loop runs in float32
    def forward(
        ctx: Any, x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor, relu: bool
    ) -> Tensor:
        # x (T, B, F) time-major contiguous, h0 (B, H) -> out (T, B, H)
        x = x.contiguous()
        steps, batch, features = x.shape
        hidden = w_hh.size(1)
        hs = x.new_empty(steps + 1, batch, hidden)  # h_0 .. h_T; h_1.. start as the input parts (one GEMM)
        w_hh_t = w_hh.t()
        hs[0] = h0
        hs[1:] = _linear(x.view(-1, features), w_ih, b_ih + b_hh).view(steps, batch, hidden)
        h_all = hs.unbind(0)
        for t in range(steps):
            h = h_all[t + 1].addmm_(h_all[t], w_hh_t)
            # plain tanh, not 2σ(2a) - 1 as in the GRU: that form leaves act' ~1e-7 instead of 0 where h saturates,
            # which visibly changed vanishing-gradient measurements (tests/training/test_gradients.py) for Elman RNNs
            h.clamp_min_(0) if relu else h.tanh_()
        ctx.relu = relu
        ctx.save_for_backward(x, w_ih, w_hh, hs)
        return hs[1:]

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        # grad_out (T, B, H) -> grads of x (T, B, F), h0 (B, H), w_ih, w_hh, b_ih, b_hh, relu
        x, w_ih, w_hh, hs = ctx.saved_tensors
        out = hs[1:]
        slope = (out > 0).to(out.dtype) if ctx.relu else torch.mul(out, out).neg_().add_(1)  # act'(pre)
        dpre = grad_out.contiguous().clone()  # dL/dh_t, turned into dL/dpre_t in place step by step
        dpre_t, slope_t = dpre.unbind(0), slope.unbind(0)
        for t in range(out.size(0) - 1, -1, -1):
            dpre_t[t].mul_(slope_t[t])
            if t > 0:
                dpre_t[t - 1].addmm_(dpre_t[t], w_hh)
        grad_h0 = torch.mm(dpre[0], w_hh) if ctx.needs_input_grad[1] else None
        return _grads(ctx, x, hs[:-1], dpre, w_ih, grad_h0) + (None,)


# -- shared ---------------------------------------------------------------------------------------
def _grads(
    ctx: Any, x: Tensor, h_prev: Tensor, dgh: Tensor, w_ih: Tensor, grad_h0: Tensor | None,
    n_block: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor | None, ...]:
    """Input and parameter gradients as single GEMMs/sums over all T·B rows.

    dL/d(W_i x + b_i) equals dL/d(W_h h + b_h) except, for a GRU, on the n block (``dh * A``
    instead of ``dh * A * r``): it is overwritten in place once the recurrent gradients are taken.

    # x (T, B, F), h_prev (T, B, H), dgh (T, B, G·H) -> dx, dh0, dW_ih, dW_hh, db_ih, db_hh
    """
    need = ctx.needs_input_grad
    rows = dgh.view(-1, dgh.size(-1))
    grad_w_hh = torch.mm(rows.t(), h_prev.reshape(-1, h_prev.size(-1))) if need[3] else None
    grad_b_hh = rows.sum(0) if need[5] else None
    if n_block is not None:
        dh, direct = n_block
        torch.mul(dh, direct, out=dgh[..., 2 * dh.size(-1) :])
    grad_b_ih = (grad_b_hh if n_block is None and grad_b_hh is not None else rows.sum(0)) if need[4] else None
    grad_x = _linear(rows, w_ih.t()).view_as(x) if need[0] else None
    grad_w_ih = torch.mm(rows.t(), x.view(-1, x.size(-1))) if need[2] else None
    return grad_x, grad_h0, grad_w_ih, grad_w_hh, grad_b_ih, grad_b_hh


def _linear(rows: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``rows @ weight.T + bias`` for the big all-steps GEMMs: oneDNN for float32 (2x MKL on this AMD CPU).

    # rows (N, K), weight (M, K), bias (M,) -> (N, M)
    """
    if _ONEDNN and rows.dtype == torch.float32 and rows.size(0) >= _ONEDNN_MIN_ROWS:
        return torch.ops.mkldnn._linear_pointwise(rows, weight, bias, "none", [], "")
    return torch.addmm(bias, rows, weight.t()) if bias is not None else torch.mm(rows, weight.t())


def _check_module(rnn: nn.RNNBase) -> None:
    if rnn.mode not in MODES or rnn.num_layers != 1 or not rnn.batch_first:
        raise SeqtkValueError(
            f"the fast path runs single-layer, batch-first GRU/RNN modules, got {rnn}",
            fix="build it with num_layers=1, batch_first=True (stack layers with StackedEncoder)",
        )


def _check_input(x: Tensor, features: int) -> None:
    if x.dim() != 3 or x.size(-1) != features or x.size(1) < 1:
        raise SeqtkValueError(
            f"expected input of shape (B, T, {features}), got {tuple(x.shape)}",
            fix=f"pass a batch-first tensor (batch, time, {features} features)",
        )
