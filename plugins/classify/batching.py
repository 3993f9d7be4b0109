"""Encoded texts and their batches: bucketed or fully padded for training, fixed for evaluation.

A batch is a :class:`Batch` of ``ids`` (B, T) right-padded with 0, ``lengths``
(B,), ``labels`` (B,) long class indices (or (B, C) float 0/1 for multi-label)
and ``index`` (B,), the position of each text in its split (to report which
texts the model got wrong).

With bucketing (the default) a training epoch is planned by
:func:`seqtk.data.batches.bucketed_batches`, so each batch holds texts of nearly the
same length and T is that of its longest text; without it, batches are
shuffled without regard to length and padded to one fixed T (Keras'
``pad_sequences``). With ``crop`` (``data.crop``), each epoch reads every
training text as a random window of consecutive tokens (a :data:`Window`),
drawn from the epoch's generator like the batches, so a resumed run reads the
same windows. Evaluation batches come in a fixed order: sorted by length with
bucketing, in split order without.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from seqtk.data.batches import bucketed_batches, epoch_generator, shuffled_batches
from seqtk.text.vocab import Vocab
from seqtk_plugins.classify.corpus import Label


class Batch(NamedTuple):
    """One batch (``seqtk.data.batches.move_to`` moves every field)."""

    ids: Tensor  # (B, T) long, 0-padded
    lengths: Tensor  # (B,) long, >= 1
    labels: Tensor  # (B,) long class indices, or (B, C) float 0/1 when multi-label
    index: Tensor  # (B,) long: positions in the split


@dataclass
class Encoded:
    """A split as token ids: one (L_i,) tensor per text, plus lengths (N,) and labels (N,) or (N, C)."""

    ids: list[Tensor]
    lengths: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def max_length(self) -> int:
        return int(self.lengths.max()) if len(self.ids) else 0


def token_ids(tokens: list[str], vocab: Vocab, max_tokens: int = 0, keep: str = "first") -> list[int]:
    """Ids of ``tokens`` (unknown words: OOV buckets), cut to ``max_tokens`` (0: all)."""
    ids = vocab.encode(tokens)
    if max_tokens and len(ids) > max_tokens:
        ids = ids[:max_tokens] if keep == "first" else ids[-max_tokens:]
    return ids


def encode(
    token_lists: Sequence[list[str]], labels: Sequence[Label], vocab: Vocab, num_classes: int, max_tokens: int = 0,
    keep: str = "first",
) -> Encoded:
    """Encode tokenized texts. A text without tokens becomes one padding step (length 1)."""
    rows = [token_ids(tokens, vocab, max_tokens, keep) or [vocab.pad_id] for tokens in token_lists]
    return Encoded(
        ids=[torch.tensor(r, dtype=torch.long) for r in rows],
        lengths=torch.tensor([len(r) for r in rows], dtype=torch.long),
        labels=label_tensor(labels, num_classes),
    )


def label_tensor(labels: Sequence[Label], num_classes: int) -> Tensor:
    """Class indices as a (N,) long tensor; multi-label tuples as a (N, C) float 0/1 matrix.

    >>> label_tensor([2, 0], 3)
    tensor([2, 0])
    >>> label_tensor([(0, 2), ()], 3)
    tensor([[1., 0., 1.],
            [0., 0., 0.]])
    """
    if labels and isinstance(labels[0], tuple):
        out = torch.zeros(len(labels), num_classes)
        for row, classes in enumerate(labels):
            out[row, list(classes)] = 1.0  # type: ignore[arg-type]
        return out
    return torch.tensor(list(labels), dtype=torch.long)


def collate(data: Encoded, indices: Sequence[int], pad_to: int = 0) -> Batch:
    """Stack the texts at ``indices``, right-padded to their longest (or to ``pad_to`` if longer)."""
    index = torch.as_tensor(list(indices), dtype=torch.long)
    lengths = data.lengths[index]
    width = max(int(lengths.max()), pad_to)
    ids = torch.zeros(len(index), width, dtype=torch.long)  # 0 is the padding id of every Vocab
    for row, i in enumerate(index.tolist()):
        seq = data.ids[i]
        ids[row, : len(seq)] = seq
    return Batch(ids, lengths, data.labels[index], index)


class Window(NamedTuple):
    """A cropped text: its position in the split and the tokens ``start:stop`` of it."""

    index: int
    start: int
    stop: int


def collate_windows(data: Encoded, windows: Sequence[Window], pad_to: int = 0) -> Batch:
    """Stack the token windows, right-padded to the longest (or to ``pad_to``); ``index`` names their texts."""
    lengths = torch.tensor([stop - start for _, start, stop in windows], dtype=torch.long)
    ids = torch.zeros(len(windows), max(int(lengths.max()), pad_to), dtype=torch.long)
    for row, (i, start, stop) in enumerate(windows):
        ids[row, : stop - start] = data.ids[i][start:stop]
    index = torch.tensor([i for i, _, _ in windows], dtype=torch.long)
    return Batch(ids, lengths, data.labels[index], index)


def draw_windows(lengths: Tensor, crop: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Random windows of at least ``crop`` of each length: (starts, sizes), both like ``lengths`` (N,).

    Each size is uniform over ceil(crop * L) .. L tokens (at least 1), each
    start uniform over the places such a window fits.

    >>> starts, sizes = draw_windows(torch.tensor([10, 1, 4]), 0.5, torch.Generator().manual_seed(0))
    >>> bool(((sizes >= torch.tensor([5, 1, 2])) & (starts + sizes <= torch.tensor([10, 1, 4]))).all())
    True
    """
    shortest = torch.ceil(lengths.double() * crop).long().clamp(min=1)  # float64: 10 * 0.3 is 3, not 4
    draws = torch.rand(2, len(lengths), generator=generator, dtype=torch.float64)  # in [0, 1)
    sizes = torch.minimum(shortest + (draws[0] * (lengths - shortest + 1)).long(), lengths)
    starts = torch.minimum((draws[1] * (lengths - sizes + 1)).long(), lengths - sizes)
    return starts, sizes


class TrainBatches:
    """The training plan: epoch -> batches of split positions (or of :data:`Window` s), deterministic in (seed, epoch)."""

    def __init__(self, data: Encoded, batch_size: int, seed: int, bucketing: bool, bucket_factor: int, pad_to: int,
                 balanced: bool = False, crop: float = 0.0) -> None:
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.bucketing, self.bucket_factor, self.pad_to = bucketing, bucket_factor, pad_to
        self.crop = crop
        self._weights = balanced_weights(data.labels) if balanced else None

    def plan(self, epoch: int) -> list[list[int]] | list[list[Window]]:
        generator = epoch_generator(self.seed, epoch)
        members = torch.arange(len(self.data))
        if self._weights is not None:
            members = torch.multinomial(self._weights, len(self.data), replacement=True, generator=generator)
        lengths = self.data.lengths[members]
        if not self.cropping:
            return self._batches(members.tolist(), lengths.tolist(), generator)
        starts, sizes = draw_windows(lengths, self.crop, generator)
        windows = list(map(Window, members.tolist(), starts.tolist(), (starts + sizes).tolist()))
        return self._batches(windows, sizes.tolist(), generator)

    def _batches(self, members: list, lengths: list[int], generator: torch.Generator) -> list[list]:
        """Batches of ``members`` (positions in the split or windows, repeats allowed) of these ``lengths``."""
        if self.bucketing:
            plan = bucketed_batches(lengths, self.batch_size, generator, self.bucket_factor)
        else:
            plan = shuffled_batches(len(members), self.batch_size, generator, drop_last=False)
        return [[members[j] for j in batch] for batch in plan]

    def collate(self, spec: list[int] | list[Window]) -> Batch:
        pad_to = 0 if self.bucketing else self.pad_to
        if self.cropping:
            return collate_windows(self.data, spec, pad_to)  # type: ignore[arg-type]
        return collate(self.data, spec, pad_to)  # type: ignore[arg-type]

    @property
    def cropping(self) -> bool:
        """Does the plan hold windows (0 < crop < 1) rather than whole texts?"""
        return 0.0 < self.crop < 1.0


def balanced_weights(labels: Tensor) -> Tensor:
    """Sampling weight per text, 1 / (its class's count), so each class is drawn equally often.

    # labels (N,) long -> (N,) float

    >>> balanced_weights(torch.tensor([0, 0, 0, 1]))
    tensor([0.3333, 0.3333, 0.3333, 1.0000])
    """
    counts = torch.bincount(labels).clamp(min=1).float()
    return 1.0 / counts[labels]


def eval_batches(data: Encoded, batch_size: int, bucketing: bool, pad_to: int = 0) -> list[Batch]:
    """Every text once, in a fixed order (sorted by length with bucketing)."""
    order = list(range(len(data)))
    if bucketing:
        lengths = data.lengths.tolist()
        order.sort(key=lengths.__getitem__)
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [collate(data, chunk, 0 if bucketing else pad_to) for chunk in chunks]
