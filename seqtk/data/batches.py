"""Resumable batching shared by every task.

A task describes an epoch as a *plan*: a list of batch specifications (index
lists, window offsets, stream positions) computed deterministically from the
seed and the epoch number. :class:`ResumableLoader` walks the plans and turns
each spec into a batch with the task's ``collate``. Its position (epoch, index)
goes into every checkpoint, so a resumed run sees exactly the batches an
uninterrupted run would have seen, without replaying the data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from seqtk.errors import SeqtkError

Plan = Callable[[int], Sequence[Any]]


class ResumableLoader:
    """An endless, resumable iterator over batches.

    >>> loader = ResumableLoader(lambda epoch: [[0, 1], [2, 3]], collate=lambda s: s)
    >>> it = iter(loader); next(it), next(it), next(it)
    ([0, 1], [2, 3], [0, 1])
    >>> loader.state_dict()
    {'epoch': 1, 'index': 1}
    """

    def __init__(self, plan: Plan, collate: Callable[[Any], Any]) -> None:
        self.plan = plan
        self.collate = collate
        self.epoch = 0
        self.index = 0

    def shard(self, rank: int, world: int) -> ResumableLoader:
        """Yield only part ``rank`` of ``world`` of every batch (distributed training).

        Every rank walks the same plan, so the position (epoch, index) is the
        same everywhere and one checkpoint resumes them all; each batch is cut
        along its first dimension by :func:`shard_batch`. Returns ``self``.
        """
        collate = self.collate
        self.collate = lambda spec: shard_batch(collate(spec), rank, world)
        return self

    def __iter__(self) -> Iterator[Any]:
        while True:
            specs = self.plan(self.epoch)
            if not specs:
                raise RuntimeError("the batch plan of an epoch is empty")
            while self.index < len(specs):
                spec = specs[self.index]
                self.index += 1
                if self.index == len(specs):
                    # Roll over before yielding the last batch, so that between
                    # epochs the state reads (next epoch, 0): at_epoch_start is
                    # then true before the first batch of every epoch.
                    self.epoch += 1
                    self.index = 0
                    yield self.collate(spec)
                    break
                yield self.collate(spec)
            else:
                # A state loaded past the end of an epoch: move to the next one.
                self.epoch += 1
                self.index = 0

    @property
    def at_epoch_start(self) -> bool:
        """True when the next batch is the first of an epoch (streams reset their state)."""
        return self.index == 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self.index = int(state["index"])


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A generator whose stream depends only on (seed, epoch)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def shuffled_batches(n: int, batch_size: int, generator: torch.Generator, drop_last: bool = True) -> list[list[int]]:
    """Shuffle ``range(n)`` and cut it into batches of indices.

    >>> shuffled_batches(5, 2, torch.Generator().manual_seed(0), drop_last=False)
    [[4, 0], [1, 3], [2]]
    """
    order = torch.randperm(n, generator=generator).tolist()
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    return [order[i : i + batch_size] for i in range(0, stop, batch_size)]


def sequential_batches(n: int, batch_size: int) -> list[list[int]]:
    """Batches of indices in order (evaluation)."""
    return [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]


def bucketed_batches(
    lengths: Sequence[int], batch_size: int, generator: torch.Generator, bucket_factor: int = 50
) -> list[list[int]]:
    """Batches of similar length, so that padding stays small.

    Shuffle, sort within chunks of ``batch_size * bucket_factor`` by length, cut
    into batches, then shuffle the batches: every epoch differs, yet each batch
    holds examples of nearly the same length.
    """
    order = torch.randperm(len(lengths), generator=generator).tolist()
    chunk = batch_size * bucket_factor
    batches: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    perm = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in perm]


def shard_batch(batch: Any, rank: int, world: int) -> Any:
    """Part ``rank`` of ``world`` of a batch-first batch: contiguous slices of dim 0.

    Every tensor whose first dimension is the batch size (that of the first
    tensor found) is cut; anything else (scalars, shared tensors) is kept.
    Batch specs are opaque to the trainer (index lists, window offsets, a
    stream's start column), but batches are always batch-first.

    >>> shard_batch((torch.arange(6), torch.arange(6) * 10, 7), rank=1, world=2)
    (tensor([3, 4, 5]), tensor([30, 40, 50]), 7)
    """
    size = _batch_size(batch)
    if size is None:
        return batch
    if size < world:
        raise SeqtkError(
            f"a training batch holds {size} item(s), fewer than the {world} processes that share it",
            fix=f"raise train.batch_size to at least {world} (it is the global batch) or use fewer processes",
        )
    return _cut(batch, size, rank, world)


def _batch_size(batch: Any) -> int | None:
    if isinstance(batch, torch.Tensor):
        return batch.size(0) if batch.dim() else None
    values = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (list, tuple)) else ()
    for value in values:
        size = _batch_size(value)
        if size is not None:
            return size
    return None


def _cut(batch: Any, size: int, rank: int, world: int) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.tensor_split(world)[rank] if batch.dim() and batch.size(0) == size else batch
    if isinstance(batch, dict):
        return {k: _cut(v, size, rank, world) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_cut(v, size, rank, world) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_cut(v, size, rank, world) for v in batch)
    return batch


def move_to(batch: Any, device: torch.device) -> Any:
    """Move every tensor inside ``batch`` (tuples, lists, dicts) to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(move_to(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch


def check_fills_a_batch(length: int, what: str, batch_size: int, seq_len: int, more: str) -> None:
    """A training stream of ``length`` tokens must fill one batch of ``seq_len + 1``-token windows.

    ``what`` states the size (``"the training text has 31 characters"``); ``more`` names what to add.

    >>> check_fills_a_batch(31, "the training text has 31 characters", 4, 7, "text")
    Traceback (most recent call last):
    ...
    seqtk.errors.SeqtkError: the training text has 31 characters, fewer than one batch needs (train.batch_size 4 x (data.seq_len 7 + 1) = 32). Fix: use more text, or lower train.batch_size or data.seq_len.
    """
    need = batch_size * (seq_len + 1)
    if length < need:
        raise SeqtkError(
            f"{what}, fewer than one batch needs (train.batch_size {batch_size} x (data.seq_len {seq_len} + 1) = {need:,})",
            fix=f"use more {more}, or lower train.batch_size or data.seq_len",
        )


def check_held_out(splits: Any, fractions: dict[str, float], size: str, more: str) -> None:
    """Each held-out split (attribute of ``splits``) asked for by a fraction > 0 must hold something.

    ``size`` describes the whole data (``"12 tunes"``); ``more`` names what to add.
    """
    for name, fraction in fractions.items():
        if fraction > 0 and not getattr(splits, name):
            raise SeqtkError(
                f"the {name} split is empty ({size}, data.{name}_fraction = {fraction})",
                fix=f"use more {more} or a larger data.{name}_fraction",
            )
