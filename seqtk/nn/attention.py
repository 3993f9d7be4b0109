"""Attention over an encoder's outputs: additive (Bahdanau) and multiplicative (Luong) scores.

A decoder asks, at each output step, which source positions matter now. Its
query ``q`` (the decoder's hidden state) is scored against every encoder
output ``k_s`` (the *memory*); a softmax over the real (unpadded) positions
turns the scores into weights ``a_s``, and the context is ``sum_s a_s k_s``.
The score function is the only difference between the classic kinds:

- ``additive`` (Bahdanau, Cho and Bengio 2015): ``v^T tanh(W_q q + W_k k_s)``;
- ``general`` (Luong, Pham and Manning 2015): ``q^T W k_s``;
- ``dot`` (Luong): ``q^T k_s`` (query and memory the same size).

Whatever depends only on the memory (``W_k k_s``, ``W k_s``) is computed once
per source by :meth:`Attention.prepare`, so that one decoding step costs
``O(S)`` and never re-projects the memory: the O(1)-per-token decoding of
:mod:`seqtk.nn.decoding` depends on it.

Padded source positions get weight exactly 0, so a source's context is the
same alone as in a padded batch.

>>> attn = Attention("additive", query_dim=6, key_dim=4)
>>> memory = attn.prepare(torch.randn(2, 5, 4), torch.tensor([5, 3]))
>>> context, weights = attn(torch.randn(2, 6), memory)
>>> context.shape, weights.shape, weights[1, 3:].tolist()
(torch.Size([2, 4]), torch.Size([2, 5]), [0.0, 0.0])
>>> context, weights = attn(torch.randn(2, 7, 6), memory)  # all T steps of teacher forcing at once
>>> context.shape, weights.shape
(torch.Size([2, 7, 4]), torch.Size([2, 7, 5]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkValueError

__all__ = ["ATTENTION_KINDS", "Attention", "Memory"]

ATTENTION_KINDS = ("additive", "general", "dot")


@dataclass(frozen=True)
class Memory:
    """The encoder's outputs as attention reads them, prepared once per source.

    ``keys`` (B, S, K) are the encoder outputs, ``projected`` (B, S, A) what the
    score function precomputes from them, ``mask`` (B, S) True on real
    positions. :meth:`select` picks rows (beam search reorders and repeats them).
    """

    keys: Tensor
    projected: Tensor
    mask: Tensor

    def select(self, index: Tensor) -> Memory:
        """The rows ``index`` (a (N,) long tensor) of every field."""
        return Memory(self.keys.index_select(0, index), self.projected.index_select(0, index),
                      self.mask.index_select(0, index))  # fmt: skip


class Attention(nn.Module):
    """Scores a query against a prepared :class:`Memory`; returns the context and the weights."""

    def __init__(self, kind: str, query_dim: int, key_dim: int, attention_dim: int | None = None) -> None:
        super().__init__()
        if kind not in ATTENTION_KINDS:
            raise SeqtkValueError(f"unknown attention kind {kind!r}", fix=f"use one of {', '.join(ATTENTION_KINDS)}")
        if kind == "dot" and query_dim != key_dim:
            raise SeqtkValueError(
                f"dot attention needs the query and the memory the same size, got {query_dim} and {key_dim}",
                fix="use attention = 'general' (a learned matrix between them), or make the decoder's hidden "
                "size equal the encoder's output size (bidirectional doubles it)",
            )
        self.kind = kind
        self.query_dim, self.key_dim = query_dim, key_dim
        if kind == "additive":
            size = attention_dim or query_dim
            self.key_proj: nn.Module = nn.Linear(key_dim, size, bias=False)
            self.query_proj = nn.Linear(query_dim, size)
            self.v = nn.Linear(size, 1, bias=False)
        elif kind == "general":
            self.key_proj = nn.Linear(key_dim, query_dim, bias=False)  # q^T W k = q . (W k), W k precomputed
        else:
            self.key_proj = nn.Identity()

    def prepare(self, keys: Tensor, lengths: Tensor) -> Memory:
        """The memory of right-padded encoder outputs.

        # keys (B, S, K), lengths (B,) -> Memory(keys (B, S, K), projected (B, S, A), mask (B, S))
        """
        mask = torch.arange(keys.size(1), device=keys.device) < lengths.to(keys.device).unsqueeze(1)
        return Memory(keys, self.key_proj(keys), mask)

    def forward(self, query: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        """Context and weights for one query per row, or for T queries per row at once.

        # query (B, Q) -> context (B, K), weights (B, S)
        # query (B, T, Q) -> context (B, T, K), weights (B, T, S)
        """
        single = query.dim() == 2
        q = query.unsqueeze(1) if single else query  # (B, T, Q)
        scores = self.score(q, memory.projected)  # (B, T, S)
        scores = scores.masked_fill(~memory.mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores.float(), dim=-1).to(memory.keys.dtype)  # (B, T, S); float for fp16 safety
        context = torch.bmm(weights, memory.keys)  # (B, T, S) @ (B, S, K) -> (B, T, K)
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)

    def score(self, q: Tensor, projected: Tensor) -> Tensor:
        """Unnormalised scores.

        # q (B, T, Q), projected (B, S, A) -> (B, T, S)
        """
        if self.kind == "additive":
            hidden = torch.tanh(self.query_proj(q).unsqueeze(2) + projected.unsqueeze(1))  # (B, T, S, A)
            return self.v(hidden).squeeze(-1)  # (B, T, S)
        return torch.bmm(q, projected.transpose(1, 2))  # (B, T, Q) @ (B, Q, S) -> (B, T, S)
