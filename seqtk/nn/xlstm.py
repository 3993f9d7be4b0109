"""xLSTM's two cells (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory"): sLSTM and mLSTM.

Both replace the LSTM's sigmoid input gate by an exponential one, ``i_t =
exp(ĩ_t)``, and keep a running log-scale ``m_t`` (the *stabiliser*) so that
nothing overflows: the state is stored divided by ``exp(m_t)``, with
``m_t = max(log f_t + m_{t−1}, ĩ_t)``, ``i'_t = exp(ĩ_t − m_t)``,
``f'_t = exp(log f_t + m_{t−1} − m_t)``; both are at most 1. The cells'
outputs are ratios of two such scaled quantities, so the stabiliser cancels
and any choice of ``m`` gives the same outputs (it never changes a result,
only how large the stored numbers are). The forget gate is the sigmoid, kept
in log space (``log f = logsigmoid(f̃)``), as in NX-AI/xlstm's default sLSTM
and mLSTM kernels; the paper allows ``exp`` as well.

- :class:`SLSTMCell` (``slstm``): a scalar memory per unit, normalised,
  ``h_t = o_t ⊙ c_t / n_t``, with *memory mixing*: the gates read ``h_{t−1}``
  through a recurrent matrix that is block-diagonal per head (each head's
  units read only its own head). It is a true recurrence, so training runs it
  step by step: the input projection for all steps at once, then a loop of one
  batched matmul (all heads) and a few elementwise calls per step.
- :class:`MLSTMCell` (``mlstm``): a matrix memory ``C_t`` (d × d per head),
  written with the outer product ``v_t k_tᵀ`` and read with a query,
  ``h̃_t = C_t q_t / max(|n_tᵀ q_t|, 1)``. Its gates read only ``x_t``, so the
  whole sequence is linear in the memory and trains in the chunkwise-parallel
  form (:meth:`MLSTMCell.forward`): within a chunk of :data:`CHUNK` steps the
  parallel form with a stabilised decay matrix, across chunks the carried
  ``(C, n, m)``. Memory is O(B·T·chunk), never O(T²).

Generation steps either cell one token at a time in O(1) with ``recur``, the
readable recurrent form written from the paper's equations; ``scan_steps``
(a loop over ``recur``) is the reference the tests compare the training forms
with. Only the cells are here: xLSTM's blocks (up-projections, the causal
convolution, group norm, residual stacking) are a model's business.

Differences from NX-AI/xlstm: no ``eps`` in the mLSTM denominator (the
``max(·, exp(−m_t))`` already keeps it positive, and without it the
stabiliser cancels exactly, so the chunkwise and recurrent forms agree to
rounding); and no special first step (xlstm's sLSTM sets ``m_1 = ĩ_1`` when
``n = 0`` for the whole batch, a data-dependent branch); here ``m_0 = 0``
like the rest of the zero state, which gives the same outputs unless an input
gate pre-activation is below about −87 (float32).

>>> cell = MLSTMCell(3, 8, heads=2)
>>> x = torch.randn(2, 5, 3)
>>> torch.allclose(cell(x)[0], cell.scan_steps(x)[0], atol=1e-6)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqtk.errors import SeqtkValueError
from seqtk.nn.recurrent_cell import ACTIVATIONS, RecurrentCell, State

#: steps per chunk of the mLSTM's chunkwise-parallel training form
CHUNK = 64


def _check_heads(hidden_size: int, heads: int) -> None:
    if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
        raise SeqtkValueError(f"heads must be a positive integer, got {heads!r}", fix="set heads = 1, 2, 4, ...")
    if isinstance(hidden_size, int) and hidden_size % heads:
        raise SeqtkValueError(
            f"hidden_size ({hidden_size}) must be divisible by heads ({heads})",
            fix=f"set hidden_size to a multiple of {heads}",
        )


def _forget_bias_(bias: Tensor, groups: int, size: int) -> None:
    """xlstm's forget-gate bias: ``linspace(3, 6)`` over ``size`` entries, repeated ``groups`` times (in place).

    A forget gate near σ(3..6) = 0.95..0.998 starts with memories of 20 to 400 steps."""
    with torch.no_grad():
        bias.copy_(torch.linspace(3.0, 6.0, size, dtype=bias.dtype).repeat(groups))


# -- sLSTM ----------------------------------------------------------------------------------------------------
def slstm_step(
    xp: Tensor, state: State, r: Tensor, heads: int, act: Callable[[Tensor], Tensor]
) -> tuple[Tensor, State]:
    """One sLSTM step: (B, 4H) projected input (blocks ĩ, f̃, z̃, õ), state (h, c, n, m) each (B, H) -> h, state.

    ``r`` is the recurrent matrix per head, (heads, d, 4d) with the columns of each head's four gates
    (:meth:`SLSTMCell.recurrent_matrix`); one batched matmul computes all heads' recurrent halves.
    """
    h, c, n, m = state
    batch, size = h.shape
    if heads == 1:
        pre = torch.addmm(xp, h, r[0])  # (B, 4H)
    else:
        d = size // heads
        rec = torch.bmm(h.view(batch, heads, d).transpose(0, 1), r)  # (heads, B, d) @ (heads, d, 4d) -> (heads, B, 4d)
        # back to gate-major (B, 4, heads, d): the add writes the sum contiguously, no separate copy
        pre = xp.view(batch, 4, heads, d) + rec.view(heads, batch, 4, d).permute(1, 2, 0, 3)
        pre = pre.view(batch, 4 * size)
    i_raw, f_raw, z_raw, o_raw = pre.chunk(4, dim=1)
    log_f_plus_m = F.logsigmoid(f_raw) + m  # log f_t + m_{t−1}
    m_new = torch.maximum(log_f_plus_m, i_raw)  # the stabiliser
    i = torch.exp(i_raw - m_new)  # i'_t = exp(ĩ_t − m_t)
    f = torch.exp(log_f_plus_m - m_new)  # f'_t = exp(log f_t + m_{t−1} − m_t)
    c = torch.addcmul(f * c, i, act(z_raw))  # c_t = f' c_{t−1} + i' z_t
    n = torch.addcmul(i, f, n)  # n_t = f' n_{t−1} + i'
    h = torch.sigmoid(o_raw) * (c / n)  # h_t = o_t ⊙ c_t / n_t
    return h, (h, c, n, m_new)


class SLSTMCell(RecurrentCell):
    """sLSTM: exponential input gate, sigmoid forget gate, normaliser state and per-head memory mixing.

    Gate blocks ĩ, f̃, z̃, õ (xlstm's order), each of H rows ordered head by head::

        (ĩ, f̃, z̃, õ) = W x_t + R h_{t−1} + b       R block-diagonal: head k reads only h_{t−1}'s head k
        m_t = max(log σ(f̃) + m_{t−1}, ĩ)             stabiliser
        i'  = exp(ĩ − m_t),  f' = exp(log σ(f̃) + m_{t−1} − m_t)
        c_t = f' ⊙ c_{t−1} + i' ⊙ act(z̃)            act = tanh (or ReLU)
        n_t = f' ⊙ n_{t−1} + i'
        h_t = σ(õ) ⊙ c_t / n_t

    ``weight_hh`` is (4H, H/heads): row ``g·H + k·d + j`` holds what gate g of
    head k's unit j reads from head k's d units, so the recurrent weights count
    heads × 4d × d, not a masked dense 4H × H.

    >>> cell = SLSTMCell(3, 8, heads=2)
    >>> cell.weight_hh.shape, [tuple(s.shape) for s in cell.zero_state(5, torch.zeros(1))]
    (torch.Size([32, 4]), [(5, 8), (5, 8), (5, 8), (5, 8)])
    """

    blocks = 4
    state_size = 4
    #: the state's parts, as seqtk export names them
    state_parts: ClassVar[tuple[str, ...]] = ("h", "c", "n", "m")
    options = ("heads",)
    training_form = "input projection at once, then one batched matmul per step"

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh", heads: int = 1) -> None:
        _check_heads(hidden_size, heads)
        self.heads = heads  # read by recurrent_width() while the base builds weight_hh
        super().__init__(input_size, hidden_size, nonlinearity)

    def recurrent_width(self) -> int:
        return self.hidden_size // self.heads

    def reset_parameters(self) -> None:
        """PyTorch's uniform ±1/sqrt(H), then xlstm's forget-gate bias ``linspace(3, 6)`` over each head's units."""
        super().reset_parameters()
        size = self.hidden_size
        _forget_bias_(self.bias[size : 2 * size], self.heads, size // self.heads)

    def recurrent_matrix(self) -> Tensor:
        """``weight_hh`` as one matrix per head, (heads, d, 4d): ``h_head (B, d) @ r[k]`` gives gates ĩ, f̃, z̃, õ
        of head k, d columns each."""
        d = self.hidden_size // self.heads
        w = self.weight_hh.view(4, self.heads, d, d)  # (gate, head, unit out, unit in)
        return w.permute(1, 3, 0, 2).reshape(self.heads, d, 4 * d)

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        # (B, 4H), 4 × (B, H) -> (B, H): the paper's equations, slstm_step
        return slstm_step(xp, state, self.recurrent_matrix(), self.heads, ACTIVATIONS[self.nonlinearity])

    def stepper(self) -> Callable[[Tensor, State], tuple[Tensor, State]]:
        return partial(slstm_step, r=self.recurrent_matrix(), heads=self.heads, act=ACTIVATIONS[self.nonlinearity])

    def forward(self, x: Tensor, state: State | None = None, lengths: Tensor | None = None) -> tuple[Tensor, State]:
        """:meth:`scan_steps` with the per-head recurrent matrix built once: (B, T, F) -> (B, T, H), final state."""
        # (B, T, F) -> (B, T, H)
        state = state if state is not None else self.zero_state(x.size(0), x)
        step = self.stepper()
        xp = self.project(x)  # (B, T, 4H): one GEMM over all B·T rows
        alive = None
        if lengths is not None:  # (B, 1) per step: is step t inside sequence b?
            alive = (torch.arange(x.size(1), device=x.device) < lengths.unsqueeze(1)).unsqueeze(-1).unbind(1)
        outputs = []
        for t, xp_t in enumerate(xp.unbind(1)):
            h, new = step(xp_t, state)
            state = new if alive is None else tuple(torch.where(alive[t], a, b) for a, b in zip(new, state))
            outputs.append(h)
        return torch.stack(outputs, dim=1), state

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, heads={self.heads}"


# -- mLSTM ----------------------------------------------------------------------------------------------------
class MLSTMCell(RecurrentCell):
    """mLSTM: a d × d matrix memory per head, written with ``v kᵀ``, read with ``q``; gates read only x_t.

    ``weight_ih`` (4H + 2·heads, F) and ``bias`` stack q, k, v, õ (H rows each, head by head), then
    the heads' scalar input gates ĩ and forget gates f̃ (one row per head)::

        q_t = W_q x_t + b_q,  k_t = (W_k x_t + b_k) / sqrt(d),  v_t = W_v x_t + b_v      per head, d = H / heads
        m_t = max(log σ(f̃_t) + m_{t−1}, ĩ_t)
        i'  = exp(ĩ_t − m_t),  f' = exp(log σ(f̃_t) + m_{t−1} − m_t)                     one scalar per head
        C_t = f' C_{t−1} + i' v_t k_tᵀ                                                  (d × d)
        n_t = f' n_{t−1} + i' k_t
        h̃_t = C_t q_t / max(|n_tᵀ q_t|, exp(−m_t))
        h_t = σ(W_o x_t + b_o) ⊙ h̃_t                                                    heads concatenated

    The state is ``(C, n, m)`` with shapes (heads, d, d), (heads, d), (heads,) after the batch.

    >>> cell = MLSTMCell(3, 8, heads=2)
    >>> cell.weight_ih.shape, [tuple(s.shape) for s in cell.zero_state(5, torch.zeros(1))]
    (torch.Size([36, 3]), [(5, 2, 4, 4), (5, 2, 4), (5, 2)])
    """

    blocks = 4
    state_size = 3
    #: the state's parts, as seqtk export names them: the matrix memory C is the cell state
    state_parts: ClassVar[tuple[str, ...]] = ("c", "n", "m")
    recurrent = False
    options = ("heads",)
    training_form = "chunkwise parallel (64-step chunks, carried matrix memory)"

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh", heads: int = 1) -> None:
        _check_heads(hidden_size, heads)
        if nonlinearity != "tanh":
            raise SeqtkValueError(
                f"mlstm has no activation to replace (nonlinearity={nonlinearity!r})",
                fix="remove nonlinearity; slstm takes relu on its candidate",
            )
        self.heads = heads
        #: steps per chunk of the training form (a parameter of speed and memory only, not of the result)
        self.chunk = CHUNK
        super().__init__(input_size, hidden_size, nonlinearity)
        rows = 4 * hidden_size + 2 * heads  # the base made 4H rows: add the scalar gates' 2·heads
        self.weight_ih = nn.Parameter(self.weight_ih.new_empty(rows, input_size))
        self.bias = nn.Parameter(self.bias.new_empty(rows))
        self.reset_parameters()

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.heads

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        d = self.head_size
        return ((self.heads, d, d), (self.heads, d), (self.heads,))

    def reset_parameters(self) -> None:
        """PyTorch's uniform ±1/sqrt(H), then xlstm's forget-gate bias ``linspace(3, 6)`` over the heads."""
        super().reset_parameters()
        if self.bias.numel() > 4 * self.hidden_size:  # not while the base's 4H-row placeholders exist
            _forget_bias_(self.bias[4 * self.hidden_size + self.heads :], 1, self.heads)

    def split(self, xp: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        """The projected input's parts: (..., 4H + 2·heads) -> q, k (scaled by 1/sqrt(d)), v, õ each
        (..., heads, d), then ĩ and log f each (..., heads)."""
        size, heads, d = self.hidden_size, self.heads, self.head_size
        qkvo = xp[..., : 4 * size].unflatten(-1, (4, heads, d))
        q, k, v, o = qkvo.unbind(-3)
        gates = xp[..., 4 * size :].unflatten(-1, (2, heads))
        return q, k / math.sqrt(d), v, o, gates[..., 0, :], F.logsigmoid(gates[..., 1, :])

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        # (B, 4H + 2·heads), (C, n, m) -> (B, H): the paper's recurrent form with the stabiliser
        C, n, m = state  # (B, heads, d, d), (B, heads, d), (B, heads)
        q, k, v, o, i_raw, log_f = self.split(xp)
        m_new = torch.maximum(log_f + m, i_raw)
        i = torch.exp(i_raw - m_new).unsqueeze(-1)  # (B, heads, 1)
        f = torch.exp(log_f + m - m_new).unsqueeze(-1)
        C = f.unsqueeze(-1) * C + i.unsqueeze(-1) * (v.unsqueeze(-1) * k.unsqueeze(-2))  # C_t = f' C + i' v kᵀ
        n = f * n + i * k
        numerator = (C @ q.unsqueeze(-1)).squeeze(-1)  # C_t q_t: (B, heads, d)
        denominator = torch.maximum((n * q).sum(-1).abs(), torch.exp(-m_new))  # (B, heads)
        h = torch.sigmoid(o) * (numerator / denominator.unsqueeze(-1))
        return h.flatten(-2), (C, n, m_new)

    def forward(self, x: Tensor, state: State | None = None, lengths: Tensor | None = None) -> tuple[Tensor, State]:
        """The chunkwise-parallel form of :meth:`scan_steps`: (B, T, F) -> (B, T, H), final (C, n, m).

        With ``lengths`` (right padding) a padded step is made an identity update
        (``ĩ = −inf``, ``log f = 0``: ``i' = 0``, ``f' = 1``, ``m`` unchanged), so
        the carried state at the end is each row's state at its true length.
        """
        # (B, T, F) -> (B, T, H)
        batch, steps = x.size(0), x.size(1)
        C, n, m = state if state is not None else self.zero_state(batch, x)
        q, k, v, o, i_raw, log_f = self.split(self.project(x))  # (B, T, heads, d) ×4, (B, T, heads) ×2
        if lengths is not None:
            valid = (torch.arange(steps, device=x.device) < lengths.unsqueeze(1)).unsqueeze(-1)  # (B, T, 1)
            i_raw = i_raw.masked_fill(~valid, -math.inf)
            log_f = log_f.masked_fill(~valid, 0.0)
        q, k, v, i_raw, log_f = _chunk_major(self.chunk, q, k, v, i_raw, log_f)
        decay = log_f.cumsum(-1)  # b_t: log of the forget gates' product from the chunk start to t
        # what a chunk's own steps add to the state at its end, scaled by exp(−m_local)
        to_end = decay[..., -1:] - decay + i_raw  # log weight of step s in the chunk-end state
        m_local = to_end.amax(-1)  # (N, B, heads); −inf for a chunk of padding only
        safe = torch.where(torch.isinf(m_local), torch.zeros_like(m_local), m_local)
        w = torch.exp(to_end - safe.unsqueeze(-1)).unsqueeze(-1)  # (N, B, heads, L, 1)
        parts = (q, k, v * w, (w * k).sum(-2), decay[..., -1], m_local, safe)
        (C, n, m), reads = _carry_through_chunks(parts, (C, n, m))
        h_tilde = _chunk_outputs(q, k, v, decay, i_raw, reads)[:, :steps]  # (B, T, heads, d)
        return (torch.sigmoid(o) * h_tilde).flatten(-2), (C, n, m)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, heads={self.heads}"


def _pad_steps(t: Tensor, pad: int, value: float) -> Tensor:
    """``t`` (B, T, ...) with ``pad`` more steps of ``value`` at the end."""
    if not pad:
        return t
    return torch.cat([t, t.new_full((t.size(0), pad, *t.shape[2:]), value)], dim=1)


def _chunk_major(size: int, q: Tensor, k: Tensor, v: Tensor, i_raw: Tensor, log_f: Tensor) -> tuple[Tensor, ...]:
    """(B, T, heads, d) q, k, v and (B, T, heads) gates cut into chunks of ``size`` steps, chunk-major
    (N, B, heads, L, ...), so every chunk's slice is contiguous; the last chunk is filled with identity steps."""
    steps = q.size(1)
    chunks = -(-steps // size)
    pad = chunks * size - steps
    q, k, v = (_pad_steps(t, pad, 0.0).unflatten(1, (chunks, size)).permute(1, 0, 3, 2, 4) for t in (q, k, v))
    i_raw = _pad_steps(i_raw, pad, -math.inf).unflatten(1, (chunks, size)).permute(1, 0, 3, 2)
    log_f = _pad_steps(log_f, pad, 0.0).unflatten(1, (chunks, size)).permute(1, 0, 3, 2)
    return q.contiguous(), k.contiguous(), v.contiguous(), i_raw, log_f  # (N, B, heads, L, d); gates (N, B, heads, L)


def _carry_through_chunks(parts: tuple[Tensor, ...], state: State) -> tuple[State, tuple[Tensor, Tensor, Tensor]]:
    """A loop over the N chunks carries (C, n, m) and reads the carried state with each chunk's queries.

    ``parts``: q, k, v·w, the chunk's added n, its total log decay, m_local and its finite form, each with the
    chunks first. Returns the final state and, stacked over chunks, C_start q_t (N, B, heads, L, d),
    n_startᵀ q_t (N, B, heads, L) and each chunk's starting m (N, B, heads). The (d × d) products stay per chunk,
    so nothing of size N·d·d is kept; unbind, not [c]: the backward of an index would zero-fill a gradient of
    the whole tensor per chunk.
    """
    C, n, m = state
    read_C, read_n, starts_m = [], [], []
    for q_c, k_c, vw_c, added_n_c, total, m_local_c, safe_c in zip(*(t.unbind(0) for t in parts)):
        read_C.append(q_c @ C.transpose(-1, -2))  # C_start q_t: (B, heads, L, d)
        read_n.append((q_c @ n.unsqueeze(-1)).squeeze(-1))  # n_startᵀ q_t: (B, heads, L)
        starts_m.append(m)
        m_new = torch.maximum(total + m, m_local_c)
        old = torch.exp(total + m - m_new)  # (B, heads)
        new = torch.exp(safe_c - m_new)
        C = old[..., None, None] * C + new[..., None, None] * (vw_c.transpose(-1, -2) @ k_c)  # Σ_s w_s v_s k_sᵀ
        n = old[..., None] * n + new[..., None] * added_n_c
        m = m_new
    return (C, n, m), (torch.stack(read_C), torch.stack(read_n), torch.stack(starts_m))


def _chunk_outputs(q: Tensor, k: Tensor, v: Tensor, decay: Tensor, i_raw: Tensor,
                   reads: tuple[Tensor, Tensor, Tensor]) -> Tensor:
    """h̃ of every step: within a chunk the parallel form, plus the carried state's part. (B, N·L, heads, d)."""
    read_C, read_n, m0 = reads
    size = q.size(-2)
    log_d = decay.unsqueeze(-1) - decay.unsqueeze(-2) + i_raw.unsqueeze(-2)  # (N, B, heads, L, L): [t, s]
    causal = torch.ones(size, size, dtype=torch.bool, device=q.device).tril()
    log_d = log_d.masked_fill(~causal, -math.inf)
    from_start = decay + m0.unsqueeze(-1)  # (N, B, heads, L): log weight of the carried state at t
    m_t = torch.maximum(from_start, log_d.amax(-1))  # = the recurrent form's m_t
    scores = (q @ k.transpose(-1, -2)) * torch.exp(log_d - m_t.unsqueeze(-1))  # (N, B, heads, L, L)
    carried = torch.exp(from_start - m_t)  # (N, B, heads, L)
    numerator = torch.addcmul(scores @ v, carried.unsqueeze(-1), read_C)  # C_t q_t
    dot = torch.addcmul(scores.sum(-1), carried, read_n)  # n_tᵀ q_t
    h_tilde = numerator / torch.maximum(dot.abs(), torch.exp(-m_t)).unsqueeze(-1)  # (N, B, heads, L, d)
    return h_tilde.permute(1, 0, 3, 2, 4).flatten(1, 2)
