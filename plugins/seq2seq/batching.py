"""Pairs as ids, and their batches: bucketed by source length for training, sorted for evaluation.

Training sees every (source, target) pair: a word with two pronunciations is
two training pairs. Evaluation sees every *example* once (a source with all
its targets): the decoder's output is scored against the closest target.

A :class:`Batch` holds ``source`` (B, S) ids right-padded with 0, ``lengths``
(B,), ``target_in`` (B, T): ``<bos>`` and the target, 0-padded, and
``target_out`` (B, T): the target and ``<eos>``, :data:`IGNORE`-padded; at
evaluation the target is the example's first, and ``examples`` holds the
examples themselves for the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor

from seqtk.data.batches import bucketed_batches, epoch_generator
from seqtk.text.vocab import Vocab
from seqtk_plugins.seq2seq.pairs import Example

IGNORE = -100  # the target id the loss ignores (padding)


class Batch(NamedTuple):
    """One batch (``seqtk.data.batches.move_to`` moves every tensor field)."""

    source: Tensor  # (B, S) long, 0-padded
    lengths: Tensor  # (B,) long, >= 1
    target_in: Tensor  # (B, T) long: <bos> y_1 .. y_n, 0-padded
    target_out: Tensor  # (B, T) long: y_1 .. y_n <eos>, IGNORE-padded
    index: Tensor  # (B,) long: positions of the examples (training: of the pairs) in the split
    examples: tuple[Example, ...] = ()  # evaluation: the examples, for the metrics


@dataclass
class Encoded:
    """A split as ids: each example's source (S_i,) and its targets (T_ij,), and the examples as read."""

    examples: list[Example] = field(default_factory=list)
    sources: list[Tensor] = field(default_factory=list)
    targets: list[list[Tensor]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    def pairs(self) -> list[tuple[int, int]]:
        """(example, target) positions of every training pair."""
        return [(i, j) for i, targets in enumerate(self.targets) for j in range(len(targets))]


class PairEncoder:
    """Source and target texts -> ids, with the task's tokenizers and vocabularies.

    >>> from seqtk.text.tokenize import CharTokenizer, SpaceTokenizer
    >>> src = Vocab.build([list("cat")])
    >>> tgt = Vocab.build([["K", "AE", "T"]], specials=("<pad>", "<bos>", "<eos>"))
    >>> enc = PairEncoder(CharTokenizer(), SpaceTokenizer(), src, tgt)
    >>> enc.source_ids("cat"), enc.target_ids("K AE T")
    ([1, 2, 3], [3, 4, 5])
    """

    def __init__(self, source_tokenizer, target_tokenizer, source_vocab: Vocab, target_vocab: Vocab) -> None:  # noqa: ANN001
        self.source_tokenizer, self.target_tokenizer = source_tokenizer, target_tokenizer
        self.source_vocab, self.target_vocab = source_vocab, target_vocab

    def source_ids(self, text: str) -> list[int]:
        return self.source_vocab.encode(self.source_tokenizer.tokenize(text))

    def target_ids(self, text: str) -> list[int]:
        return self.target_vocab.encode(self.target_tokenizer.tokenize(text))

    def target_text(self, ids: Sequence[int]) -> str:
        """The text of decoded target ids (without <bos>/<eos>)."""
        return self.target_tokenizer.detokenize(self.target_vocab.decode(ids))

    def encode_all(self, examples: Sequence[Example]) -> Encoded:
        out = Encoded(list(examples))
        for example in examples:
            out.sources.append(torch.tensor(self.source_ids(example.source), dtype=torch.long))
            out.targets.append([torch.tensor(self.target_ids(t), dtype=torch.long) for t in example.targets])
        return out


def collate(sources: Sequence[Tensor], targets: Sequence[Tensor], index: Sequence[int], bos: int, eos: int,
            examples: tuple[Example, ...] = ()) -> Batch:  # fmt: skip
    """Right-pad sources and targets into one batch (the module's docstring has the layout)."""
    lengths = torch.tensor([len(s) for s in sources], dtype=torch.long)
    steps = max(len(t) for t in targets) + 1
    source = torch.zeros(len(sources), int(lengths.max()), dtype=torch.long)  # 0 is the padding id of every Vocab
    target_in = torch.zeros(len(sources), steps, dtype=torch.long)
    target_out = torch.full((len(sources), steps), IGNORE, dtype=torch.long)
    for row, (s, t) in enumerate(zip(sources, targets)):
        source[row, : len(s)] = s
        target_in[row, 0] = bos
        target_in[row, 1 : len(t) + 1] = t
        target_out[row, : len(t)] = t
        target_out[row, len(t)] = eos
    return Batch(source, lengths, target_in, target_out, torch.as_tensor(list(index), dtype=torch.long), examples)


class TrainBatches:
    """The training plan: epoch -> batches of pairs of similar source length, deterministic in (seed, epoch)."""

    def __init__(self, data: Encoded, batch_size: int, seed: int, bucket_factor: int, bos: int, eos: int) -> None:
        self.data, self.batch_size, self.seed, self.bucket_factor = data, batch_size, seed, bucket_factor
        self.bos, self.eos = bos, eos
        self._pairs = data.pairs()
        self._lengths = [len(data.sources[i]) + len(data.targets[i][j]) for i, j in self._pairs]

    def plan(self, epoch: int) -> list[list[int]]:
        return bucketed_batches(self._lengths, self.batch_size, epoch_generator(self.seed, epoch), self.bucket_factor)

    def collate(self, indices: list[int]) -> Batch:
        pairs = [self._pairs[k] for k in indices]
        return collate([self.data.sources[i] for i, _ in pairs], [self.data.targets[i][j] for i, j in pairs], indices,
                       self.bos, self.eos)  # fmt: skip


def eval_batches(data: Encoded, batch_size: int, bos: int, eos: int) -> list[Batch]:
    """Every example once (its first target for the loss), sorted by source length, in a fixed order."""
    order = sorted(range(len(data)), key=lambda i: len(data.sources[i]))
    batches = []
    for start in range(0, len(order), batch_size):
        part = order[start : start + batch_size]
        batches.append(collate([data.sources[i] for i in part], [data.targets[i][0] for i in part], part, bos, eos,
                               tuple(data.examples[i] for i in part)))  # fmt: skip
    return batches
