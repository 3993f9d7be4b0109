"""Run one recurrent layer over a right-padded batch so that padding changes no valid output.

Padding never changes a result. Unidirectional layers get that for free: a
valid step never sees a later (padding) step. The backward direction of a
bidirectional layer would start inside the padding, so when lengths differ we
run it on each sequence reversed within its own length (a per-row gather).
Measured with ``bench/encoders_padding.py`` (bidirectional, B=64, T=128,
F=H=128, training forward+backward, 2-core AMD EPYC, torch 2.13 CPU; best of
interleaved rounds, the range is over several runs on a shared VM)::

                                         LSTM              GRU
    plain padding (not invariant)        850-1120 ex/s     620-720 ex/s
    pack_padded_sequence                 0.27-0.41x        0.59-0.68x
    reverse within length, two modules   0.99-1.16x        0.96-0.99x
    reverse within length, one module    0.94-1.14x        0.90-0.97x   <- used

All three exact candidates change no valid output (max difference 0.0) when
the batch is padded to 3x. The last two run the same kernels (oneDNN for LSTM);
the gap between them is the output masking and noise. We keep one bidirectional
module per layer, its directions run as two fused calls, so parameter names and
``state_dict`` match ``nn.LSTM(bidirectional=True)`` and batches without
padding stay a single fused (cuDNN-bidirectional) call. Packing is used where
nothing else is exact: LSTM final states (``return_state=True``) with ragged
lengths, since the padded kernels never expose the cell state at each
sequence's true last step; and for GRU/RNN inference on a CPU where most of a
batch of 8 or more rows is padding, where it is faster (:func:`packing_pays`).

On CUDA the same route holds (``bench/gpu_check.sh``, NVIDIA H200, torch 2.11,
2 bidirectional layers, B=64, T=64, H=128, lengths spread over 1..64, training
forward+backward, three runs): all rows full, one fused call, 0.94-1.51 M
tokens/s (LSTM) and 1.15-1.55 M (GRU); ragged, two calls, 0.47-0.71 M and
0.50-0.77 M; ragged, one packed call, 0.08-0.13 M and 0.07-0.12 M. For the
reverse half cuDNN compacts a copy of that direction's weights on every call
(PyTorch warns "not part of single contiguous chunk of memory"; seqtk
silences that one warning there), and the two calls are still 5.6-7.5x
faster than packing.
"""

from __future__ import annotations

import re
import warnings

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.nn.utils import parametrize

from seqtk.nn import fast_rnn
from seqtk.nn.cell_kinds import CellLayer

__all__ = ["State", "at_step", "gather_steps", "last_step", "packing_pays", "reverse_within", "run_layer", "run_module",
           "state_shapes"]

# One direction of a fused module, run with the module's own kernels.
_DIRECTION_OPS = {"GRU": torch.gru, "RNN_TANH": torch.rnn_tanh, "RNN_RELU": torch.rnn_relu}

State = Tensor | tuple[Tensor, Tensor]


def state_shapes(rnn: nn.RNNBase | CellLayer) -> list[tuple[int, ...]]:
    """Each state part's shape after the direction and batch dimensions."""
    if isinstance(rnn, CellLayer):
        return list(rnn.directions[0].state_shapes())
    h = (getattr(rnn, "proj_size", 0) or rnn.hidden_size,)
    return [h, (rnn.hidden_size,)] if rnn.mode == "LSTM" else [h]


def run_layer(
    rnn: nn.RNNBase | CellLayer, x: Tensor, lengths: Tensor | None, h0: State | None, need_state: bool
) -> tuple[Tensor, State | None]:
    # (B, T, F) -> (B, T, D*H), final state (or None when not asked for on the ragged path)
    if isinstance(rnn, CellLayer):
        return _run_cells(rnn, x, lengths, h0)
    if getattr(rnn, "proj_size", 0):
        _expect_no_onednn_projections()
    if parametrize.is_parametrized(rnn):
        rnn._update_flat_weights()  # weight-drop: the kernels below read _flat_weights, not the property
    if lengths is None:
        return run_module(rnn, x, h0)
    if (need_state and rnn.mode == "LSTM") or packing_pays(rnn, x, lengths):
        return _run_packed(rnn, x, lengths, h0)
    out = _run_bidirectional(rnn, x, lengths, h0) if rnn.bidirectional else run_module(rnn, x, h0)[0]
    return out, (_final_hidden(out, lengths, rnn) if need_state else None)


def run_module(rnn: nn.RNNBase, x: Tensor, h0: State | None) -> tuple[Tensor, State]:
    # (B, T, F) -> (B, T, D*H), final state; GRU/RNN training on CPU takes seqtk.nn.fast_rnn where measured faster
    return fast_rnn.run_module(rnn, x, h0) if fast_rnn.use_fast(rnn, x) else rnn(x, h0)


#: inference on a CPU packs a ragged batch for PyTorch's GRU/RNN kernels when its share of real steps is below this
_PACK_BELOW = {"GRU": 0.9, "RNN_TANH": 0.6, "RNN_RELU": 0.6}
#: ... and when it has this many rows at least (at 4 rows packing measured 0.95-1.09x, at 8 1.06-1.16x)
_PACK_FROM_ROWS = 8


def packing_pays(rnn: nn.RNNBase, x: Tensor, lengths: Tensor) -> bool:
    """Should inference run this ragged batch as a packed sequence? A packed GRU steps only the rows still running
    and runs both directions in one call, where the padded route steps every row to the longest and reverses the
    backward one by gathers. Measured (``docs/performance.md``, bidirectional, 100 -> 64, T = 45, one thread):
    a GRU at batch 64 1.2-2.0x faster packed for 52-94% real steps, at batch 4-16 0.95-1.3x; a tanh RNN 1.8x at
    53% but 0.8-0.9x above 80%; an LSTM slower packed (oneDNN's padded kernel has no packed form), so it never is.
    Training keeps the padded route (packing cost 0.3-0.7x there, module docstring)."""
    below = _PACK_BELOW.get(rnn.mode)
    if below is None or torch.is_grad_enabled() or x.device.type != "cpu":
        return False
    if torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.compiler.is_exporting():
        return False
    return lengths.numel() >= _PACK_FROM_ROWS and float(lengths.sum()) < below * lengths.numel() * x.size(1)


def _run_packed(rnn: nn.RNNBase, x: Tensor, lengths: Tensor, h0: State | None) -> tuple[Tensor, State]:
    # (B, T, F) -> (B, T, D*H); slow in training, but the only exact route to an LSTM's cell state at ragged ends
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, final = rnn(packed, h0)
    return pad_packed_sequence(out, batch_first=True, total_length=x.size(1))[0], final


def _run_bidirectional(rnn: nn.RNNBase, x: Tensor, lengths: Tensor, h0: State | None) -> Tensor:
    # (B, T, F) -> (B, T, 2H): the backward direction reads each sequence reversed within its length
    if h0 is None:
        h0 = tuple(x.new_zeros(2, x.size(0), *shape) for shape in state_shapes(rnn))
        h0 = h0 if rnn.mode == "LSTM" else h0[0]
    forward_h0, backward_h0 = _split_directions(h0)
    weights = rnn._flat_weights  # per direction: w_ih, w_hh, b_ih, b_hh
    half = len(weights) // 2
    order = reverse_within(lengths, x.size(1))  # (B, T)
    ahead = _one_direction(rnn, x, forward_h0, weights[:half])
    back = _one_direction(rnn, gather_steps(x, order), backward_h0, weights[half:])
    return torch.cat([ahead, gather_steps(back, order)], dim=-1)


def _one_direction(rnn: nn.RNNBase, x: Tensor, h0: State, weights: list[Tensor]) -> Tensor:
    # (B, T, F) -> (B, T, H) with the fused kernel (oneDNN / cuDNN), not a Python loop
    if rnn.mode != "LSTM" and fast_rnn.use_fast(rnn, x):
        return fast_rnn.run_direction(rnn.mode, x, h0, weights)
    args = (weights, rnn.bias, 1, 0.0, rnn.training, False, True)
    op = (lambda: torch.lstm(x, list(h0), *args)[0]) if rnn.mode == "LSTM" else (
        lambda: _DIRECTION_OPS[rnn.mode](x, h0, *args)[0])
    if x.is_cuda:
        _expect_weight_compaction()
    return op()


_WEIGHT_WARNING = "RNN module weights are not part of single contiguous chunk"
_weight_warning_filtered = False


def _expect_weight_compaction() -> None:
    """Silence PyTorch's weight-compaction warning where seqtk's own call raises it, once per process.

    cuDNN takes a weight buffer only where the module's flat buffer starts, so for the reverse half it
    compacts a copy of that direction's weights per call and PyTorch warns; measured on an H200 this route
    still ran 5.6-7.5x faster than one packed call (module docstring), so the copy is expected. The filter
    names this module, so the same warning from a user's own nn.LSTM still shows; it is added on the first
    CUDA call rather than per call, because ``warnings.catch_warnings`` per call would reset Python's
    once-per-location memory and repeat every other warning at each step.
    """
    global _weight_warning_filtered
    if not _weight_warning_filtered:
        warnings.filterwarnings("ignore", message=_WEIGHT_WARNING, category=UserWarning, module=re.escape(__name__))
        _weight_warning_filtered = True


_PROJECTION_WARNING = "LSTM with projections is not supported with oneDNN"


_projection_warning_filtered = False


def _expect_no_onednn_projections() -> None:
    """PyTorch warns on every process's first LSTM with projections on a CPU that oneDNN cannot run it;
    ``seqtk summary`` says so in the layer's kernel (ATen), so the warning is silenced, once per process
    (adding a filter resets Python's once-per-location memory of every other warning)."""
    global _projection_warning_filtered
    if not _projection_warning_filtered:
        warnings.filterwarnings("ignore", message=_PROJECTION_WARNING, category=UserWarning)
        _projection_warning_filtered = True


def _run_cells(layer: CellLayer, x: Tensor, lengths: Tensor | None, h0: State | None) -> tuple[Tensor, State]:
    # (B, T, F) -> (B, T, D*H), final state (D, B, H) [each of (h, c)]; the reference scan stops each
    # row's state at its length, so final states are exact without packing
    order = reverse_within(lengths, x.size(1)) if lengths is not None and layer.bidirectional else None
    outputs, finals = [], []
    for d, cell in enumerate(layer.directions):
        start = None if h0 is None else tuple(part[d] for part in (h0 if isinstance(h0, tuple) else (h0,)))
        if d == 1:  # the backward direction reads each sequence reversed (within its length)
            x = x.flip(1) if order is None else gather_steps(x, order)
        out, final = cell(x, start, lengths)
        outputs.append(out if d == 0 else out.flip(1) if order is None else gather_steps(out, order))
        finals.append(final)
    stacked = tuple(torch.stack(parts) for parts in zip(*finals))  # each (D, B, ...)
    return torch.cat(outputs, dim=-1), stacked if layer.state_size > 1 else stacked[0]


def _split_directions(h0: State) -> tuple[State, State]:
    if isinstance(h0, tuple):
        return (h0[0][:1], h0[1][:1]), (h0[0][1:], h0[1][1:])
    return h0[:1], h0[1:]


def _final_hidden(out: Tensor, lengths: Tensor, rnn: nn.RNNBase) -> Tensor:
    # (B, T, D*H) -> (D, B, H): forward at the true last step, backward at step 0
    hidden = getattr(rnn, "proj_size", 0) or rnn.hidden_size
    parts = [at_step(out[..., :hidden], lengths - 1)]
    if rnn.bidirectional:
        parts.append(out[:, 0, hidden:])
    return torch.stack(parts)


def last_step(out: Tensor, lengths: Tensor | None, hidden: int, bidirectional: bool) -> Tensor:
    # (B, T, D*H) -> (B, D*H)
    if lengths is None:
        ahead = out[:, -1, :hidden]
    else:
        ahead = at_step(out[..., :hidden], lengths - 1)
    return torch.cat([ahead, out[:, 0, hidden:]], dim=-1) if bidirectional else ahead


def reverse_within(lengths: Tensor, steps: int) -> Tensor:
    # (B,) -> (B, T) time indices: row b is L_b-1, ..., 0, then L_b, ..., T-1 (padding stays put)
    t = torch.arange(steps, device=lengths.device).unsqueeze(0)
    last = lengths.unsqueeze(1) - 1
    return torch.where(t <= last, last - t, t)


def gather_steps(x: Tensor, order: Tensor) -> Tensor:
    # (B, T, F), (B, T) -> (B, T, F) with out[b, t] = x[b, order[b, t]]
    return x.gather(1, order.unsqueeze(-1).expand(-1, -1, x.size(-1)))


def at_step(x: Tensor, step: Tensor) -> Tensor:
    # (B, T, F), (B,) -> (B, F)
    return x.gather(1, step.view(-1, 1, 1).expand(-1, 1, x.size(-1))).squeeze(1)
