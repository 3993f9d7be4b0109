"""Greedy and beam search against exhaustive search on a tiny vocabulary, and their batching."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pytest
import torch

from seqtk.errors import SeqtkError
from seqtk.nn.decoding import beam_search, greedy

EOS, BOS, V = 3, 4, 5  # tokens 0..2 are words, 3 ends, 4 begins (never emitted: the table gives it -inf)


@dataclass
class Rows:
    """Per row: which input it decodes and how many steps it has taken."""

    source: torch.Tensor  # (N,)
    t: int

    def select(self, index: torch.Tensor) -> Rows:
        return Rows(self.source.index_select(0, index), self.t)


class Table:
    """A step model whose next-token logits depend on the input, the step and the previous token."""

    def __init__(self, inputs: int, steps: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.logits = torch.randn(inputs, steps + 2, V, V, generator=g) * 2  # (input, t, prev, next)
        self.logits[..., BOS] = float("-inf")

    def step(self, state: Rows, tokens: torch.Tensor):
        logits = self.logits[state.source, state.t, tokens]  # (N, V)
        return logits, Rows(state.source, state.t + 1), None

    def log_prob(self, source: int, tokens: list[int]) -> float:
        total, prev = 0.0, BOS
        for t, tok in enumerate([*tokens, EOS]):
            total += float(torch.log_softmax(self.logits[source, t, prev], -1)[tok])
            prev = tok
        return total


def exhaustive(model: Table, source: int, max_len: int, length_penalty: float) -> list[tuple[float, list[int]]]:
    """Every output of at most max_len words, ranked as beam search ranks finished hypotheses."""
    ranked = []
    for n in range(max_len + 1):
        for tokens in itertools.product(range(3), repeat=n):
            lp = model.log_prob(source, list(tokens))
            ranked.append((lp / (n + 1) ** length_penalty, list(tokens)))
    return sorted(ranked, key=lambda r: -r[0])


@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 0.6])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_wide_beam_is_exhaustive_search(seed: int, length_penalty: float) -> None:
    max_len, inputs = 4, 3
    model = Table(inputs, max_len, seed)
    # 3 + 9 + 27 + 81 + ... open prefixes at most: a beam of 400 never drops one
    found = beam_search(model, Rows(torch.arange(inputs), 0), inputs, BOS, EOS, beam=400, max_len=max_len,
                        length_penalty=length_penalty, n_best=5)  # fmt: skip
    for source in range(inputs):
        best = exhaustive(model, source, max_len, length_penalty)[:5]
        assert [h.tokens for h in found[source]] == [tokens for _, tokens in best]
        for h, (score, tokens) in zip(found[source], best):
            assert h.score == pytest.approx(score, abs=1e-5)
            assert h.log_prob == pytest.approx(model.log_prob(source, tokens), abs=1e-5)


def test_beam_of_one_is_greedy() -> None:
    model = Table(6, 8, seed=3)
    state = Rows(torch.arange(6), 0)
    by_beam = beam_search(model, state, 6, BOS, EOS, beam=1, max_len=8)
    by_greedy = greedy(model, state, 6, BOS, EOS, max_len=8)
    assert any(g.finished for g in by_greedy)
    for b, g in zip(by_beam, by_greedy):
        assert b[0].tokens == g.tokens
        if g.finished:  # an unfinished greedy output has no end token; beam search scores a forced one
            assert b[0].log_prob == pytest.approx(g.log_prob, abs=1e-5)


def test_a_wider_beam_never_finds_a_worse_best() -> None:
    model = Table(20, 6, seed=4)
    state = Rows(torch.arange(20), 0)
    narrow = beam_search(model, state, 20, BOS, EOS, beam=1, max_len=6, length_penalty=0.0)
    wide = beam_search(model, state, 20, BOS, EOS, beam=400, max_len=6, length_penalty=0.0)
    assert all(w[0].score >= n[0].score - 1e-6 for w, n in zip(wide, narrow))
    assert any(w[0].score > n[0].score + 1e-3 for w, n in zip(wide, narrow))  # the toy has garden paths


def test_batched_search_equals_one_input_at_a_time() -> None:
    model = Table(5, 6, seed=5)
    together = beam_search(model, Rows(torch.arange(5), 0), 5, BOS, EOS, beam=3, max_len=6, n_best=3)
    for source in range(5):
        alone = beam_search(model, Rows(torch.tensor([source]), 0), 1, BOS, EOS, beam=3, max_len=6, n_best=3)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in together[source]]


def test_n_best_is_sorted_and_distinct_and_max_len_holds() -> None:
    model = Table(4, 3, seed=6)
    found = beam_search(model, Rows(torch.arange(4), 0), 4, BOS, EOS, beam=4, max_len=3, n_best=4)
    for hyps in found:
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True) and len(hyps) == 4
        assert len({tuple(h.tokens) for h in hyps}) == 4
        assert all(len(h.tokens) <= 3 and EOS not in h.tokens for h in hyps)
        assert all(math.isfinite(h.score) for h in hyps)


def test_greedy_stops_unfinished_at_max_len() -> None:
    class Never:  # never ends
        def step(self, state, tokens):
            logits = torch.zeros(len(tokens), V)
            logits[:, 0] = 5.0
            return logits, state, None

    (h,) = greedy(Never(), Rows(torch.zeros(1, dtype=torch.long), 0), 1, BOS, EOS, max_len=4)
    assert h.tokens == [0, 0, 0, 0] and not h.finished


@pytest.mark.parametrize("kwargs", [{"beam": 0}, {"beam": 2, "n_best": 3}, {"beam": 2, "max_len": 0}])
def test_bad_search_options_are_refused(kwargs: dict) -> None:
    options = {"max_len": 4, **kwargs}
    with pytest.raises(SeqtkError, match="Fix:|must be"):
        beam_search(Table(1, 4, 0), Rows(torch.zeros(1, dtype=torch.long), 0), 1, BOS, EOS, **options)


def test_an_end_forced_at_max_len_is_not_finished_and_banned_ids_never_come_out() -> None:
    class Never:  # prefers padding (0), then word 1; never the end token
        def step(self, state, tokens):
            logits = torch.zeros(len(tokens), V)
            logits[:, 0], logits[:, 1] = 9.0, 5.0
            return logits, state, None

    state = Rows(torch.zeros(2, dtype=torch.long), 0)
    for hyps in beam_search(Never(), state, 2, BOS, EOS, beam=2, max_len=3, n_best=2):
        assert all(not h.finished and len(h.tokens) <= 3 for h in hyps)
    free = beam_search(Never(), state, 2, BOS, EOS, beam=2, max_len=3)
    assert 0 in free[0][0].tokens
    banned = beam_search(Never(), state, 2, BOS, EOS, beam=2, max_len=3, banned=[0, BOS])
    assert banned[0][0].tokens == [1, 1, 1]
    assert greedy(Never(), state, 2, BOS, EOS, max_len=3, banned=[0, BOS])[0].tokens == [1, 1, 1]


def test_an_empty_batch_decodes_to_nothing() -> None:
    state = Rows(torch.zeros(0, dtype=torch.long), 0)
    model = Table(1, 3, 0)
    assert beam_search(model, state, 0, BOS, EOS, beam=3, max_len=3) == []
    assert greedy(model, state, 0, BOS, EOS, max_len=3) == []
