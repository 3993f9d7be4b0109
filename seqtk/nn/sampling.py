"""Picking the next token from logits: argmax, or a draw at a temperature with top-k and nucleus filters.

A draw is the exponential race ``torch.multinomial(probs, 1)`` itself runs: the token with the largest
``probs / noise`` for ``Exp(1)`` noise from the caller's generator. Every decoding route picks this way
(:mod:`seqtk.nn.steppers`, :mod:`seqtk.nn.graph_step`, and in ONNX :mod:`seqtk.nn.step_graph`), so a seed
gives the same tokens on each.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    generator: torch.Generator | None = None,
    noise: Tensor | None = None,
) -> Tensor:
    """Pick one token per row; temperature 0 is argmax. ``noise``: this draw's Exp(1) noise, (B, V), when the
    caller drew it ahead (:class:`RaceNoise`); otherwise it is drawn from ``generator`` here.

    >>> sample_next(torch.tensor([[0.0, 5.0, 1.0]]), temperature=0)
    tensor([1])
    """
    # (B, V) -> (B,)
    if temperature < torch.finfo(logits.dtype).tiny:  # 0, or so small it is 0 (or subnormal) in the logits' dtype
        return logits.argmax(dim=-1)
    if temperature != 1.0:
        # Shifting the maximum to 0 first keeps it finite: dividing by a tiny temperature
        # then sends the others to -inf (near-greedy) instead of overflowing to inf.
        logits = (logits - logits.amax(dim=-1, keepdim=True)) / temperature
    if 0 < top_k < logits.size(-1):
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        ordered, order = logits.sort(dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        # Drop a token once the more likely ones already cover top_p; the most likely always stays.
        ordered = ordered.masked_fill(probs.cumsum(dim=-1) - probs >= top_p, float("-inf"))
        logits = logits.scatter(-1, order, ordered)
    # torch.multinomial(probs, 1) draws exactly this (the exponential race: argmax of p / Exp(1) noise from the
    # same generator), in a third of its time at batch 1; tests/nn/test_steppers.py holds the two equal
    probs = logits.softmax(dim=-1)
    if noise is None:
        noise = torch.empty_like(probs).exponential_(1, generator=generator)
    return probs.div_(noise).argmax(dim=-1)


class RaceNoise:
    """The Exp(1) noise of :func:`sample_next`'s exponential race for ``steps`` draws of (B, V), drawn from the
    generator ``chunk`` draws at a time: the same numbers in the same order as one draw per step (PyTorch's
    CPU sampler fills a tensor in order; tests/nn/test_steppers.py holds it), at a fraction of the calls.
    Only a call that stops early (``stop_id``) leaves the generator further on than drawing per step would.
    """

    def __init__(self, generator: torch.Generator | None, shape: tuple[int, int], steps: int,
                 like: Tensor, chunk: int = 64) -> None:  # fmt: skip
        # CUDA's sampler offsets its counter per call, so there a chunk would not draw what per-step calls draw
        chunk = chunk if like.device.type == "cpu" else 1
        self.generator, self.shape, self.left, self.like, self.chunk = generator, shape, steps, like, chunk
        self.block: Tensor | None = None
        self.at = 0

    def next(self) -> Tensor:
        # -> (B, V)
        self._refill()
        self.at += 1
        return self.block[self.at - 1]

    def take(self, count: int) -> Tensor:
        """The next ``count`` draws at once, as ``count`` calls of :meth:`next` give them. # -> (count, B, V)"""
        if count < 1:
            return self.like.new_empty((0, *self.shape))
        parts = []
        while count:
            self._refill()
            n = min(count, self.block.size(0) - self.at)
            parts.append(self.block[self.at : self.at + n])
            self.at, count = self.at + n, count - n
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _refill(self) -> None:
        if self.block is None or self.at == self.block.size(0):
            size = min(self.chunk, self.left) if self.left > 0 else self.chunk  # past `steps`: more, in order
            self.block = self.like.new_empty((size, *self.shape)).exponential_(1, generator=self.generator)
            self.left -= size
            self.at = 0


class RowNoise:
    """:class:`RaceNoise` with one generator per row: row i draws exactly what a batch of one with generator i
    draws, so a row of a batch samples what the same seed gives alone (``seqtk serve`` batches requests this
    way). Each row's noise comes ``chunk`` draws at a time, as :class:`RaceNoise`'s does."""

    def __init__(self, generators: list[torch.Generator], vocab: int, steps: int, like: Tensor,
                 chunk: int = 64) -> None:  # fmt: skip
        self.rows = [RaceNoise(generator, (1, vocab), steps, like, chunk) for generator in generators]

    @classmethod
    def of(cls, rows: list[RaceNoise]) -> RowNoise:
        """The rows' own noise sources, each (1, V), as one for their batch (a rolling batch's rows, which
        joined at different steps and so stand at different places in their streams)."""
        noise = cls.__new__(cls)
        noise.rows = rows
        return noise

    def next(self) -> Tensor:
        # -> (B, V)
        return torch.cat([row.next() for row in self.rows])

    def take(self, count: int) -> Tensor:
        # -> (count, B, V)
        return torch.cat([row.take(count) for row in self.rows], dim=1)


def race_noise(generator: torch.Generator | Sequence[torch.Generator] | None, logits: Tensor,
               steps: int) -> RaceNoise | RowNoise:  # fmt: skip
    """The noise source for ``steps`` draws of ``logits``' shape (B, V): from one generator, or one per row."""
    if generator is None or isinstance(generator, torch.Generator):
        return RaceNoise(generator, (logits.size(0), logits.size(1)), steps, logits)
    return RowNoise(list(generator), logits.size(1), steps, logits)
