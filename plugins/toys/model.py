"""The toy problems' network: a recurrent stack and a linear head (Keras' ``Dense``)."""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor, nn

from seqtk.nn.cells import keras_init_
from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.nn.recurrent_cell import RecurrentCell


class ToyNet(nn.Module):
    """``per_step``: one output per time step (binary_addition); else one vector per sequence.

    >>> net = ToyNet(1, [LayerSpec("ref_lstm", 50, nonlinearity="relu")], outputs=2, per_step=False)
    >>> net(torch.randn(4, 3, 1)).shape
    torch.Size([4, 2])
    >>> sum(p.numel() for p in net.parameters())  # Keras: LSTM(50) 10,400 + Dense(50 -> 2) 102
    10502
    """

    def __init__(self, input_size: int, layers: list[LayerSpec], outputs: int, per_step: bool) -> None:
        super().__init__()
        if not per_step:  # the last layer returns each sequence's last step, as Keras' default
            layers = layers[:-1] + [dataclasses.replace(layers[-1], return_sequences=False)]
        self.per_step = per_step
        self.encoder = StackedEncoder(input_size, layers)
        self.head = nn.Linear(self.encoder.output_dim, outputs)

    def forward(self, x: Tensor) -> Tensor:
        # (B, T, F) -> (B, K), or (B, T) when per_step
        h = self.encoder(x)  # (B, T, F) -> (B, H) or (B, T, H)
        out = self.head(h)  # -> (B, K) or (B, T, 1)
        return out.squeeze(-1) if self.per_step else out

    def keras_init_(self) -> None:
        """Keras' initialisers on every reference cell (fused layers keep PyTorch's) and on the head."""
        for module in self.encoder.modules():
            if isinstance(module, RecurrentCell):
                keras_init_(module)
        with torch.no_grad():
            fan_out, fan_in = self.head.weight.shape
            bound = (6 / (fan_in + fan_out)) ** 0.5
            self.head.weight.uniform_(-bound, bound)
            self.head.bias.zero_()
