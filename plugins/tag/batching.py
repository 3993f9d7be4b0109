"""Sentences as ids, and their batches: bucketed by length for training, sorted for evaluation.

A :class:`Batch` holds ``words`` (B, T) word ids right-padded with 0,
``chars`` (B, T, W) character ids of each word (0-padded in both T and W),
``tags`` (B, T) tag ids (-100 on padding and on held-out tags never seen in
training), ``lengths`` (B,) and ``index`` (B,), each sentence's position in
its split (the evaluation reducer reads the gold tags from there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import Tensor

from seqtk.data.batches import bucketed_batches, epoch_generator
from seqtk.text.vocab import Vocab

IGNORE = -100  # the tag id that the loss and the CRF ignore


class Batch(NamedTuple):
    """One batch (``seqtk.data.batches.move_to`` moves every field)."""

    words: Tensor  # (B, T) long, 0-padded
    chars: Tensor  # (B, T, W) long, 0-padded
    tags: Tensor  # (B, T) long, IGNORE-padded
    lengths: Tensor  # (B,) long, >= 1
    index: Tensor  # (B,) long: positions in the split


@dataclass
class Encoded:
    """A split as ids: one (L_i,) word tensor, (L_i, W_i) char tensor and (L_i,) tag tensor per sentence."""

    words: list[Tensor] = field(default_factory=list)
    chars: list[Tensor] = field(default_factory=list)
    tags: list[Tensor] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def lengths(self) -> list[int]:
        return [len(w) for w in self.words]


class SentenceEncoder:
    """Words and tags -> ids, with the task's vocabularies and normalisation.

    >>> enc = SentenceEncoder(Vocab.build([["the", "dog"]]), Vocab.build([list("thedog")]), ["DT", "NN"], True, 4)
    >>> words, chars, tags = enc.encode(["The", "doggies"], ["DT", "XX"])
    >>> words.tolist(), chars.shape, tags.tolist()
    ([1, 3], torch.Size([2, 4]), [0, -100])
    """

    def __init__(self, vocab: Vocab, chars: Vocab, tags: Sequence[str], lowercase: bool, max_word_chars: int) -> None:
        self.vocab, self.char_vocab, self.lowercase = vocab, chars, lowercase
        self.tag_index = {tag: i for i, tag in enumerate(tags)}
        self.max_word_chars = max_word_chars
        self._char_cache: dict[str, list[int]] = {}

    def word_ids(self, words: Sequence[str]) -> list[int]:
        return self.vocab.encode([w.lower() for w in words] if self.lowercase else list(words))

    def char_ids(self, word: str) -> list[int]:
        """The ids of a word's characters (case kept); a long word keeps its first and last halves."""
        ids = self._char_cache.get(word)
        if ids is None:
            chars = list(word)
            if len(chars) > self.max_word_chars:
                half = self.max_word_chars // 2
                chars = chars[:half] + chars[len(chars) - (self.max_word_chars - half) :]
            ids = self.char_vocab.encode(chars)
            if len(self._char_cache) < 500_000:
                self._char_cache[word] = ids
        return ids

    def encode(self, words: Sequence[str], tags: Sequence[str] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(L,) word ids, (L, W) char ids, (L,) tag ids (all IGNORE without tags)."""
        rows = [self.char_ids(w) for w in words]
        chars = torch.zeros(len(words), max(len(r) for r in rows), dtype=torch.long)
        for i, row in enumerate(rows):
            chars[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        tag_ids = [self.tag_index.get(t, IGNORE) for t in tags] if tags is not None else [IGNORE] * len(words)
        return torch.tensor(self.word_ids(words), dtype=torch.long), chars, torch.tensor(tag_ids, dtype=torch.long)

    def encode_all(self, sentences: Sequence[tuple[Sequence[str], Sequence[str]]]) -> Encoded:
        out = Encoded()
        for words, tags in sentences:
            w, c, t = self.encode(words, tags)
            out.words.append(w)
            out.chars.append(c)
            out.tags.append(t)
        return out


def collate(data: Encoded, indices: Sequence[int]) -> Batch:
    """Stack the sentences at ``indices``, right-padded to the longest (and to the longest word)."""
    index = torch.as_tensor(list(indices), dtype=torch.long)
    lengths = torch.tensor([len(data.words[i]) for i in indices], dtype=torch.long)
    steps, width = int(lengths.max()), max(data.chars[i].size(1) for i in indices)
    words = torch.zeros(len(indices), steps, dtype=torch.long)  # 0 is the padding id of every Vocab
    chars = torch.zeros(len(indices), steps, width, dtype=torch.long)
    tags = torch.full((len(indices), steps), IGNORE, dtype=torch.long)
    for row, i in enumerate(indices):
        n, w = data.chars[i].shape
        words[row, :n] = data.words[i]
        chars[row, :n, :w] = data.chars[i]
        tags[row, :n] = data.tags[i]
    return Batch(words, chars, tags, lengths, index)


class TrainBatches:
    """The training plan: epoch -> batches of sentences of similar length, deterministic in (seed, epoch)."""

    def __init__(self, data: Encoded, batch_size: int, seed: int, bucket_factor: int) -> None:
        self.data, self.batch_size, self.seed, self.bucket_factor = data, batch_size, seed, bucket_factor
        self._lengths = data.lengths

    def plan(self, epoch: int) -> list[list[int]]:
        return bucketed_batches(self._lengths, self.batch_size, epoch_generator(self.seed, epoch), self.bucket_factor)

    def collate(self, indices: list[int]) -> Batch:
        return collate(self.data, indices)


def eval_batches(data: Encoded, batch_size: int) -> list[Batch]:
    """Every sentence once, sorted by length (little padding), in a fixed order."""
    lengths = data.lengths
    order = sorted(range(len(data)), key=lengths.__getitem__)
    return [collate(data, order[i : i + batch_size]) for i in range(0, len(order), batch_size)]
