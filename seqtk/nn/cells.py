"""Reference recurrent cells, written from the lectures' equations (see ``docs/cells.md``).

Each cell is an ``nn.Module`` with a single-step method (:meth:`RecurrentCell.step`)
and a sequence scan (``forward``). They are slower than the fused kernels but
readable, and they have variants the fused kernels lack: ReLU activations in
an LSTM (Keras ``LSTM(activation="relu")``), peephole connections, coupled
gates, the GRU of Cho et al. (reset before the matmul) and identity-initialised
ReLU RNNs (IRNN). The interface they implement, :class:`RecurrentCell`, and the
written-out steps they share with generation are in :mod:`seqtk.nn.recurrent_cell`.

``from_torch(module)`` and ``to_torch()`` convert weights to and from
``nn.RNN``/``nn.LSTM``/``nn.GRU`` (and their ``*Cell`` forms) where the
equations agree exactly; the converted models give equal outputs and gradients.

>>> lstm = nn.LSTM(3, 5, batch_first=True)
>>> cell, x = LSTMCell.from_torch(lstm), torch.randn(2, 4, 3)
>>> torch.allclose(cell(x)[0], lstm(x)[0], atol=1e-6)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkValueError
from seqtk.nn.cell_weights import flip_update_gate

# RecurrentCell, State, the nonlinearities and the written-out steps are defined in seqtk.nn.recurrent_cell;
# importing them from here keeps working (plugins subclass seqtk.nn.cells.RecurrentCell).
from seqtk.nn.recurrent_cell import ACTIVATIONS, NONLINEARITIES, RecurrentCell, State, elman_step, gru_step, lstm_step

__all__ = [
    "ACTIVATIONS", "NONLINEARITIES", "REFERENCE_CELLS", "ChoGRUCell", "CoupledLSTMCell", "ElmanCell", "GRUCell",
    "IRNNCell", "LSTMCell", "PeepholeLSTMCell", "RecurrentCell", "State", "elman_step", "gru_step", "keras_init_",
    "lstm_step",
]


class ElmanCell(RecurrentCell):
    """Elman RNN: ``h_t = act(b + W h_{t-1} + U x_t)``.

    >>> cell = ElmanCell(3, 4)
    >>> h, (state,) = cell.step(torch.randn(2, 3))
    >>> h.shape
    torch.Size([2, 4])
    """

    torch_class = nn.RNN

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        # (B, H), ((B, H),) -> (B, H)
        return elman_step(xp, state, self.weight_hh.t(), ACTIVATIONS[self.nonlinearity])

    def stepper(self) -> Callable[[Tensor, State], tuple[Tensor, State]]:
        return partial(elman_step, w_hh_t=self.weight_hh.t(), act=ACTIVATIONS[self.nonlinearity])


class IRNNCell(ElmanCell):
    """Elman RNN with ReLU, identity recurrent matrix and zero bias at init (Le et al. 2015).

    >>> torch.equal(IRNNCell(2, 3).weight_hh, torch.eye(3))
    True
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "relu") -> None:
        super().__init__(input_size, hidden_size, "relu")  # ReLU is what makes the identity init work

    def reset_parameters(self) -> None:
        super().reset_parameters()
        with torch.no_grad():
            self.weight_hh.copy_(torch.eye(self.hidden_size))
            self.bias.zero_()


class LSTMCell(RecurrentCell):
    """LSTM (Hochreiter & Schmidhuber 1997), gates stacked in PyTorch's order i, f, g, o.

    ``c_t = f ⊙ c_{t-1} + i ⊙ g``, ``h_t = o ⊙ act(c_t)``; ``act`` is tanh or ReLU.
    One bias per gate, as in Keras and the lectures (PyTorch keeps two).
    """

    blocks = 4
    state_size = 2
    torch_class = nn.LSTM

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        # (B, 4H), ((B, H), (B, H)) -> (B, H)
        return lstm_step(xp, state, self.weight_hh.t(), ACTIVATIONS[self.nonlinearity])

    def stepper(self) -> Callable[[Tensor, State], tuple[Tensor, State]]:
        return partial(lstm_step, w_hh_t=self.weight_hh.t(), act=ACTIVATIONS[self.nonlinearity])


class PeepholeLSTMCell(LSTMCell):
    """LSTM with diagonal peepholes (Gers & Schmidhuber 2000): c_{t-1} feeds f and i, c_t feeds o.

    ``from_torch`` starts the peepholes at zero (then it equals the LSTM);
    ``to_torch`` works only while they are zero.
    """

    vectors = {"peephole_i": 1, "peephole_f": 1, "peephole_o": 1}

    def stepper(self) -> Callable[[Tensor, State], tuple[Tensor, State]]:
        return self.recur  # its own equations, not the plain LSTM's

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        # (B, 4H), ((B, H), (B, H)) -> (B, H)
        h, c_prev = state
        i, f, g, o = torch.addmm(xp, h, self.weight_hh.t()).chunk(4, dim=1)
        i = torch.sigmoid(torch.addcmul(i, self.peephole_i, c_prev))
        f = torch.sigmoid(torch.addcmul(f, self.peephole_f, c_prev))
        c = f * c_prev + i * self.act(g)
        o = torch.sigmoid(torch.addcmul(o, self.peephole_o, c))
        h = o * self.act(c)
        return h, (h, c)

    def _load_torch(self, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> None:
        super()._load_torch(w_ih, w_hh, b_ih, b_hh)
        for p in (self.peephole_i, self.peephole_f, self.peephole_o):
            p.zero_()

    def _torch_tensors(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if any(bool(p.detach().abs().max() > 0) for p in (self.peephole_i, self.peephole_f, self.peephole_o)):
            raise SeqtkValueError(
                "this peephole LSTM has non-zero peephole weights, which nn.LSTM cannot represent",
                fix="zero peephole_i, peephole_f and peephole_o first, or keep the reference cell",
            )
        return super()._torch_tensors()


class CoupledLSTMCell(RecurrentCell):
    """LSTM with coupled input and forget gates: ``i = 1 - f``; blocks f, g, o.

    >>> CoupledLSTMCell(1, 50).weight_hh.shape  # three gate blocks instead of four
    torch.Size([150, 50])
    """

    blocks = 3
    state_size = 2

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        # (B, 3H), ((B, H), (B, H)) -> (B, H)
        h, c = state
        f, g, o = torch.addmm(xp, h, self.weight_hh.t()).chunk(3, dim=1)
        c = torch.lerp(self.act(g), c, torch.sigmoid(f))  # f ⊙ c + (1 - f) ⊙ g
        h = torch.sigmoid(o) * self.act(c)
        return h, (h, c)


class GRUCell(RecurrentCell):
    """GRU in the cuDNN/PyTorch form (reset applied after the recurrent matmul), lectures' sense of z.

    ``r, z = σ(...)``, ``g = act(U^g x + b^g + r ⊙ (W^g h + b^{hg}))``,
    ``h_t = (1 - z) ⊙ h_{t-1} + z ⊙ g``. PyTorch's update gate is 1 - z:
    ``from_torch``/``to_torch`` negate its rows (σ(-a) = 1 - σ(a)). Blocks r, z, g.
    """

    blocks = 3
    vectors = {"bias_hh": 3}  # the bias inside r ⊙ (W h + b): it cannot merge into `bias`
    torch_class = nn.GRU

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        # (B, 3H), ((B, H),) -> (B, H)
        return gru_step(xp, state, self.weight_hh.t(), self.bias_hh, ACTIVATIONS[self.nonlinearity])

    def stepper(self) -> Callable[[Tensor, State], tuple[Tensor, State]]:
        return partial(gru_step, w_hh_t=self.weight_hh.t(), b_hh=self.bias_hh, act=ACTIVATIONS[self.nonlinearity])

    def _load_torch(self, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> None:
        for mine, theirs in zip((self.weight_ih, self.weight_hh, self.bias, self.bias_hh), (w_ih, w_hh, b_ih, b_hh)):
            mine.copy_(flip_update_gate(theirs, self.hidden_size))

    def _torch_tensors(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        mine = (self.weight_ih, self.weight_hh, self.bias, self.bias_hh)
        return tuple(flip_update_gate(t, self.hidden_size) for t in mine)  # type: ignore[return-value]


class ChoGRUCell(RecurrentCell):
    """GRU of Cho et al. 2014: the reset gate scales h *before* the recurrent matmul.

    ``g = act(U^g x + W^g (r ⊙ h_{t-1}) + b^g)``, ``h_t = (1 - z) ⊙ h_{t-1} + z ⊙ g``.
    """

    blocks = 3

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        # (B, 3H), ((B, H),) -> (B, H)
        h = state[0]
        size = h.size(1)
        w_rz, w_g = self.weight_hh[: 2 * size], self.weight_hh[2 * size :]
        r, z = torch.sigmoid(torch.addmm(xp[:, : 2 * size], h, w_rz.t())).chunk(2, dim=1)
        g = self.act(torch.addmm(xp[:, 2 * size :], r * h, w_g.t()))
        h = torch.lerp(h, g, z)
        return h, (h,)


#: cell name in a LayerSpec -> reference cell class
REFERENCE_CELLS: dict[str, type[RecurrentCell]] = {
    "elman": ElmanCell,
    "irnn": IRNNCell,
    "ref_lstm": LSTMCell,
    "peephole_lstm": PeepholeLSTMCell,
    "coupled_lstm": CoupledLSTMCell,
    "ref_gru": GRUCell,
    "cho_gru": ChoGRUCell,
}


def keras_init_(cell: RecurrentCell) -> RecurrentCell:
    """Keras' initialisers, in place: glorot-uniform kernel, orthogonal recurrent kernel,
    zero biases and (LSTMs) a forget-gate bias of 1 (``unit_forget_bias``). Peepholes start at 0."""
    rows, fan_in = cell.weight_ih.shape
    with torch.no_grad():
        nn.init.uniform_(cell.weight_ih, -math.sqrt(6 / (fan_in + rows)), math.sqrt(6 / (fan_in + rows)))
        if cell.recurrent:
            recurrent = torch.empty(cell.recurrent_width(), rows, dtype=cell.weight_hh.dtype)
            cell.weight_hh.copy_(nn.init.orthogonal_(recurrent).t())  # Keras' recurrent kernel is (H, G·H)
        for name, p in cell.named_parameters():
            if name.startswith(("bias", "peephole")):
                p.zero_()
        forget = {LSTMCell: 1, PeepholeLSTMCell: 1, CoupledLSTMCell: 0}.get(type(cell))
        if forget is not None:
            h = cell.hidden_size
            cell.bias[forget * h : (forget + 1) * h] = 1.0
    return cell
