"""A linear-chain conditional random field: sequence-level scores for per-token tag scores.

A tagger's encoder gives every token a score per tag (the *emissions*,
``(B, T, K)``). A softmax head picks each token's tag on its own; a CRF adds a
learned score for every pair of neighbouring tags (``transitions[i, j]``: tag
``i`` followed by tag ``j``), one for the first tag (``start``) and one for the
last (``end``), and scores whole tag sequences::

    score(y) = start[y_1] + sum_t emissions[t, y_t] + sum_t transitions[y_t, y_t+1] + end[y_L]

Training maximises ``log p(y | x) = score(y) - log Z``, where the partition
function ``Z`` sums ``exp(score)`` over all ``K ** L`` sequences; the forward
algorithm computes ``log Z`` in ``O(L K^2)``. Decoding is Viterbi: the best
sequence, also ``O(L K^2)``. Both are batched over right-padded sequences with
a ``(B, T)`` mask that is True on each sequence's first ``L_b`` steps; padded
steps leave the recursions untouched (a ``torch.where`` keeps the previous
state), so a sentence gets the same score and tags alone as in a padded batch.
``tests/nn/test_crf.py`` checks ``log Z`` and Viterbi against brute-force
enumeration.

>>> crf = CRF(3)
>>> emissions = torch.randn(2, 4, 3)
>>> mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
>>> crf(emissions, torch.tensor([[0, 1, 2, 1], [2, 2, 0, 0]]), mask).shape  # log-likelihood per sequence
torch.Size([2])
>>> tags, scores = crf.decode(emissions, mask)
>>> tags.shape, scores.shape, tags[1, 2:].tolist()  # padded steps hold 0
(torch.Size([2, 4]), torch.Size([2]), [0, 0])
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkValueError

__all__ = ["CRF", "lengths_to_mask"]


def lengths_to_mask(lengths: Tensor, steps: int) -> Tensor:
    """The ``(B, T)`` bool mask of right-padded sequences: True on each one's first ``lengths[b]`` steps.

    # lengths (B,) -> (B, T)

    >>> lengths_to_mask(torch.tensor([3, 1]), 4).int().tolist()
    [[1, 1, 1, 0], [1, 0, 0, 0]]
    """
    return torch.arange(steps, device=lengths.device) < lengths.unsqueeze(1)


class CRF(nn.Module):
    """Linear-chain CRF over ``num_tags`` tags: transition, start and end scores, learned.

    ``forward`` gives the log-likelihood of given tag sequences, :meth:`nll`
    the mean loss per token, :meth:`decode` the Viterbi tags and their scores.
    Every method takes emissions ``(B, T, K)`` and a mask ``(B, T)`` (bool,
    True on each sequence's first ``L_b >= 1`` steps).
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise SeqtkValueError(f"CRF needs num_tags >= 1, got {num_tags!r}", fix="pass the number of tags")
        self.num_tags = num_tags
        # Small random starts break the symmetry between tags, as nn.Linear's init does for the emissions.
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-0.1, 0.1))  # (K, K): from, to
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))  # (K,)
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-0.1, 0.1))  # (K,)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Log-likelihood ``log p(tags | x)`` of each sequence (tags at padded steps are ignored).

        # emissions (B, T, K), tags (B, T) long, mask (B, T) bool -> (B,)
        """
        self._check(emissions, mask, tags)
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """The training loss: negative log-likelihood summed over the batch, divided by its tokens.

        Per token, so that it sits on the same scale as a per-token cross-entropy
        and the learning rate does not depend on sentence length.

        # emissions (B, T, K), tags (B, T), mask (B, T) -> ()
        """
        return -self(emissions, tags, mask).sum() / mask.sum().clamp(min=1)

    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """The unnormalised score of the given tag sequences.

        # emissions (B, T, K), tags (B, T), mask (B, T) -> (B,)
        """
        tags = tags.masked_fill(~mask, 0)  # padding may hold -100 or anything: any valid id, then masked out
        m = mask.to(emissions.dtype)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, T, K) -> (B, T)
        total = self.start[tags[:, 0]] + (emitted * m).sum(1)  # (B,)
        steps = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1): y_t -> y_t+1
        total = total + (steps * m[:, 1:]).sum(1)  # a step counts when its second tag is valid
        last = mask.sum(1) - 1  # (B,) index of each sequence's last valid step
        return total + self.end[tags.gather(1, last.unsqueeze(1)).squeeze(1)]

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """``log Z``: the log of the sum of ``exp(score)`` over every tag sequence (forward algorithm).

        # emissions (B, T, K), mask (B, T) -> (B,)
        """
        self._check(emissions, mask)
        alpha = self.start + emissions[:, 0]  # (B, K): log-sum over paths ending in each tag at step 0
        for t in range(1, emissions.size(1)):
            # (B, K, 1) + (K, K) + (B, 1, K) -> (B, K, K) -> logsumexp over the previous tag -> (B, K)
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)  # padded steps keep alpha
        return torch.logsumexp(alpha + self.end, dim=1)

    def decode(self, emissions: Tensor, mask: Tensor, fill: int = 0) -> tuple[Tensor, Tensor]:
        """The best tag sequence of each input (Viterbi) and its score; padded steps hold ``fill``.

        # emissions (B, T, K), mask (B, T) -> tags (B, T) long, scores (B,)
        """
        self._check(emissions, mask)
        batch, steps, k = emissions.shape
        best = self.start + emissions[:, 0]  # (B, K): best score of a path ending in each tag
        keep = torch.arange(k, device=emissions.device).expand(batch, k)  # a padded step points to itself
        pointers = []
        for t in range(1, steps):
            scores = best.unsqueeze(2) + self.transitions  # (B, K, 1) + (K, K) -> (B, K prev, K next)
            top, prev = scores.max(dim=1)  # (B, K) each: best previous tag for each next tag
            valid = mask[:, t].unsqueeze(1)
            best = torch.where(valid, top + emissions[:, t], best)
            pointers.append(torch.where(valid, prev, keep))
        final, last = (best + self.end).max(dim=1)  # (B,), (B,)
        path = [last]
        for prev in reversed(pointers):  # (B, K) each, from the last step back
            path.append(prev.gather(1, path[-1].unsqueeze(1)).squeeze(1))
        tags = torch.stack(path[::-1], dim=1)  # (B, T); a padded tail repeats the last valid tag ...
        return tags.masked_fill(~mask, fill), final  # ... and is filled here

    def _check(self, emissions: Tensor, mask: Tensor, tags: Tensor | None = None) -> None:
        if emissions.dim() != 3 or emissions.size(2) != self.num_tags or emissions.size(1) < 1:
            raise SeqtkValueError(
                f"CRF expects emissions of shape (B, T, {self.num_tags}) with T >= 1, got {tuple(emissions.shape)}",
                fix=f"pass one score per tag ({self.num_tags}) for every token, batch first",
            )
        if mask.shape != emissions.shape[:2] or mask.dtype != torch.bool:
            raise SeqtkValueError(
                f"the CRF mask must be bool of shape {tuple(emissions.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}",
                fix="build it with seqtk.nn.crf.lengths_to_mask(lengths, T)",
            )
        if tags is not None and tags.shape != mask.shape:
            raise SeqtkValueError(
                f"the CRF tags must have the mask's shape {tuple(mask.shape)}, got {tuple(tags.shape)}",
                fix="pass one tag id per token, padded like the emissions",
            )
        if mask.device.type == "cpu" and not bool(mask[:, 0].all()):  # on an accelerator this would sync
            raise SeqtkValueError(
                "every sequence must have at least one valid step (mask[:, 0] all True)",
                fix="drop empty sequences before the CRF",
            )
