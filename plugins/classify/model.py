"""The classifier: embedding -> recurrent layers -> pooling -> Dense(classes) logits.

With the sentiment preset's default recipe this is the lectures' model::

    Embedding(len(vocab), 128) -> GRU(64, return_sequences) -> GRU(64) -> Dense(1)

trained with cross-entropy on the logits (softmax only to report
probabilities; a multi-label model has one sigmoid per class instead). A
single-label model with two classes has one logit z, as the lectures'
``Dense(1, sigmoid)``, and returns the logits (0, z): their softmax is
(1 - sigmoid(z), sigmoid(z)) and their cross-entropy is the binary
cross-entropy on z, so it trains exactly as the lectures' model does. Right
padding never changes a text's logits: the encoder reads each text up to its
own length (see :mod:`seqtk.nn.ragged`), and mean, max, mean_max and attention
pooling skip padded steps.
"""

from __future__ import annotations

from collections.abc import Sequence
import torch
from torch import Tensor, nn

from seqtk.nn.embedding import Embedding
from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.text.vocab import Vocab


class TextClassifier(nn.Module):
    """One logit per class and text.

    >>> vocab = Vocab.build([["good", "bad"]], num_oov_buckets=2)
    >>> model = TextClassifier(vocab, 8, [LayerSpec("gru", 4, return_sequences=True)], 3, pooling="attention")
    >>> ids, lengths = vocab.encode_batch([["good", "film"], ["bad"]])
    >>> model(ids, lengths).shape
    torch.Size([2, 3])
    >>> binary = TextClassifier(vocab, 8, [LayerSpec("gru", 4, return_sequences=False)], 2)
    >>> binary.head.out_features, binary(ids, lengths)[:, 0].tolist()  # one logit z; the logits are (0, z)
    (1, [0.0, 0.0])
    """

    def __init__(self, vocab: Vocab, embedding_dim: int, layers: Sequence[LayerSpec], num_classes: int,
                 pooling: str = "last", dropout: float = 0.0, multi_label: bool = False,
                 word_dropout: float = 0.0) -> None:
        super().__init__()
        self.embedding = Embedding(vocab, embedding_dim, padding_idx=vocab.pad_id, word_dropout=word_dropout)
        self.encoder = StackedEncoder(embedding_dim, layers)
        self.pooling = pooling
        self.attention = AttentionPool(self.encoder.output_dim) if pooling == "attention" else None
        self.dropout = nn.Dropout(dropout)
        self.one_logit = num_classes == 2 and not multi_label
        pooled = self.encoder.output_dim * (2 if pooling == "mean_max" else 1)
        self.head = nn.Linear(pooled, 1 if self.one_logit else num_classes)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Logits of right-padded texts.

        # ids (B, T) long, lengths (B,) -> logits (B, C)
        """
        x = self.dropout(self.embedding(ids))  # (B, T) -> (B, T, E)
        h = self.encoder(x, lengths=lengths)  # (B, T, E) -> (B, H) or (B, T, H)
        if h.dim() == 3:
            h = self.attention(h, lengths) if self.attention is not None else pool(h, lengths, self.pooling)  # -> (B, P)
        logits = self.head(self.dropout(h))  # (B, P) -> (B, C), or (B, 1) for two classes; P = H, or 2H for mean_max
        return torch.cat([torch.zeros_like(logits), logits], dim=1) if self.one_logit else logits  # -> (B, C)


class AttentionPool(nn.Module):
    """A weighted mean of the steps: a learned query scores each step (Yang et al. 2016's word attention).

    score_t = v . tanh(W h_t + b); weights = softmax over the valid steps; out = sum_t weights_t h_t.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.query = nn.Linear(dim, 1, bias=False)

    def forward(self, h: Tensor, lengths: Tensor) -> Tensor:
        """# h (B, T, H), lengths (B,) -> (B, H)"""
        return (self.weights(h, lengths).unsqueeze(-1) * h).sum(dim=1)

    def weights(self, h: Tensor, lengths: Tensor) -> Tensor:
        """Attention over the valid steps. # h (B, T, H), lengths (B,) -> (B, T), rows sum to 1"""
        scores = self.query(torch.tanh(self.proj(h))).squeeze(-1)  # (B, T, H) -> (B, T)
        return torch.softmax(scores.masked_fill(~valid_steps(h, lengths), float("-inf")), dim=1)


def valid_steps(h: Tensor, lengths: Tensor) -> Tensor:
    """True where a step is inside its row's length. # h (B, T, ...), lengths (B,) -> (B, T) bool"""
    return torch.arange(h.size(1), device=h.device) < lengths.to(h.device).unsqueeze(1)


def pool(h: Tensor, lengths: Tensor, how: str) -> Tensor:
    """Mean, max or both (``mean_max``: concatenated, ULMFiT's concat pooling) over each row's first ``lengths[b]`` steps.

    # h (B, T, H), lengths (B,) -> (B, H), or (B, 2H) for mean_max

    >>> h = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> pool(h, torch.tensor([2]), "mean").item(), pool(h, torch.tensor([2]), "max").item()
    (2.0, 3.0)
    >>> pool(h, torch.tensor([2]), "mean_max").tolist()
    [[2.0, 3.0]]
    """
    valid = valid_steps(h, lengths).unsqueeze(-1)  # (B, T, 1)
    if how == "max":
        return _max_pool(h, valid)
    summed = (h * valid.to(h.dtype)).sum(dim=1)  # (B, H)
    mean = summed / lengths.to(device=h.device, dtype=h.dtype).clamp(min=1).unsqueeze(1)
    return torch.cat([mean, _max_pool(h, valid)], dim=-1) if how == "mean_max" else mean


def _max_pool(h: Tensor, valid: Tensor) -> Tensor:
    """# h (B, T, H), valid (B, T, 1) bool -> (B, H)"""
    return h.masked_fill(~valid, float("-inf")).amax(dim=1)
