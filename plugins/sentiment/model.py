"""The classifier: embedding -> recurrent layers -> pooling -> Dense(1) logit.

With the default recipe this is the lectures' model::

    Embedding(len(vocab), 128) -> GRU(64, return_sequences) -> GRU(64) -> Dense(1)

trained on the logit with binary cross-entropy (``sigmoid`` is applied only to
report probabilities). Right padding never changes a text's logit: the
encoder reads each text up to its own length (see :mod:`seqtk.encoders`) and
mean/max pooling skip padded steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from seqtk.embedding import Embedding
from seqtk.encoders import LayerSpec, StackedEncoder
from seqtk.vocab import Vocab


class SentimentClassifier(nn.Module):
    """One logit per text: > 0 means positive.

    >>> vocab = Vocab.build([["good", "bad"]], num_oov_buckets=2)
    >>> model = SentimentClassifier(vocab, 8, [LayerSpec("gru", 4, return_sequences=False)])
    >>> ids, lengths = vocab.encode_batch([["good", "film"], ["bad"]])
    >>> model(ids, lengths).shape
    torch.Size([2])
    """

    def __init__(
        self, vocab: Vocab, embedding_dim: int, layers: Sequence[LayerSpec], pooling: str = "last", dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.embedding = Embedding(vocab, embedding_dim, padding_idx=vocab.pad_id)
        self.encoder = StackedEncoder(embedding_dim, layers)
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.encoder.output_dim, 1)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Logits of right-padded texts.

        # ids (B, T) long, lengths (B,) -> logits (B,)
        """
        x = self.dropout(self.embedding(ids))  # (B, T) -> (B, T, E)
        h = self.encoder(x, lengths=lengths)  # (B, T, E) -> (B, H) or (B, T, H)
        if h.dim() == 3:
            h = pool(h, lengths, self.pooling)  # (B, T, H) -> (B, H)
        return self.head(self.dropout(h)).squeeze(-1)  # (B, H) -> (B, 1) -> (B,)


def pool(h: Tensor, lengths: Tensor, how: str) -> Tensor:
    """Mean or max over each row's first ``lengths[b]`` steps.

    # h (B, T, H), lengths (B,) -> (B, H)

    >>> h = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> pool(h, torch.tensor([2]), "mean").item(), pool(h, torch.tensor([2]), "max").item()
    (2.0, 3.0)
    """
    valid = (torch.arange(h.size(1), device=h.device) < lengths.to(h.device).unsqueeze(1)).unsqueeze(-1)  # (B, T, 1)
    if how == "max":
        return h.masked_fill(~valid, float("-inf")).amax(dim=1)
    summed = (h * valid.to(h.dtype)).sum(dim=1)  # (B, H)
    return summed / lengths.to(device=h.device, dtype=h.dtype).clamp(min=1).unsqueeze(1)
