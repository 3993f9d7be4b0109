"""The layer-normalised LSTM of Ba, Kiros and Hinton (2016), "Layer Normalization", section 3.1.

``(f, i, o, g) = LN(W_x x_t; α_x) + LN(W_h h_{t−1}; α_h) + b``,
``c_t = σ(f) ⊙ c_{t−1} + σ(i) ⊙ tanh(g)``, ``h_t = σ(o) ⊙ tanh(LN(c_t; α_c, β_c))``
(gates stacked in PyTorch's order i, f, g, o here). Each LN normalises over
all 4H pre-activations of its matmul (over H for c_t), then scales by a gain
α; the shifts of the two gate LNs would only add to ``b``, so there is one
bias, as in the paper's equations. PyTorch has no such module (pytorch#6760).

The input half, ``LN(W_x x_t) + b``, does not depend on the state, so training
computes it for all steps at once (:meth:`LayerNormLSTMCell.project`: one GEMM
and one layer norm over B·T rows); the loop then does one matmul, one layer
norm over the gates and one over c_t per step.

>>> cell = LayerNormLSTMCell(3, 4)
>>> out, (h, c) = cell(torch.randn(2, 5, 3))
>>> out.shape, c.shape
(torch.Size([2, 5, 4]), torch.Size([2, 4]))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqtk.nn.cells import LSTMCell
from seqtk.nn.recurrent_cell import State

#: the layer norms' epsilon (PyTorch's default)
EPS = 1e-5


class LayerNormLSTMCell(LSTMCell):
    """LSTM with layer normalisation of both gate matmuls and of the cell state (Ba et al. 2016)."""

    torch_class = None  # nn.LSTM has no layer norm
    vectors = {"ln_x_gain": 4, "ln_h_gain": 4, "ln_c_gain": 1, "ln_c_shift": 1}

    def reset_parameters(self) -> None:
        """PyTorch's uniform ±1/sqrt(H) for the weights and bias; gains 1 and shift 0, as nn.LayerNorm."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name, p in self.named_parameters():
            if "gain" in name:
                nn.init.ones_(p)
            elif "shift" in name:
                nn.init.zeros_(p)
            else:
                nn.init.uniform_(p, -bound, bound)

    def project(self, x: Tensor) -> Tensor:
        # (..., F) -> (..., 4H): LN(W_x x; α_x) + b, the input half of every gate
        wx = F.linear(x, self.weight_ih)
        return torch.add(F.layer_norm(wx, wx.shape[-1:], self.ln_x_gain, None, EPS), self.bias)

    def stepper(self):  # noqa: ANN201 - the base's signature
        return self.recur  # its own equations, not the plain LSTM's

    def recur(self, xp: Tensor, state: State) -> tuple[Tensor, State]:
        # (B, 4H), ((B, H), (B, H)) -> (B, H)
        h, c = state
        wh = h @ self.weight_hh.t()
        i, f, g, o = (xp + F.layer_norm(wh, wh.shape[-1:], self.ln_h_gain, None, EPS)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * self.act(g)
        h = torch.sigmoid(o) * self.act(F.layer_norm(c, c.shape[-1:], self.ln_c_gain, self.ln_c_shift, EPS))
        return h, (h, c)
