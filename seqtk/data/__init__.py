"""Reading, fetching and batching data: sources, tables, folders, archives, resumable batch plans.

``seqtk.data`` itself still offers what the module of that name did before the areas became folders
(``ResumableLoader``, ``shuffled_batches``, ...: now :mod:`seqtk.data.batches`), so plugins written
against older docs keep working. Code inside seqtk imports :mod:`seqtk.data.batches`; see
docs/architecture.md for the areas and the order in which they may import each other.
"""

from seqtk.data.batches import (
    Plan, ResumableLoader, bucketed_batches, check_fills_a_batch, check_held_out, epoch_generator, move_to,
    sequential_batches, shard_batch, shuffled_batches,
)

__all__ = ["Plan", "ResumableLoader", "bucketed_batches", "check_fills_a_batch", "check_held_out", "epoch_generator", "move_to", "sequential_batches", "shard_batch", "shuffled_batches"]
