"""The recurrent image classifier: a :class:`seqtk.nn.encoders.StackedEncoder`, then Dense(classes).

The encoder reads a (B, T, F) sequence view (:mod:`.views`); the head reads
the last layer's final state: the forward direction at the last step and, for
a bidirectional layer, the backward direction at the first step.

IRNN (Le, Jaitly and Hinton 2015): a layer with ``init = "irnn"`` (a
``[[model.layers]]`` key, or the shorthand's ``model.init``) starts with
identity recurrent weights and zero biases; the core's encoder sets them
(:func:`seqtk.nn.encoders.irnn_init`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from seqtk.nn.encoders import LayerSpec, StackedEncoder


class PixelClassifier(nn.Module):
    """Sequence view in, class logits out.

    >>> model = PixelClassifier(28, [LayerSpec("gru", 16, bidirectional=True)], num_classes=10)
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

    def forward(self, x: Tensor) -> Tensor:
        # (B, T, F) -> (B, D*H) final state -> (B, C) logits
        return self.head(self.dropout(self.encoder(x)))

