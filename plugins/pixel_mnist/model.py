"""The recurrent image classifier: a :class:`seqtk.nn.encoders.StackedEncoder`, then Dense(classes).

The encoder reads a (B, T, F) sequence view (:mod:`.views`); the head reads
the last layer's final state: the forward direction at the last step and, for
a bidirectional layer, the backward direction at the first step.

IRNN (Le, Jaitly and Hinton 2015, "A simple way to initialize recurrent
networks of rectified linear units"): a plain RNN with ReLU whose recurrent
weights start as the identity and whose biases start at zero, so that at
initialisation the state carries each input forward unchanged, and gradients
neither vanish nor explode over hundreds of steps. Layers with
``init = "irnn"`` get it after construction (:func:`irnn_init`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from seqtk.nn.encoders import LayerSpec, StackedEncoder


class PixelClassifier(nn.Module):
    """Sequence view in, class logits out.

    >>> from seqtk_plugins.pixel_mnist.config import PixelLayer
    >>> model = PixelClassifier(28, [PixelLayer("gru", 16, bidirectional=True)], num_classes=10)
    >>> model(torch.rand(4, 28, 28)).shape
    torch.Size([4, 10])
    """

    def __init__(self, input_size: int, layers: Sequence[LayerSpec], num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        specs = list(layers)
        specs[-1] = dataclasses.replace(specs[-1], return_sequences=False)  # the head reads one vector per image
        self.encoder = StackedEncoder(input_size, specs)
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.head = nn.Linear(self.encoder.output_dim, num_classes)
        for spec, rnn in zip(specs, self.encoder.layers):
            if getattr(spec, "init", "default") == "irnn":
                irnn_init(rnn)

    def forward(self, x: Tensor) -> Tensor:
        # (B, T, F) -> (B, D*H) final state -> (B, C) logits
        return self.head(self.dropout(self.encoder(x)))


def irnn_init(rnn: nn.RNNBase) -> None:
    """Identity recurrent weights and zero biases, in every direction of ``rnn``.

    >>> rnn = nn.RNN(3, 4, nonlinearity="relu", bidirectional=True)
    >>> irnn_init(rnn)
    >>> torch.equal(rnn.weight_hh_l0_reverse, torch.eye(4)), float(rnn.bias_ih_l0.detach().abs().sum())
    (True, 0.0)
    """
    with torch.no_grad():
        for name, param in rnn.named_parameters():
            if name.startswith("weight_hh"):
                param.copy_(torch.eye(param.size(0), param.size(1)))
            elif name.startswith("bias"):
                param.zero_()
