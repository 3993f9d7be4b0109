"""AWD-LSTM's regularisers (Merity, Keskar and Socher 2017): weight-drop, locked dropout, embedding dropout, AR/TAR.

**Weight-drop** is DropConnect on the hidden-to-hidden matrices: while
training, each batch drops a random set of the recurrent weights (one mask for
the whole sequence), which regularises the recurrence without touching the
fused kernel's inner loop. Salesforce's ``WeightDrop`` swapped the module's
parameters by hand and broke with torch 1.4; here it is a
``torch.nn.utils.parametrize`` parametrization of ``weight_hh_l0`` (and of the
reverse direction's), so ``state_dict``, ``.to()`` and optimisers see the one
raw parameter, and the fused module reads the dropped weights. In eval mode the
raw weights are used unchanged (dropout's 1/(1 − p) scaling happens in training).

The encoder runs its layers inside ``parametrize.cached()``, so each forward
draws one mask per matrix: without it, every read of the weight would draw a
new one (PyTorch's RNN modules read their weights twice per call).

**Locked dropout** (variational dropout, Gal & Ghahramani 2016) drops the same
features at every time step of a sequence: one mask of shape (B, 1, F).

>>> drop = LockedDropout(0.5).train()
>>> y = drop(torch.ones(2, 6, 4))
>>> bool((y == y[:, :1]).all())  # the same mask at every step
True

**Embedding dropout** drops whole words: rows of the embedding matrix, one
mask per batch, the kept rows scaled by 1/(1 − p), so a dropped word is all
zeros wherever it occurs in the batch (:func:`embedding_dropout`).

**AR and TAR** (activation and temporal activation regularisation) penalise
the last layer's outputs: ``alpha * mean(dropped ** 2)`` on the outputs after
dropout and ``beta * mean((raw[:, t+1] - raw[:, t]) ** 2)`` on the ones before
(:func:`ar_tar`). A :class:`~seqtk.nn.lm.CharLM` built with ``ar_alpha`` or
``tar_beta`` keeps the terms of its last training forward; a task's ``step``
adds them to the loss with :func:`add_activation_penalty`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize


class WeightDrop(nn.Module):
    """A parametrization: the weight with DropConnect while training, unchanged in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, weight: Tensor) -> Tensor:
        # (G·H, H) -> (G·H, H)
        return F.dropout(weight, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def weight_drop_(rnn: nn.RNNBase, p: float) -> nn.RNNBase:
    """Put :class:`WeightDrop` on every hidden-to-hidden matrix of a fused module, in place; returns it."""
    if p > 0:
        for name in rnn._flat_weights_names:
            if name.startswith("weight_hh"):
                parametrize.register_parametrization(rnn, name, WeightDrop(p))
    return rnn


def has_weight_drop(module: nn.Module) -> bool:
    """Whether any submodule carries a :class:`WeightDrop` parametrization."""
    return any(isinstance(m, WeightDrop) for m in module.modules())


class LockedDropout(nn.Module):
    """Dropout with one mask per sequence, shared by all its steps.

    # (B, T, F) -> (B, T, F); a (B, F) input (one vector per sequence) gets ordinary dropout
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        # (B, T, F) -> (B, T, F)
        if not self.training or self.p == 0 or x.dim() != 3:
            return F.dropout(x, self.p, self.training)
        mask = torch.empty(x.size(0), 1, x.size(2), device=x.device, dtype=x.dtype).bernoulli_(1 - self.p)
        return x * mask.div_(1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def embedding_dropout(embedding: nn.Embedding, idx: Tensor, p: float, training: bool) -> Tensor:
    """``embedding(idx)`` with whole rows of its matrix dropped (p) and the rest scaled by 1/(1 − p) while training.

    # (B, T) -> (B, T, E)
    """
    if not training or p == 0:
        return embedding(idx)
    weight = embedding.weight
    mask = weight.new_empty(weight.size(0), 1).bernoulli_(1 - p).div_(1 - p)  # (V, 1): one draw per word
    return F.embedding(idx, weight * mask, embedding.padding_idx, embedding.max_norm, embedding.norm_type,
                       embedding.scale_grad_by_freq, embedding.sparse)  # fmt: skip


def ar_tar(raw: Tensor, dropped: Tensor, alpha: float, beta: float) -> Tensor:
    """AR + TAR of the last layer's outputs: ``alpha * mean(dropped²) + beta * mean((raw[:, 1:] − raw[:, :-1])²)``.

    # (B, T, H), (B, T, H) -> ()
    """
    penalty = raw.new_zeros(())
    if alpha:
        penalty = penalty + alpha * dropped.pow(2).mean()
    if beta and raw.size(1) > 1:
        penalty = penalty + beta * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
    return penalty


def add_activation_penalty(model: nn.Module, loss: Tensor) -> Tensor:
    """``loss`` plus the AR/TAR terms of ``model``'s last training forward (``loss`` itself when it has none).

    ``model`` may be wrapped (DDP's ``module``, torch.compile's ``_orig_mod``). The terms are taken once: a second
    call before the next forward adds nothing.
    """
    inner = model
    while not hasattr(inner, "activation_penalty") and (hasattr(inner, "module") or hasattr(inner, "_orig_mod")):
        inner = getattr(inner, "module", None) or inner._orig_mod
    penalty = getattr(inner, "activation_penalty", None)
    if penalty is None:
        return loss
    inner.activation_penalty = None
    return loss + penalty
