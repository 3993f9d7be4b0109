"""The output heads of :class:`~seqtk.nn.lm.CharLM`: tied through a projection (AWD-LSTM, when the hidden size
differs from the embedding size) and the adaptive softmax (Grave et al. 2017), and the choice between them and a
plain linear head."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from seqtk.errors import SeqtkValueError

#: the target id the losses skip (torch's cross-entropy default)
IGNORE_INDEX = -100


class ProjectedHead(nn.Module):
    """A head tied to the embedding through a projection: ``logits = E · (P h + b_P) + b``, for a last hidden size
    H that differs from the embedding size (Inan et al. 2017, Press and Wolf 2017 tie only equal sizes).

    # (..., H) -> (..., V)
    """

    def __init__(self, in_features: int, embedding: nn.Embedding) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, embedding.embedding_dim)
        self.out = nn.Linear(embedding.embedding_dim, embedding.num_embeddings)
        self.out.weight = embedding.weight

    @property
    def weight(self) -> Tensor:
        """The tied (V, E) matrix: the embedding's."""
        return self.out.weight

    @property
    def out_features(self) -> int:
        return self.out.out_features

    def forward(self, h: Tensor) -> Tensor:
        # (..., H) -> (..., V)
        return self.out(self.proj(h))


class AdaptiveHead(nn.Module):
    """An adaptive softmax (Grave et al. 2017, ``torch.nn.AdaptiveLogSoftmaxWithLoss``) over the vocabulary:
    ids below the first cutoff get the full hidden size, the later clusters smaller ones (÷ ``div_value`` each, 4
    by default).

    Its forward returns log-probabilities, which sampling and scoring read as logits (a log-softmax of them
    is themselves); :meth:`loss` computes the training loss without forming all V of them.

    # (..., H) -> (..., V)
    """

    def __init__(self, in_features: int, vocab_size: int, cutoffs: Sequence[int], div_value: float = 4.0) -> None:
        super().__init__()
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(in_features, vocab_size, list(cutoffs), div_value=div_value)

    @property
    def weight(self) -> Tensor:
        """The shortlist's matrix (the device and dtype the head computes on)."""
        return self.softmax.head.weight

    @property
    def out_features(self) -> int:
        return self.softmax.n_classes

    def forward(self, h: Tensor) -> Tensor:
        # (..., H) -> (..., V) log-probabilities
        flat = h.reshape(-1, h.size(-1))
        return self.softmax.log_prob(flat).view(*h.shape[:-1], self.out_features)

    def loss(self, h: Tensor, targets: Tensor) -> Tensor:
        """The mean negative log-likelihood of the targets that are not IGNORE_INDEX."""
        # (B, T, H), (B, T) -> ()
        flat, targets = h.reshape(-1, h.size(-1)), targets.reshape(-1)
        keep = targets != IGNORE_INDEX
        if not bool(keep.all()):
            flat, targets = flat[keep], targets[keep]
        return self.softmax(flat, targets).loss


def _make_head(hidden: int, embedding: nn.Embedding, tie: bool, project: bool, cutoffs: Sequence[int],
               div_value: float = 4.0) -> nn.Module:  # fmt: skip
    vocab_size, embedding_dim = embedding.num_embeddings, embedding.embedding_dim
    if cutoffs:
        if tie:
            raise SeqtkValueError("an adaptive softmax head cannot be tied to the embedding",
                                  fix="turn tie_weights off, or adaptive_cutoffs off ([])")  # fmt: skip
        if list(cutoffs) != sorted(set(cutoffs)) or cutoffs[0] < 1 or cutoffs[-1] > vocab_size - 1:
            raise SeqtkValueError(
                f"adaptive_cutoffs must increase strictly between 1 and {vocab_size - 1} (the vocabulary has "
                f"{vocab_size} ids), got {list(cutoffs)}",
                fix="give e.g. [2000, 10000] for a 10,000-word vocabulary, ids sorted most frequent first",
            )
        empty = empty_cluster(hidden, len(cutoffs), div_value)
        if empty:
            raise SeqtkValueError(f"the adaptive softmax's cluster {empty} would have no dimensions: {hidden} // "
                                  f"{div_value:g}^{empty} is 0, so every id in it would get the same score",
                                  fix=CLUSTER_FIX)  # fmt: skip
        return AdaptiveHead(hidden, vocab_size, cutoffs, div_value)
    if tie and hidden != embedding_dim:
        if project:
            return ProjectedHead(hidden, embedding)
        raise SeqtkValueError(
            f"tie_weights needs the last hidden_size ({hidden}) to equal embedding_dim ({embedding_dim})",
            fix=f"set the last layer's hidden_size to {embedding_dim} or embedding_dim to {hidden}, turn "
            "tie_projection on (a projection between them), or turn tie_weights off",
        )
    head = nn.Linear(hidden, vocab_size)
    if tie:
        head.weight = embedding.weight
    return head


CLUSTER_FIX = "lower adaptive_div_value (1 keeps the full size), use fewer adaptive_cutoffs, or a larger hidden size"


def empty_cluster(hidden: int, clusters: int, div_value: float) -> int:
    """The first tail cluster (1-based) that ``nn.AdaptiveLogSoftmaxWithLoss`` would give no dimensions
    (``hidden // div_value ** n`` is 0), or 0 if none.

    >>> empty_cluster(12, 2, 4.0), empty_cluster(200, 2, 4.0)
    (2, 0)
    """
    return next((n for n in range(1, clusters + 1) if int(hidden // div_value**n) < 1), 0)

