"""The tagger: word embedding + character features -> bidirectional recurrent stack -> tag scores (+ CRF).

Each token's vector is its word embedding (a vocabulary with OOV buckets)
joined to a vector computed from its characters, which is what carries a word
the vocabulary has never seen (*-ly*, *-ed*, a capital, a digit). The
bidirectional stack reads the sentence; a linear head gives every token a
score per tag. Without a CRF each token takes its best tag; with one
(:class:`seqtk.nn.crf.CRF`) Viterbi picks the best sequence.

Padding never changes a result: the character features see only each word's
characters (convolution outputs past a word's end are masked before the max;
the LSTM reads each word to its own length), the encoder reads each sentence
to its own length (:mod:`seqtk.nn.ragged`), and the CRF skips padded steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqtk.nn.crf import CRF, lengths_to_mask
from seqtk.nn.embedding import Embedding
from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.text.vocab import Vocab
from seqtk_plugins.tag.batching import IGNORE
from seqtk_plugins.tag.config import TagModel


class CharCNN(nn.Module):
    """A convolution of width 3 over a word's characters, max-pooled over its length (Ma and Hovy 2016)."""

    def __init__(self, num_chars: int, embedding_dim: int, features: int) -> None:
        super().__init__()
        self.embedding = Embedding(num_chars, embedding_dim, padding_idx=0)
        self.conv = nn.Conv1d(embedding_dim, features, kernel_size=3, padding=1)
        self.output_dim = features

    def forward(self, chars: Tensor) -> Tensor:
        # chars (N, W) -> (N, F)
        x = self.embedding(chars).transpose(1, 2)  # (N, W, C) -> (N, C, W); padding rows are zero, like the conv's own
        h = self.conv(x)  # (N, F, W)
        valid = (chars != 0).unsqueeze(1)  # (N, 1, W): a step past the word's end never wins the max
        return h.masked_fill(~valid, float("-inf")).amax(dim=2)  # (N, F)


class CharLSTM(nn.Module):
    """A bidirectional LSTM over a word's characters; its final states, both directions (Lample et al. 2016)."""

    def __init__(self, num_chars: int, embedding_dim: int, features: int) -> None:
        super().__init__()
        self.embedding = Embedding(num_chars, embedding_dim, padding_idx=0)
        spec = LayerSpec("lstm", features // 2, bidirectional=True, return_sequences=False)
        self.encoder = StackedEncoder(embedding_dim, [spec])
        self.output_dim = spec.output_dim

    def forward(self, chars: Tensor) -> Tensor:
        # chars (N, W) -> (N, F)
        lengths = (chars != 0).sum(1)  # (N,): a word's characters are never padding
        return self.encoder(self.embedding(chars), lengths)  # (N, W, C) -> (N, F)


class Tagger(nn.Module):
    """Tag scores (emissions) per token and, given tags, the loss; ``decode`` picks the tags.

    >>> vocab, chars = Vocab.build([["the", "dog"]]), Vocab.build([list("thedog")])
    >>> model = Tagger(vocab, chars, 3, TagModel(hidden_size=8, embedding_dim=6, char_features=4, crf=True))
    >>> words, lengths = torch.tensor([[1, 2], [2, 0]]), torch.tensor([2, 1])
    >>> emissions, loss = model(words, torch.randint(1, 5, (2, 2, 3)), lengths, tags=torch.tensor([[0, 2], [1, -100]]))
    >>> emissions.shape, loss.shape
    (torch.Size([2, 2, 3]), torch.Size([]))
    """

    def __init__(self, vocab: Vocab, chars: Vocab, num_tags: int, cfg: TagModel) -> None:
        super().__init__()
        self.embedding = Embedding(vocab, cfg.embedding_dim, padding_idx=vocab.pad_id)
        kinds = {"cnn": CharCNN, "lstm": CharLSTM}
        kind = kinds.get(cfg.char_encoder)
        self.chars = kind(len(chars), cfg.char_embedding_dim, cfg.char_features) if kind is not None else None
        width = cfg.embedding_dim + (self.chars.output_dim if self.chars is not None else 0)
        self.dropout = nn.Dropout(cfg.input_dropout)
        self.encoder = StackedEncoder(width, cfg.stack())
        self.head = nn.Linear(self.encoder.output_dim, num_tags)
        self.crf = CRF(num_tags) if cfg.crf else None

    def forward(
        self, words: Tensor, chars: Tensor, lengths: Tensor, tags: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Emissions of right-padded sentences, and the loss when ``tags`` are given (the CRF runs in here,
        so that DistributedDataParallel sees every parameter used in forward).

        # words (B, T), chars (B, T, W), lengths (B,), tags (B, T) -> emissions (B, T, K) float, loss () or None
        """
        x = self.embedding(words)  # (B, T) -> (B, T, E)
        if self.chars is not None:
            mask = lengths_to_mask(lengths.to(words.device), words.size(1))  # (B, T)
            features = x.new_zeros(*words.shape, self.chars.output_dim)  # (B, T, F)
            features[mask] = self.chars(chars[mask]).to(x.dtype)  # (N, W) -> (N, F), N = the real tokens
            x = torch.cat([x, features], dim=-1)  # (B, T, E + F)
        h = self.encoder(self.dropout(x), lengths)  # (B, T, E + F) -> (B, T, H)
        emissions = self.head(self.dropout(h)).float()  # (B, T, H) -> (B, T, K); float even under autocast
        return emissions, None if tags is None else self.loss(emissions, tags, lengths)

    def loss(self, emissions: Tensor, tags: Tensor, lengths: Tensor) -> Tensor:
        """Mean loss per tagged token: cross-entropy, or the CRF's negative log-likelihood.

        # emissions (B, T, K), tags (B, T), lengths (B,) -> ()
        """
        if self.crf is None:
            total = F.cross_entropy(emissions.flatten(0, 1), tags.flatten(), ignore_index=IGNORE, reduction="sum")
            return total / (tags != IGNORE).sum().clamp(min=1)  # a batch of unseen tags only: 0, not NaN
        mask = lengths_to_mask(lengths, emissions.size(1))  # (B, T)
        # A held-out tag never seen in training (IGNORE) cannot be scored: the loss reads it as tag 0.
        return self.crf.nll(emissions, tags.clamp(min=0), mask)

    def decode(self, emissions: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """The predicted tags (0 on padding) and each sentence's score: the Viterbi score with a CRF, else the
        sum of each token's best log-probability.

        # emissions (B, T, K), lengths (B,) -> (B, T), (B,)
        """
        mask = lengths_to_mask(lengths, emissions.size(1))  # (B, T)
        if self.crf is not None:
            return self.crf.decode(emissions, mask)
        best, tags = emissions.log_softmax(-1).max(-1)  # (B, T) each
        return tags.masked_fill(~mask, 0), (best * mask).sum(1)
