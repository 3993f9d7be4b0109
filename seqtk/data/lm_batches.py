"""Batches for language models over one stream of token ids: random windows, carried streams, eval windows.

Every batch is a pair ``(x, y)`` of LongTensors of shape ``(B, T)``, where
``y`` is ``x`` shifted by one token (the next-token targets). The textgen
(characters) and music (ABC tokens) tasks both train on them, so they live
in the core, not in one plugin that the other would import.

Training batches come from a per-epoch *plan* (see :mod:`seqtk.data.batches`): the
plan of epoch ``e`` depends only on ``(seed, e)``, so a resumed run sees the
same batches as an uninterrupted one. That holds for AWD-LSTM's variable-length
BPTT too (:func:`variable_lengths`): the lengths are part of the plan.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

from seqtk.data.batches import epoch_generator

Batch = tuple[Tensor, Tensor]


class WindowBatches:
    """Random windows: each batch is ``batch_size`` windows at random offsets.

    An epoch has ``(N - 1) // (B * T)`` batches, about one pass over the text.

    >>> wb = WindowBatches(torch.arange(100), batch_size=2, seq_len=4, seed=0)
    >>> x, y = wb.collate(wb.plan(0)[0])
    >>> x.shape, bool((y == x + 1).all())
    (torch.Size([2, 4]), True)
    """

    def __init__(self, ids: Tensor, batch_size: int, seq_len: int, seed: int) -> None:
        self.ids, self.batch_size, self.seq_len, self.seed = ids, batch_size, seq_len, seed
        self._span = torch.arange(seq_len + 1)  # (T+1,): a window plus its last target

    def plan(self, epoch: int) -> list[Tensor]:
        """Window offsets of every batch of ``epoch``: ``num_batches`` tensors of shape ``(B,)``."""
        n, b, t = len(self.ids), self.batch_size, self.seq_len
        num_batches = max(1, (n - 1) // (b * t))
        offsets = torch.randint(0, n - t, (num_batches, b), generator=epoch_generator(self.seed, epoch))
        return list(offsets.unbind(0))

    def collate(self, offsets: Tensor) -> Batch:
        windows = self.ids[offsets[:, None] + self._span]  # (B,) -> (B, T+1)
        # contiguous: the model may .view() its targets
        return windows[:, :-1].contiguous(), windows[:, 1:].contiguous()


class StreamBatches:
    """Contiguous streams for truncated BPTT (char-rnn's layout).

    The text is cut into ``B`` equal streams, row ``b`` of ``X`` being
    tokens ``[b*L, (b+1)*L)``. Batch ``i`` takes columns ``[s + i*T,
    s + (i+1)*T)`` of every stream, so row ``b`` of batch ``i+1`` continues row
    ``b`` of batch ``i`` and the recurrent state can be carried across. The
    start ``s`` (``0 <= s < T``) is drawn per epoch so that window boundaries
    move between epochs.

    With ``variable=True`` (AWD-LSTM's variable-length BPTT) each batch has
    its own length (:func:`variable_lengths`): the plan holds ``(start,
    length)`` pairs, drawn from ``(seed, epoch)``, and the last batch of an
    epoch may be shorter. :func:`bptt_lr_scale` gives the factor
    (``length / seq_len``) that AWD-LSTM scales the learning rate by.

    >>> sb = StreamBatches(torch.arange(21), batch_size=2, seq_len=3, seed=0)
    >>> [sb.collate(s)[0].tolist() for s in (0, 3)]
    [[[0, 1, 2], [10, 11, 12]], [[3, 4, 5], [13, 14, 15]]]
    """

    def __init__(self, ids: Tensor, batch_size: int, seq_len: int, seed: int, variable: bool = False) -> None:
        self.batch_size, self.seq_len, self.seed, self.variable = batch_size, seq_len, seed, variable
        self.stream_len = (len(ids) - 1) // batch_size  # L; >= T since the text fills one batch
        used = batch_size * self.stream_len
        self.x = ids[:used].view(batch_size, self.stream_len)  # (B, L)
        self.y = ids[1 : used + 1].view(batch_size, self.stream_len)  # (B, L), shifted by one

    def plan(self, epoch: int) -> list[int] | list[tuple[int, int]]:
        """Start columns of the batches of ``epoch``, in order; ``(start, length)`` pairs when ``variable``."""
        length, t = self.stream_len, self.seq_len
        generator = epoch_generator(self.seed, epoch)
        shifts = min(t, length - t + 1)  # keep at least one full batch
        start = int(torch.randint(0, shifts, (1,), generator=generator))
        if self.variable:
            return variable_lengths(start, length, t, generator)
        return list(range(start, length - t + 1, t))

    def collate(self, spec: int | tuple[int, int]) -> Batch:
        start, size = spec if isinstance(spec, tuple) else (spec, self.seq_len)
        cols = slice(start, start + size)
        return self.x[:, cols].contiguous(), self.y[:, cols].contiguous()  # (B, T) each


def variable_lengths(start: int, stream_len: int, bptt: int, generator: torch.Generator) -> list[tuple[int, int]]:
    """``(start, length)`` of every batch from ``start`` to the end of the streams, as AWD-LSTM draws them.

    Each length: ``bptt`` with probability 0.95, else ``bptt / 2``; then a normal draw around it with standard
    deviation 5, at least 5 (as ``max(5, int(np.random.normal(bptt, 5)))``), and at most what is left.

    >>> spans = variable_lengths(0, 200, 20, torch.Generator().manual_seed(0))
    >>> spans[:3], sum(n for _, n in spans)
    ([(0, 21), (21, 21), (42, 20)], 200)
    """
    spans = []
    while start < stream_len:
        base = bptt if float(torch.rand((), generator=generator)) < 0.95 else bptt / 2
        draw = base + 5.0 * float(torch.randn((), generator=generator))
        size = min(max(5, math.trunc(draw)), stream_len - start)
        spans.append((start, size))
        start += size
    return spans


def bptt_lr_scale(x: Tensor, seq_len: int) -> float:
    """AWD-LSTM's learning-rate factor for a batch of variable length: its length over ``seq_len``.

    # (B, T) -> T / seq_len
    """
    return x.size(1) / seq_len


def eval_windows(ids: Tensor, batch_size: int, seq_len: int) -> Iterator[Batch]:
    """Contiguous, non-overlapping windows over a split, in order.

    Every token but the first is a target exactly once; the tail that
    does not fill a window comes last as a batch of one shorter row.

    >>> [tuple(x.shape) for x, _ in eval_windows(torch.arange(12), batch_size=2, seq_len=3)]
    [(2, 3), (1, 3), (1, 2)]
    """
    n = len(ids) - 1  # number of targets
    full = max(n, 0) // seq_len
    x = ids[: full * seq_len].view(full, seq_len)  # (W, T)
    y = ids[1 : full * seq_len + 1].view(full, seq_len)
    for i in range(0, full, batch_size):
        yield x[i : i + batch_size], y[i : i + batch_size]  # (<=B, T), contiguous row slices
    rest = n - full * seq_len
    if rest > 0:
        tail = ids[full * seq_len :]  # rest + 1 tokens
        yield tail[None, :-1].contiguous(), tail[None, 1:].contiguous()  # (1, rest)
