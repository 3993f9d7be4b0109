"""The checks a language model (:class:`seqtk.nn.lm.CharLM`) makes of what it is given: sizes, token ids,
targets and generation settings, each refused with a one-paragraph error that names the fix."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from seqtk.errors import SeqtkValueError


def check_positive(name: str, value: int) -> None:
    """``value`` must be an int >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SeqtkValueError(f"{name} must be a positive integer, got {value!r}", fix=f"pass {name} >= 1")


def check_targets(idx: Tensor, targets: Tensor) -> None:
    """``targets`` must have the shape of ``idx`` (the same stream shifted by one)."""
    if targets.shape != idx.shape:
        raise SeqtkValueError(
            f"targets must have shape {tuple(idx.shape)} like idx, got {tuple(targets.shape)}",
            fix="shift the same token stream by one: idx = ids[:, :-1], targets = ids[:, 1:]",
        )


def check_ids(name: str, idx: Tensor, vocab_size: int, dims: tuple[int, ...]) -> None:
    """``idx`` must be a long tensor of ``dims`` dimensions holding ids in ``0..vocab_size - 1``."""
    if not isinstance(idx, Tensor) or idx.dim() not in dims or idx.dtype != torch.long:
        shape = tuple(idx.shape) if isinstance(idx, Tensor) else type(idx).__name__
        want = " or ".join({1: "(T,)", 2: "(B, T)"}[d] for d in dims)
        raise SeqtkValueError(
            f"{name} must be a {want} tensor of token ids (torch.long), got {shape}"
            + (f" {idx.dtype}" if isinstance(idx, Tensor) else ""),
            fix="encode text with the vocabulary and pass torch.tensor(ids, dtype=torch.long)",
        )
    if not idx.numel():
        return
    low, high = (int(v) for v in torch.stack(idx.aminmax()).tolist())  # one device sync, not two
    if low < 0 or high >= vocab_size:
        raise SeqtkValueError(
            f"{name} holds ids from {low} to {high}, outside the vocabulary 0..{vocab_size - 1}",
            fix="encode with the same vocabulary the model was built for",
        )


def check_sampling(max_new_tokens: int, temperature: float, top_k: int, top_p: float) -> None:
    """Generation's settings: ``max_new_tokens`` an int >= 0, ``temperature`` finite >= 0, ``top_k`` >= 0,
    ``top_p`` in (0, 1].

    >>> check_sampling(10, 1.5, 0, 0.0)
    Traceback (most recent call last):
    ...
    seqtk.errors.SeqtkValueError: top_p must be in (0, 1], got 0.0. Fix: use 1.0 to turn nucleus sampling off.
    """
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise SeqtkValueError(
            f"max_new_tokens must be a non-negative integer, got {max_new_tokens!r}", fix="pass e.g. max_new_tokens=200"
        )
    if not 0 <= temperature < math.inf:  # also refuses NaN
        raise SeqtkValueError(
            f"temperature must be a finite number >= 0, got {temperature}",
            fix="use 0 for greedy decoding, 1 for the model's own distribution",
        )
    if top_k < 0:
        raise SeqtkValueError(f"top_k must be >= 0, got {top_k}", fix="use 0 to turn top-k off")
    if not 0.0 < top_p <= 1.0:
        raise SeqtkValueError(f"top_p must be in (0, 1], got {top_p}", fix="use 1.0 to turn nucleus sampling off")
