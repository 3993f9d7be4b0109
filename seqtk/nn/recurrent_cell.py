"""The interface every Python cell implements, and the written-out steps the fused modules' generation shares.

:class:`RecurrentCell` holds what a cell has in common: its parameters
(``weight_ih``, ``weight_hh``, ``bias``, stacked in gate blocks as PyTorch
stacks them), the input projection, and three ways to run the recurrence: the
readable step written from the equations (:meth:`~RecurrentCell.recur`, one
step from the projected input, what generation runs), the fast training form
(``forward``; cells with a parallel scan override it) and the step-by-step
reference (:meth:`~RecurrentCell.scan_steps`) that the tests hold the fast
form equal to. ``from_torch`` and ``to_torch`` convert weights to and from
``nn.RNN``/``nn.LSTM``/``nn.GRU`` for cells whose equations agree exactly.
The lectures' cells are in :mod:`seqtk.nn.cells`, the modern ones in
:mod:`seqtk.nn.min_rnn`, :mod:`seqtk.nn.ln_lstm` and :mod:`seqtk.nn.xlstm`.

:func:`elman_step`, :func:`lstm_step` and :func:`gru_step` are the equations
of the cells PyTorch also fuses, written out once: the reference cells step
through them, and so does :mod:`seqtk.nn.lm`'s generation on the fused modules'
weights.

The scan hoists the input projection out of the time loop (one GEMM over all
B·T rows) and walks the steps with ``unbind``: indexing ``xp[:, t]`` inside the
loop would be ~3x slower in training (measured), because the backward of every
slice zero-fills a gradient of the full (B, T, G) size.

>>> class Tanh(RecurrentCell):
...     def recur(self, xp, state):
...         return elman_step(xp, state, self.weight_hh.t(), self.act)
>>> out, (h,) = Tanh(3, 4)(torch.randn(2, 5, 3))
>>> out.shape, h.shape
(torch.Size([2, 5, 4]), torch.Size([2, 4]))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqtk.errors import SeqtkValueError
from seqtk.nn.cell_weights import no_torch_form, torch_weights

State = tuple[Tensor, ...]  # (h,) or (h, c), each (B, H)
NONLINEARITIES = ("tanh", "relu")
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "relu": torch.relu}


# -- the equations of the cells PyTorch also fuses: one written-out form, used by the cells below and by
# -- seqtk.nn.lm's step-by-step generation on the fused modules' weights (w_hh_t is the transposed weight_hh)
def elman_step(xp: Tensor, state: State, w_hh_t: Tensor, act: Callable[[Tensor], Tensor]) -> tuple[Tensor, State]:
    """``h_t = act(U x_t + b + W h_{t-1})``: (B, H) projected input, ((B, H),) -> (B, H), new state."""
    h = act(torch.addmm(xp, state[0], w_hh_t))
    return h, (h,)


def lstm_step(xp: Tensor, state: State, w_hh_t: Tensor, act: Callable[[Tensor], Tensor]) -> tuple[Tensor, State]:
    """``c_t = f ⊙ c_{t-1} + i ⊙ act(g)``, ``h_t = o ⊙ act(c_t)``, gates i, f, g, o:
    (B, 4H) projected input, ((B, H), (B, H)) -> (B, H), new state."""
    h, c = state
    i, f, g, o = torch.addmm(xp, h, w_hh_t).chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * act(g)
    h = torch.sigmoid(o) * act(c)
    return h, (h, c)


def gru_step(
    xp: Tensor, state: State, w_hh_t: Tensor, b_hh: Tensor, act: Callable[[Tensor], Tensor]
) -> tuple[Tensor, State]:
    """The cuDNN-form GRU, the lectures' z: ``g = act(U^g x + b^g + r ⊙ (W^g h + b^{hg}))``,
    ``h_t = (1 - z) ⊙ h_{t-1} + z ⊙ g``: (B, 3H) projected input (blocks r, z, g), ((B, H),) -> (B, H)."""
    h = state[0]
    size = h.size(1)
    rec = torch.addmm(b_hh, h, w_hh_t)  # (B, 3H)
    r, z = torch.sigmoid(xp[:, : 2 * size] + rec[:, : 2 * size]).chunk(2, dim=1)
    g = act(torch.addcmul(xp[:, 2 * size :], r, rec[:, 2 * size :]))
    h = torch.lerp(h, g, z)  # (1 - z) ⊙ h + z ⊙ g
    return h, (h,)


class RecurrentCell(nn.Module):
    """Base of the reference cells: parameters, projection, step and scan.

    ``weight_ih`` (G·H, F), ``weight_hh`` (G·H, H) and ``bias`` (G·H) stack
    ``blocks`` = G gate blocks of H rows each, as PyTorch stacks them.
    """

    blocks: ClassVar[int] = 1
    state_size: ClassVar[int] = 1  # 1: the state is h; 2: (h, c)
    #: further parameter vectors: name -> size in blocks of H (peepholes, GRU's recurrent bias)
    vectors: ClassVar[dict[str, int]] = {}
    #: the PyTorch module with the same equations, if any
    torch_class: ClassVar[type[nn.RNNBase] | None] = None
    #: False for cells whose gates read only x_t (minGRU, minLSTM, mLSTM): no ``weight_hh``
    recurrent: ClassVar[bool] = True
    #: LayerSpec fields the cell takes as keyword arguments besides the nonlinearity (e.g. ``heads``)
    options: ClassVar[tuple[str, ...]] = ()
    #: how ``forward`` runs a sequence, for ``seqtk summary``
    training_form: ClassVar[str] = "Python cell, one step at a time"

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh") -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SeqtkValueError(f"{name} must be a positive integer, got {value!r}", fix=f"set {name}=8, say")
        if nonlinearity not in NONLINEARITIES:
            raise SeqtkValueError(f"unknown nonlinearity {nonlinearity!r}", fix=f"use one of {', '.join(NONLINEARITIES)}")
        self.input_size, self.hidden_size, self.nonlinearity = input_size, hidden_size, nonlinearity
        rows = self.blocks * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        if self.recurrent:
            self.weight_hh = nn.Parameter(torch.empty(rows, self.recurrent_width()))
        self.bias = nn.Parameter(torch.empty(rows))
        for name, size in self.vectors.items():
            self.register_parameter(name, nn.Parameter(torch.empty(size * hidden_size)))
        self.reset_parameters()

    def recurrent_width(self) -> int:
        """Columns of ``weight_hh``: the size of the h it reads (H; an LSTM with projections reads P)."""
        return self.hidden_size

    @property
    def output_size(self) -> int:
        """Features of h_t, the cell's output (H, or P with projections)."""
        return self.hidden_size

    def state_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Each state part's shape after the batch dimension: ``((H,),)`` for h, ``((H,), (H,))`` for (h, c)."""
        return ((self.hidden_size,),) * self.state_size

    def reset_parameters(self) -> None:
        """PyTorch's default: every parameter uniform in ±1/sqrt(H)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def act(self, x: Tensor) -> Tensor:
        """The cell's activation (tanh, or ReLU as in Keras ``activation="relu"``)."""
        return ACTIVATIONS[self.nonlinearity](x)

    def project(self, x: Tensor) -> Tensor:
        # (..., F) -> (..., G·H): the input half of every gate, independent of the state
        return F.linear(x, self.weight_ih, self.bias)

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        """One step from the projected input: (B, G·H), state -> h (B, H), new state."""
        raise NotImplementedError

    def stepper(self) -> Callable[[Tensor, State], tuple[Tensor, State]]:
        """:meth:`recur`, with the weights looked up once: generation steps one token at a time,
        where a module's attribute lookups and transposes are a tenth of the time per token."""
        return self.recur

    def zero_state(self, batch: int, like: Tensor) -> State:
        """The state a sequence starts from: zeros of :meth:`state_shapes`, on ``like``'s device and dtype."""
        return tuple(like.new_zeros(batch, *shape) for shape in self.state_shapes())

    def step(self, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """One time step: x (B, F) -> h (B, H) and the new state."""
        # (B, F) -> (B, H)
        return self.recur(self.project(x), state if state is not None else self.zero_state(x.size(0), x))

    def forward(self, x: Tensor, state: State | None = None, lengths: Tensor | None = None) -> tuple[Tensor, State]:
        """Scan a batch-first sequence: (B, T, F) -> outputs (B, T, H) and the final state.

        With ``lengths`` (B,) the state stops changing after each sequence's
        last step, so the final state is the one at its true end. Cells with a
        faster training form (a parallel scan) override this; :meth:`scan_steps`
        stays the step-by-step reference that tests compare them with.
        """
        # (B, T, F) -> (B, T, H)
        return self.scan_steps(x, state, lengths)

    def scan_steps(self, x: Tensor, state: State | None = None, lengths: Tensor | None = None) -> tuple[Tensor, State]:
        """:meth:`forward` as a loop over :meth:`recur`: (B, T, F) -> (B, T, H), final state."""
        # (B, T, F) -> (B, T, H)
        state = state if state is not None else self.zero_state(x.size(0), x)
        xp = self.project(x)  # (B, T, G·H): one GEMM over all B·T rows, outside the loop
        alive = None
        if lengths is not None:  # (B, T, 1): is step t inside sequence b?
            alive = (torch.arange(x.size(1), device=x.device) < lengths.unsqueeze(1)).unsqueeze(-1).unbind(1)
        outputs = []
        for t, xp_t in enumerate(xp.unbind(1)):
            h, new = self.recur(xp_t, state)
            if alive is not None:  # (B, 1) viewed as (B, 1, ...) for state parts with more dimensions (mLSTM's C)
                state = tuple(torch.where(alive[t].view(-1, *(1,) * (n.dim() - 1)), n, s) for n, s in zip(new, state))
            else:
                state = new
            outputs.append(h)
        return torch.stack(outputs, dim=1), state

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"

    # -- conversion to and from PyTorch's modules -----------------------------------
    @classmethod
    def from_torch(cls, module: nn.Module) -> RecurrentCell:
        """A cell with the weights of a single-layer, unidirectional PyTorch module (or ``*Cell``)."""
        if cls.torch_class is None:
            raise no_torch_form(cls)
        w_ih, w_hh, b_ih, b_hh = torch_weights(module, cls.torch_class)
        nonlinearity = "relu" if getattr(module, "nonlinearity", "tanh") == "relu" else "tanh"
        kwargs = {"nonlinearity": nonlinearity} if cls.torch_class is nn.RNN else {}
        with torch.device("meta"):  # no initialisation drawn: every parameter is overwritten below
            cell = cls(w_ih.size(1), w_hh.size(1), **kwargs)
        cell = cell.to_empty(device=w_ih.device).to(dtype=w_ih.dtype)
        with torch.no_grad():
            cell._load_torch(w_ih.detach(), w_hh.detach(), b_ih.detach(), b_hh.detach())
        return cell

    def to_torch(self) -> nn.RNNBase:
        """The equivalent batch-first PyTorch module (same outputs and gradients)."""
        if self.torch_class is None or (self.nonlinearity == "relu" and self.torch_class is not nn.RNN):
            raise no_torch_form(type(self), self.nonlinearity)
        kwargs = {"nonlinearity": self.nonlinearity} if self.torch_class is nn.RNN else {}
        module = self.torch_class(self.input_size, self.hidden_size, batch_first=True, **kwargs)
        module = module.to(device=self.weight_ih.device, dtype=self.weight_ih.dtype)
        with torch.no_grad():
            for name, value in zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), self._torch_tensors()):
                getattr(module, name).copy_(value)
        return module

    def _load_torch(self, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> None:
        # PyTorch keeps two bias vectors whose sum is all that matters (Keras and the lectures keep one)
        self.weight_ih.copy_(w_ih)
        self.weight_hh.copy_(w_hh)
        self.bias.copy_(b_ih + b_hh)

    def _torch_tensors(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.weight_ih, self.weight_hh, self.bias, torch.zeros_like(self.bias)
