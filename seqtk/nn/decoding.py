"""Decoding a sequence model token by token: greedy search and beam search, batched over inputs.

Both work with any *step model*: an object whose ``step(state, tokens)``
returns the next token's logits ``(N, V)``, the new state, and attention
weights ``(N, S)`` or None, where the state has ``select(index)`` to pick,
reorder and repeat rows (:class:`seqtk.nn.encoder_decoder.EncoderDecoder` is
one). The state carries everything the model needs, so each emitted token
costs one step of recurrent work: ``bench/decoding.py`` measures that against
re-running the decoder over the whole prefix at every step.

Beam search keeps the ``beam`` best partial outputs per input, ranked by the
sum of their tokens' log-probabilities. It follows fairseq's search: at each
step the ``2 * beam`` best extensions are ranked; an end-of-sequence among
the first ``beam`` of them finishes a hypothesis, and the first ``beam``
others go on. An input is done when it has ``beam`` finished hypotheses;
at ``max_len`` every open one is finished as it stands. Finished hypotheses
are ranked by ``log p / length ** length_penalty`` (length counts the end
token; 0 ranks by ``log p`` alone, which favours short outputs; 1 by the
mean log-probability per token). With a beam as wide as the number of
possible outputs this is exhaustive search (``tests/nn/test_decoding.py``
checks that on a tiny vocabulary), and a beam of 1 is greedy search.

>>> class Count:  # a toy state: how many steps were taken
...     def __init__(self, t): self.t = t
...     def select(self, index): return self
>>> class Toy:  # prefers token t + 1 at step t, and the end token (4) after three tokens
...     def step(self, state, tokens):
...         logits = torch.full((len(tokens), 5), -5.0)
...         logits[:, min(state.t + 1, 4)] = 0.0
...         return logits, Count(state.t + 1), None
>>> greedy(Toy(), Count(0), batch_size=2, bos=0, eos=4, max_len=10)[1].tokens
[1, 2, 3]
>>> [h.tokens for h in beam_search(Toy(), Count(0), 1, bos=0, eos=4, beam=3, max_len=10, n_best=2)[0]]
[[1, 2, 3], [1, 2, 0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from seqtk.errors import SeqtkValueError

__all__ = ["Hypothesis", "StepModel", "beam_search", "check_search", "greedy"]


class StepModel(Protocol):
    """What decoding needs of a model: one step, from the previous tokens to the next token's logits."""

    def step(self, state: Any, tokens: Tensor) -> tuple[Tensor, Any, Tensor | None]: ...


@dataclass
class Hypothesis:
    """One output: its token ids (without the begin and end tokens), its ranking score, its log-probability.

    ``attention`` is (len(tokens) + 1, S) when kept: each emitted token's weights over the source, the
    end token's last (only where the model gives weights and ``keep_attention`` is set).
    """

    tokens: list[int]
    score: float
    log_prob: float
    finished: bool = True
    attention: Tensor | None = None


def check_search(beam: int, max_len: int, n_best: int = 1) -> None:
    """Refuse search settings that cannot work, naming the ``seqtk predict`` option that sets each."""
    if beam < 1:
        raise SeqtkValueError(f"the beam size must be at least 1, got {beam}",
                              fix="use --beam 1 for greedy search, or a beam such as 5")  # fmt: skip
    if max_len < 1:
        raise SeqtkValueError(f"max_len must be at least 1, got {max_len}", fix="allow at least one output token")
    if not 1 <= n_best <= beam:
        raise SeqtkValueError(f"n_best must be between 1 and the beam size ({beam}), got {n_best}",
                              fix=f"use --n-best {min(max(n_best, 1), beam)}, or a wider --beam")  # fmt: skip


@torch.no_grad()
def greedy(model: StepModel, state: Any, batch_size: int, bos: int, eos: int, max_len: int,
           length_penalty: float = 1.0, keep_attention: bool = False, device: torch.device | str = "cpu",
           banned: Sequence[int] = ()) -> list[Hypothesis]:  # fmt: skip
    """The most likely next token at every step, for ``batch_size`` inputs at once; one Hypothesis each.

    ``max_len`` is the most tokens an output has (the end token not counted); an output that reaches it
    without the end token has ``finished`` False. ``device`` is the model's (the tokens go there).
    ``banned`` ids are never emitted (padding, the begin token, OOV buckets: ids no target ever had).
    """
    check_search(1, max_len)
    tokens = torch.full((batch_size,), bos, dtype=torch.long)
    log_prob = torch.zeros(batch_size)
    out = torch.zeros(batch_size, max_len, dtype=torch.long)
    length = torch.full((batch_size,), max_len)
    done = torch.zeros(batch_size, dtype=torch.bool)
    weights: list[Tensor] = []
    for t in range(max_len):
        logp, state, w = _next(model, state, tokens, device, banned)  # (N, V) on the model's device
        best, tokens = (t.cpu() for t in logp.max(-1))  # (N,), (N,)
        log_prob += torch.where(done, torch.zeros_like(best), best)
        out[:, t] = tokens
        if keep_attention and w is not None:
            weights.append(w.float().cpu())
        ended = ~done & (tokens == eos)
        length[ended] = t  # the tokens before the end token
        done |= ended
        if bool(done.all()):
            break
    return [_hypothesis(out[i, : int(length[i])].tolist(), float(log_prob[i]), bool(done[i]), int(length[i]),
                        weights, i, length_penalty) for i in range(batch_size)]  # fmt: skip


@torch.no_grad()
def beam_search(model: StepModel, state: Any, batch_size: int, bos: int, eos: int, beam: int, max_len: int,
                length_penalty: float = 1.0, n_best: int = 1, keep_attention: bool = False,
                device: torch.device | str = "cpu", banned: Sequence[int] = ()) -> list[list[Hypothesis]]:  # fmt: skip
    """The ``n_best`` best outputs of each of ``batch_size`` inputs, best first (see the module's docstring).

    ``state`` holds ``batch_size`` rows; they are repeated ``beam`` times here. ``max_len`` is the most
    tokens an output has (the end token not counted): the step after it may only end, and what ends there
    has ``finished`` False. ``banned`` and ``device`` as for :func:`greedy`.
    """
    check_search(beam, max_len, n_best)
    if batch_size == 0:
        return []
    state = state.select(torch.arange(batch_size).repeat_interleave(beam).to(device))  # input b: rows b*K ..
    tokens = torch.full((batch_size * beam,), bos, dtype=torch.long)
    scores = torch.full((batch_size, beam), float("-inf"))
    scores[:, 0] = 0.0  # one live beam at the start, so the first step does not pick the same token K times
    history = torch.zeros(batch_size * beam, 0, dtype=torch.long)
    attention: Tensor | None = None  # (B*K, t, S)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch_size)]
    for t in range(max_len + 1):
        logp, state, w = _next(model, state, tokens, device, banned, only=eos if t == max_len else None)
        if keep_attention and w is not None:
            step_w = w.float().cpu().unsqueeze(1)  # (B*K, 1, S)
            attention = step_w if attention is None else torch.cat([attention, step_w], dim=1)
        candidates = (scores.to(logp.device).unsqueeze(2) + logp.view(batch_size, beam, -1)).view(batch_size, -1)
        top, index = (t.cpu() for t in candidates.topk(min(2 * beam, candidates.size(1)), dim=1))  # (B, 2K) best first
        parent = torch.arange(batch_size).unsqueeze(1) * beam + index // logp.size(1)  # (B, 2K): parents' rows
        token = index % logp.size(1)  # (B, 2K)
        _finish(finished, top, parent, token, eos, beam, history, attention, length_penalty, t < max_len)
        done = torch.tensor([len(f) >= beam for f in finished])
        if bool(done.all()):
            break
        keep = _first_open(token, eos, beam)  # (B, K): positions among the 2K that go on
        scores = top.gather(1, keep).masked_fill(done.unsqueeze(1), float("-inf"))
        chosen, tokens = parent.gather(1, keep).flatten(), token.gather(1, keep).flatten()  # (B*K,) each
        history = torch.cat([history[chosen], tokens.unsqueeze(1)], dim=1)
        attention = None if attention is None else attention[chosen]
        state = state.select(chosen.to(device))
    return [sorted(f, key=lambda h: -h.score)[:n_best] for f in finished]


def _next(model: StepModel, state: Any, tokens: Tensor, device: torch.device | str, banned: Sequence[int],
          only: int | None = None) -> tuple[Tensor, Any, Tensor | None]:  # fmt: skip
    """One step: log-probabilities of the next token, ``banned`` ids at -inf; with ``only``, every id but
    that one at -inf (its own log-probability kept). They stay on the model's device: only the few best
    of each row come to the CPU (a BPE vocabulary of 8,000 would otherwise cross every step).

    # tokens (N,) -> log p (N, V), state, weights (N, S) or None
    """
    logits, state, w = model.step(state, tokens.to(device))
    logits = logits.float()
    if banned:
        logits[:, list(banned)] = float("-inf")
    logp = torch.log_softmax(logits, dim=-1)
    if only is not None:
        keep = torch.tensor([only], device=logp.device)
        logp = torch.full_like(logp, float("-inf")).index_copy_(1, keep, logp[:, only : only + 1])
    return logp, state, w


def _finish(finished: list[list[Hypothesis]], top: Tensor, parent: Tensor, token: Tensor, eos: int, beam: int,
            history: Tensor, attention: Tensor | None, length_penalty: float, chosen: bool) -> None:  # fmt: skip
    """Record the end tokens among each input's first ``beam`` extensions as finished hypotheses
    (``chosen`` False: the end was forced at max_len, so they did not finish of their own accord)."""
    ends = (token[:, :beam] == eos) & torch.isfinite(top[:, :beam])  # (B, K)
    for b, k in ends.nonzero().tolist():
        if len(finished[b]) >= beam:
            continue
        row = int(parent[b, k])
        tokens = history[row].tolist()
        log_prob = float(top[b, k])
        score = log_prob / (len(tokens) + 1) ** length_penalty
        weights = None if attention is None else attention[row]
        finished[b].append(Hypothesis(tokens, score, log_prob, chosen, weights))


def _first_open(token: Tensor, eos: int, beam: int) -> Tensor:
    """The positions of the first ``beam`` extensions that do not end, per input.

    # token (B, 2K) -> (B, K)
    """
    rank = torch.arange(token.size(1)).expand_as(token)
    order = rank + (token == eos).long() * token.size(1)  # an ending extension sorts after every open one
    return order.argsort(dim=1)[:, :beam]


def _hypothesis(tokens: list[int], log_prob: float, finished: bool, length: int, weights: list[Tensor], row: int,
                length_penalty: float) -> Hypothesis:  # fmt: skip
    attention = torch.stack([w[row] for w in weights[: length + 1]]) if weights else None
    score = log_prob / (length + 1) ** length_penalty
    return Hypothesis(tokens, score, log_prob, finished, attention)
