"""Token embeddings sized from a :class:`~seqtk.text.vocab.Vocab`, optionally pretrained.

Pretrained vectors come from GloVe or word2vec text files, read by
:mod:`seqtk.text.vectors`, or from a named set (``"glove-6b-100d"``) that
:mod:`seqtk.text.vector_sets` fetches once. Rows for vocabulary tokens found in the file get their
vectors, the padding row is zero and every other row (unknown words, OOV
buckets) keeps its random initialisation.

Word dropout (``word_dropout=p``) regularises small data sets: while
training, each token is read with probability ``p`` as if it were not in the
vocabulary, i.e. through the OOV bucket its text hashes to (a zero vector
when the vocabulary has no buckets), so a model cannot lean on a few rare
words and the bucket rows learn what an unseen word looks like (Iyyer et
al. 2015's word dropout; Gal & Ghahramani 2016 drop word types instead).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from seqtk.errors import SeqtkValueError
from seqtk.text.vector_sets import resolve as resolve_vectors
# CoverageReport and vector_file_dim moved to seqtk.text.vectors; importing them from here keeps working.
from seqtk.text.vectors import CoverageReport, coverage_report, read_vectors, vector_file_dim
from seqtk.text.vocab import Vocab

__all__ = ["CoverageReport", "Embedding", "vector_file_dim"]

_INDEX_DTYPES = (torch.long, torch.int)  # what nn.functional.embedding accepts


class Embedding(nn.Module):
    """An ``nn.Embedding`` with one row per vocabulary id (OOV buckets included).

    >>> vocab = Vocab.build([["good", "movie"]], num_oov_buckets=2)
    >>> emb = Embedding(vocab, 4)
    >>> emb.num_embeddings, emb.embedding_dim
    (5, 4)
    >>> ids, lengths = vocab.encode_batch([["good", "film"], ["movie"]])
    >>> emb(ids).shape
    torch.Size([2, 2, 4])
    >>> emb(ids)[1, 1].abs().sum().item()  # a padding position
    0.0
    """

    def __init__(
        self,
        num_embeddings_or_vocab: int | Vocab,
        embedding_dim: int,
        padding_idx: int | None = 0,
        freeze: bool = False,
        pretrained: torch.Tensor | str | os.PathLike[str] | None = None,
        word_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= word_dropout < 1.0:
            raise SeqtkValueError(
                f"word_dropout must be in [0, 1), got {word_dropout}",
                fix="pass the probability that a training token is read as unknown, e.g. 0.1",
            )
        self.word_dropout = float(word_dropout)
        self._unknown_ids: torch.Tensor | None = None
        if isinstance(num_embeddings_or_vocab, Vocab):
            self.vocab: Vocab | None = num_embeddings_or_vocab
            rows = len(num_embeddings_or_vocab)
        else:
            self.vocab = None
            rows = _positive_int("num_embeddings", num_embeddings_or_vocab)
        dim = _positive_int("embedding_dim", embedding_dim)
        if padding_idx is not None and not -rows <= padding_idx < rows:
            raise SeqtkValueError(
                f"padding_idx {padding_idx} is outside the {rows} embedding rows",
                fix="pass padding_idx=0 (the Vocab's pad id) or padding_idx=None",
            )
        self.embedding = nn.Embedding(rows, dim, padding_idx=padding_idx)
        self.coverage: CoverageReport | None = None
        if isinstance(pretrained, torch.Tensor):
            self._copy_weights(pretrained)
        elif pretrained is not None:
            self.load_pretrained(pretrained)
        self.freeze(freeze)

    @property
    def num_embeddings(self) -> int:
        return self.embedding.num_embeddings

    @property
    def embedding_dim(self) -> int:
        return self.embedding.embedding_dim

    @property
    def padding_idx(self) -> int | None:
        return self.embedding.padding_idx

    @property
    def weight(self) -> nn.Parameter:
        return self.embedding.weight

    @property
    def frozen(self) -> bool:
        return not self.embedding.weight.requires_grad

    def freeze(self, frozen: bool = True) -> Embedding:
        """Stop (or, with ``False``, resume) training of the table; returns ``self``."""
        self.embedding.weight.requires_grad_(not frozen)
        return self

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Look up embeddings.

        # (B, T) -> (B, T, D)   (any leading shape works: (*,) -> (*, D))
        """
        if not isinstance(ids, torch.Tensor) or ids.dtype not in _INDEX_DTYPES:
            got = ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise SeqtkValueError(
                f"Embedding expects a LongTensor of token ids, got {got}",
                fix="pass ids from Vocab.encode_batch(), or convert with ids.long()",
            )
        # One min/max pass is cheap next to the (B, T, D) gather on CPU; on an
        # accelerator it would force a sync, and there the kernel asserts anyway.
        if ids.device.type == "cpu" and ids.numel() and not torch.compiler.is_compiling():
            low, high = torch.aminmax(ids)
            if low < 0 or high >= self.num_embeddings:
                raise SeqtkValueError(
                    f"token ids must be in 0..{self.num_embeddings - 1}, got ids from {int(low)} to {int(high)}",
                    fix="encode with the same Vocab this Embedding was built from",
                )
        if self.training and self.word_dropout > 0.0:
            return self._drop_words(ids)
        return self.embedding(ids)

    def _drop_words(self, ids: torch.Tensor) -> torch.Tensor:
        """Read a random ``word_dropout`` share of the non-padding tokens as unknown. # (*,) -> (*, D)"""
        dropped = torch.rand(ids.shape, device=ids.device) < self.word_dropout
        if self.padding_idx is not None:
            dropped &= ids != self.padding_idx
        table = self.unknown_ids()
        if table is None:  # no buckets to read an unknown word through: the word is a zero vector
            return self.embedding(ids) * (~dropped).unsqueeze(-1).to(self.weight.dtype)
        if table.device != ids.device:  # moved once, then kept where the model trains
            table = self._unknown_ids = table.to(ids.device)
        return self.embedding(torch.where(dropped, table[ids], ids))

    def unknown_ids(self) -> torch.Tensor | None:
        """For each id, the id it would have if its token were unknown (specials and buckets keep theirs).

        None without a vocabulary or without OOV buckets (an ``<unk>`` special counts: it is the one id).

        >>> vocab = Vocab.build([["good", "movie"]], num_oov_buckets=2)
        >>> [vocab.id_to_token(i) for i in Embedding(vocab, 4).unknown_ids().tolist()]
        ['<pad>', '<oov:1>', '<oov:0>', '<oov:0>', '<oov:1>']
        """
        vocab = self.vocab
        if vocab is None or (vocab.num_oov_buckets == 0 and vocab.unk_id is None):
            return None
        if self._unknown_ids is None:
            table = list(range(len(vocab)))
            for idx, token in enumerate(vocab.tokens, start=len(vocab.specials)):
                table[idx] = vocab.oov_id(token)
            self._unknown_ids = torch.tensor(table, dtype=torch.long)
        return self._unknown_ids

    def extra_repr(self) -> str:
        dropped = f", word_dropout={self.word_dropout}" if self.word_dropout else ""
        return f"frozen={self.frozen}{dropped}" + (f", vocab={self.vocab!r}" if self.vocab is not None else "")

    # ------------------------------------------------------------- pretrained

    @classmethod
    def from_pretrained_file(
        cls,
        path: str | os.PathLike[str],
        vocab: Vocab,
        freeze: bool = False,
        lowercase: bool = False,
    ) -> Embedding:
        """Make an embedding whose width is the file's vector size and fill it.

        ``path`` may also name a set seqtk fetches (``"glove-6b-100d"``, see
        :mod:`seqtk.text.vector_sets`). The coverage report is kept in ``.coverage``.
        """
        path = resolve_vectors(path)
        dim = vector_file_dim(path)
        emb = cls(vocab, dim, padding_idx=vocab.pad_id)
        emb.load_pretrained(path, lowercase=lowercase)
        return emb.freeze(freeze)

    def load_pretrained(
        self, path: str | os.PathLike[str], vocab: Vocab | None = None, lowercase: bool = False
    ) -> CoverageReport:
        """Copy vectors for the vocabulary's tokens from a GloVe/word2vec text file.

        With ``lowercase=True`` a token without an exact match takes the vector
        of the first file word equal to it after lowercasing both. Returns the
        :class:`CoverageReport` and keeps it in ``.coverage``. ``path`` may
        also name a set seqtk fetches (:mod:`seqtk.text.vector_sets`).
        """
        path = resolve_vectors(path)
        vocab = vocab if vocab is not None else self.vocab
        if vocab is None:
            raise SeqtkValueError(
                "load_pretrained() needs a Vocab to know which row each word goes to",
                fix="pass vocab=..., or build the Embedding from a Vocab",
            )
        if len(vocab) > self.num_embeddings:
            raise SeqtkValueError(
                f"the Vocab has {len(vocab)} ids but the Embedding only {self.num_embeddings} rows",
                fix="build the Embedding from this Vocab: Embedding(vocab, dim)",
            )
        vectors, lower_only = read_vectors(Path(path), vocab, self.embedding_dim, lowercase)
        with torch.no_grad():
            if vectors:
                device = self.weight.device
                rows = torch.tensor(list(vectors), dtype=torch.long, device=device)
                self.weight[rows] = torch.tensor(list(vectors.values()), dtype=self.weight.dtype, device=device)
            if self.padding_idx is not None:
                self.weight[self.padding_idx].zero_()
        self.coverage = coverage_report(str(path), vocab, vectors, lower_only)
        return self.coverage

    def _copy_weights(self, pretrained: torch.Tensor) -> None:
        if tuple(pretrained.shape) != tuple(self.weight.shape):
            raise SeqtkValueError(
                f"pretrained weights have shape {tuple(pretrained.shape)}, expected {tuple(self.weight.shape)}",
                fix="pass a (num_embeddings, embedding_dim) tensor",
            )
        with torch.no_grad():
            self.weight.copy_(pretrained)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SeqtkValueError(f"{name} must be a positive integer, got {value!r}", fix=f"pass a valid {name}")
    return value
