"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): gates that read only x_t.

Both cells end in ``h_t = a_t ⊙ h_{t-1} + b_t`` with ``a_t`` and ``b_t``
computed from x_t alone, so a whole sequence is one first-order linear
recurrence. Training computes every step's gates at once (one GEMM over all
B·T rows and a few elementwise passes), then solves the recurrence with one
of two scans:

- on a CPU, :class:`MixScan`: a loop over the steps whose gates and
  multiply-add work on (B, H) slices that stay in the cache, with a
  hand-written backward (the same recurrence, run in reverse). It does the
  least work there is, T·B·H updates.
- on a GPU, :func:`log_space_scan`: the paper's parallel scan in log space
  (``logcumsumexp``), with no per-step loop, so no kernel launch per step.

Measured on a CPU (minGRU, B=32, T=512, F=256, H=1023: the parameters of an
``nn.LSTM(256, 256)``; training forward + backward, 1 thread, 2-core Xeon
with AVX-512 and AMX, torch 2.13): the log-space scan 3.6 s
(``logcumsumexp`` costs ~27 ns an element there, 30x a multiply-add); the
gates as whole-tensor passes plus a multiply-add loop 0.98 s; MixScan 0.54 s.
The ``nn.LSTM`` it has the parameters of took 0.37 s: at equal parameters
the two do the same GEMM work, which is most of the time, and oneDNN fuses
the LSTM's elementwise work into its kernel.

Generation steps the recurrence one token at a time in O(1) with
:meth:`~seqtk.nn.recurrent_cell.RecurrentCell.recur`, the readable form written from the
paper's equations:

- minGRU: ``z_t = σ(W_z x_t + b_z)``, ``h̃_t = g(W_h x_t + b_h)``,
  ``h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t``
- minLSTM: ``f_t = σ(W_f x_t + b_f)``, ``i_t = σ(W_i x_t + b_i)``,
  ``h̃_t = g(W_h x_t + b_h)``, ``f'_t, i'_t = f_t, i_t / (f_t + i_t)``,
  ``h_t = f'_t ⊙ h_{t−1} + i'_t ⊙ h̃_t``

``g(x) = x + 0.5`` for x ≥ 0 and ``σ(x)`` below keeps h̃ positive, so its
logarithm exists; this is the paper's log-space version (its Appendix B,
and BorealisAI/minRNNs). The log-space scan works on chunks of :data:`CHUNK`
steps: within a chunk the cumulative log-decay stays small, so float32 loses
no precision to cancelling large exponents, and the state is carried from
chunk to chunk with one multiply-add. An initial state of any sign is added
exactly.

>>> cell = MinGRUCell(3, 4)
>>> x = torch.randn(2, 5, 3)
>>> torch.allclose(cell(x)[0], cell.scan_steps(x)[0], atol=1e-6)
True
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from seqtk.nn.recurrent_cell import RecurrentCell, State

#: steps per chunk of the log-space scan
CHUNK = 64


def g(x: Tensor) -> Tensor:
    """The paper's positive activation: ``x + 0.5`` for x ≥ 0, ``σ(x)`` below (continuous at 0).

    Written as ``relu(x) + σ(min(x, 0))``, which is the same function: ``torch.where`` on the strided
    slices the scan passes cost 6x as much (measured)."""
    return torch.relu(x) + torch.sigmoid(x.clamp(max=0))


def log_g(x: Tensor) -> Tensor:
    """``log g(x)``, computed without forming g(x) where it would underflow."""
    return torch.where(x >= 0, torch.log(F.relu(x) + 0.5), -F.softplus(-x))


def g_prime(x: Tensor) -> Tensor:
    """dg/dx: 1 for x ≥ 0, σ(x)(1 − σ(x)) below; with s = σ(min(x, 0)), s(1 − s) is exactly 0.25 at x ≥ 0."""
    s = torch.sigmoid(x.clamp(max=0))
    return torch.add(s - s * s, x >= 0, alpha=0.75)


class MixScan(torch.autograd.Function):
    """``h_t = h_{t-1} + m_t ⊙ (g(k_t) − h_{t-1})`` for all t, computed step by step, with its backward.

    Both cells are this recurrence: the mix ``m_t`` is minGRU's z_t or
    minLSTM's normalised input gate i'_t (then ``1 − m_t`` is f'_t), and ``k_t``
    is the candidate's pre-activation. Each step works on (B, H) slices that
    stay in the cache, so the gates cost a few small elementwise calls per step
    instead of many passes over (B, T, H) tensors. Time comes first, so that
    every step's slice is one contiguous block. The forward keeps m_t and the
    candidate g(k_t) for the backward, which is the same recurrence run
    backwards: with ``δ_t`` the gradient reaching h_t,
    ``∂L/∂m_t = δ_t ⊙ (g(k_t) − h_{t−1})``, ``∂L/∂k_t = δ_t ⊙ m_t ⊙ g'(k_t)``
    and ``δ_{t−1} = ∂L/∂h_{t−1} + δ_t ⊙ (1 − m_t)``; where k < 0,
    ``g'(k) = σ'(k) = g(k)(1 − g(k))``.

    # xp (T, B, G·H) [gate blocks, then the candidate's], h0 (B, H) or None -> (T, B, H)
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)  # CPU autocast: the loop runs in float32
    def forward(ctx: Any, cell: _MinCell, xp: Tensor, h0: Tensor | None) -> Tensor:
        size = cell.hidden_size
        out = xp.new_empty(xp.size(0), xp.size(1), size)
        mixes, candidates = torch.empty_like(out), torch.empty_like(out)
        h = h0 if h0 is not None else xp.new_zeros(xp.size(1), size)
        for t in range(xp.size(0)):
            k = xp[t]
            m, cand = mixes[t].copy_(cell.mix(k)), candidates[t].copy_(g(k[:, -size:]))
            h = torch.lerp(h, cand, m, out=out[t])
        ctx.cell = cell
        ctx.has_h0 = h0 is not None
        ctx.save_for_backward(xp, out, mixes, candidates, h0 if h0 is not None else xp.new_zeros(xp.size(1), size))
        return out

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor, Tensor | None]:
        xp, out, mixes, candidates, h0 = ctx.saved_tensors
        cell, size = ctx.cell, ctx.cell.hidden_size
        grad_xp = torch.empty_like(xp)
        carry = torch.zeros_like(h0)
        for t in range(xp.size(0) - 1, -1, -1):
            k, dk, m, cand = xp[t], grad_xp[t], mixes[t], candidates[t]
            delta = grad[t] + carry  # (B, H): everything that reaches h_t
            h_prev = out[t - 1] if t else h0
            dm_weighted = delta * m  # δ ⊙ m
            slope = torch.where(k[:, -size:] >= 0, 1.0, torch.addcmul(cand, cand, cand, value=-1.0))  # g'(k)
            torch.mul(dm_weighted, slope, out=dk[:, -size:])
            cell.mix_backward(k, m, delta * (cand - h_prev), dk[:, :-size])
            carry = delta - dm_weighted  # δ ⊙ (1 − m)
        return None, grad_xp, carry if ctx.has_h0 else None


def log_space_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None, chunk: int = CHUNK) -> Tensor:
    """All h_t of ``h_t = a_t ⊙ h_{t-1} + b_t`` from ``log a`` and ``log b`` (b > 0), in parallel over t.

    Within a chunk, with ``A_t = Σ_{s≤t} log a_s``:
    ``h_t = exp(A_t) ⊙ h_start + exp(A_t + logcumsumexp_s(log b_s − A_s))``.

    # log_a (B, T, H) (≤ 0), log_b (B, T, H), h0 (B, H) or None (zeros) -> (B, T, H)
    """
    outputs = []
    h = h0
    for start in range(0, log_a.size(1), chunk):
        a_star = log_a[:, start : start + chunk].cumsum(dim=1)  # (B, C, H)
        part = torch.exp(a_star + torch.logcumsumexp(log_b[:, start : start + chunk] - a_star, dim=1))
        if h is not None:
            part = part + torch.exp(a_star) * h.unsqueeze(1)
        outputs.append(part)
        h = part[:, -1]
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)


class _MinCell(RecurrentCell):
    """What minGRU and minLSTM share: no recurrent weights, a log-space parallel scan as ``forward``."""

    recurrent: ClassVar[bool] = False
    training_form: ClassVar[str] = "all gates at once, then a linear scan (log-space scan on a GPU)"

    def log_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        """``log a`` and ``log b`` of ``h_t = a ⊙ h_{t-1} + b`` from the projected input: (..., G·H) -> 2 × (..., H)."""
        raise NotImplementedError

    def forward(self, x: Tensor, state: State | None = None, lengths: Tensor | None = None) -> tuple[Tensor, State]:
        """The fast form of :meth:`scan_steps`: (B, T, F) -> (B, T, H), final state ((B, H),).

        One projection of all of x gives every step's gates; the recurrence
        then runs as :class:`MixScan` on a CPU and as :func:`log_space_scan`
        on a GPU (module docstring). Padding is on the right, so a padded step
        changes only later outputs, which are never read: with ``lengths`` the
        final state is the output at each row's true last step.
        """
        # (B, T, F) -> (B, T, H)
        h0 = None if state is None else state[0]
        if x.is_cuda:
            h = log_space_scan(*self.log_coefficients(self.project(x)), h0)  # (B, T, G·H) -> (B, T, H)
        else:  # time first: (T, B, G·H), one GEMM over all B·T rows
            h = MixScan.apply(self, self.project(x.transpose(0, 1)), h0).transpose(0, 1)
        if lengths is None:
            return h, (h[:, -1],)
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, h.size(-1))  # (B, 1, H)
        return h, (h.gather(1, last).squeeze(1),)

    def mix(self, k: Tensor) -> Tensor:
        """The share of the new candidate in h_t (minGRU's z, minLSTM's i'): (B, G·H) -> (B, H)."""
        raise NotImplementedError

    def mix_backward(self, k: Tensor, m: Tensor, grad_m: Tensor, out: Tensor) -> None:
        """Write ∂L/∂(gate pre-activations) into ``out`` (B, (G−1)·H) from ∂L/∂m (B, H)."""
        raise NotImplementedError

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        # (B, G·H), ((B, H),) -> (B, H): one step, the paper's sequential form
        a, b = self.step_coefficients(xp)
        h = torch.addcmul(b, a, state[0])
        return h, (h,)

    def step_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        """``a`` and ``b`` of one step, written as the paper's equations: (B, G·H) -> 2 × (B, H)."""
        raise NotImplementedError


class MinGRUCell(_MinCell):
    """minGRU: ``h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ g(W_h x_t + b_h)``, ``z_t = σ(W_z x_t + b_z)``; blocks z, h̃.

    >>> MinGRUCell(8, 16).weight_ih.shape  # 2 blocks, no weight_hh
    torch.Size([32, 8])
    """

    blocks = 2

    def step_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        # (B, 2H) -> a = 1 - z, b = z ⊙ h̃, each (B, H)
        k_z, k_h = xp.chunk(2, dim=-1)
        z = torch.sigmoid(k_z)
        return 1 - z, z * g(k_h)

    def mix(self, k: Tensor) -> Tensor:
        # (B, 2H) -> z (B, H)
        return torch.sigmoid(k[:, : self.hidden_size])

    def mix_backward(self, k: Tensor, m: Tensor, grad_m: Tensor, out: Tensor) -> None:
        # ∂L/∂k_z = ∂L/∂z ⊙ z (1 − z)
        torch.ops.aten.sigmoid_backward.grad_input(grad_m, m, grad_input=out)

    def log_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        # (..., 2H) -> log(1 - z), log z + log h̃
        k_z, k_h = xp.chunk(2, dim=-1)
        return -F.softplus(k_z), -F.softplus(-k_z) + log_g(k_h)


class MinLSTMCell(_MinCell):
    """minLSTM: ``h_t = f'_t ⊙ h_{t−1} + i'_t ⊙ g(W_h x_t + b_h)`` with f', i' = f, i normalised to sum 1;
    blocks f, i, h̃.

    >>> MinLSTMCell(8, 16).weight_ih.shape  # 3 blocks, no weight_hh
    torch.Size([48, 8])
    """

    blocks = 3

    def step_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        # (B, 3H) -> a = f / (f + i), b = i / (f + i) ⊙ h̃
        k_f, k_i, k_h = xp.chunk(3, dim=-1)
        f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
        return f / (f + i), i / (f + i) * g(k_h)

    def mix(self, k: Tensor) -> Tensor:
        # (B, 3H) -> i' = i / (f + i) (B, H)
        f, i = torch.sigmoid(k[:, : 2 * self.hidden_size]).chunk(2, dim=1)
        return i / (f + i)

    def mix_backward(self, k: Tensor, m: Tensor, grad_m: Tensor, out: Tensor) -> None:
        # i' = i / (f + i): ∂i'/∂k_i = i'(1 − i')(1 − i), ∂i'/∂k_f = −i'(1 − i')(1 − f)
        size = self.hidden_size
        f, i = torch.sigmoid(k[:, : 2 * size]).chunk(2, dim=1)
        shared = grad_m * (m - m * m)
        torch.mul(shared, f - 1, out=out[:, :size])
        torch.mul(shared, 1 - i, out=out[:, size:])

    def log_coefficients(self, xp: Tensor) -> tuple[Tensor, Tensor]:
        # (..., 3H) -> log f', log i' + log h̃; with d = log(i / f): log f' = -softplus(d), log i' = -softplus(-d)
        k_f, k_i, k_h = xp.chunk(3, dim=-1)
        d = F.softplus(-k_f) - F.softplus(-k_i)
        return -F.softplus(d), -F.softplus(-d) + log_g(k_h)
