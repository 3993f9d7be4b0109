"""seqtk.nn.crf: log Z and Viterbi against brute-force enumeration of every tag sequence; padding changes nothing."""

from __future__ import annotations

import itertools

import pytest
import torch

from seqtk.errors import SeqtkError
from seqtk.nn.crf import CRF, lengths_to_mask


def brute_scores(crf: CRF, emissions: torch.Tensor, length: int) -> dict[tuple[int, ...], float]:
    """score(y) of every tag sequence y of one sentence, written out from the definition."""
    e, a = emissions[:length].double(), crf.transitions.double()
    out = {}
    for y in itertools.product(range(crf.num_tags), repeat=length):
        s = crf.start[y[0]] + crf.end[y[-1]] + sum(e[t, y[t]] for t in range(length))
        s = s + sum(a[y[t], y[t + 1]] for t in range(length - 1))
        out[y] = float(s)
    return out


def random_case(num_tags: int, lengths: list[int], seed: int) -> tuple[CRF, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    crf = CRF(num_tags).double()
    with torch.no_grad():  # larger than the init, so that the transitions matter
        crf.transitions.normal_(0, 1.5)
        crf.start.normal_(0, 1.0)
        crf.end.normal_(0, 1.0)
    emissions = torch.randn(len(lengths), max(lengths), num_tags, dtype=torch.float64) * 2
    return crf, emissions, lengths_to_mask(torch.tensor(lengths), max(lengths))


CASES = [(2, [1]), (3, [4, 2, 1, 3]), (4, [5, 5]), (3, [1, 6, 2]), (5, [3, 4])]


@pytest.mark.parametrize(("num_tags", "lengths"), CASES)
@torch.no_grad()
def test_log_partition_and_likelihood_match_enumeration(num_tags, lengths):
    crf, emissions, mask = random_case(num_tags, lengths, seed=num_tags * 10 + len(lengths))
    log_z = crf.log_partition(emissions, mask)
    tags = torch.randint(0, num_tags, mask.shape).masked_fill(~mask, -100)  # padded tags are ignored
    likelihood = crf(emissions, tags, mask)
    for b, length in enumerate(lengths):
        scores = brute_scores(crf, emissions[b], length)
        brute_log_z = torch.logsumexp(torch.tensor(list(scores.values()), dtype=torch.float64), 0)
        assert float(log_z[b]) == pytest.approx(float(brute_log_z), abs=1e-9)
        y = tuple(tags[b, :length].tolist())
        assert float(likelihood[b]) == pytest.approx(scores[y] - float(brute_log_z), abs=1e-9)


@pytest.mark.parametrize(("num_tags", "lengths"), CASES)
@torch.no_grad()
def test_viterbi_matches_brute_force_argmax(num_tags, lengths):
    crf, emissions, mask = random_case(num_tags, lengths, seed=num_tags + 100 * len(lengths))
    tags, best = crf.decode(emissions, mask, fill=-1)
    for b, length in enumerate(lengths):
        scores = brute_scores(crf, emissions[b], length)
        argmax = max(scores, key=scores.__getitem__)
        assert tuple(tags[b, :length].tolist()) == argmax
        assert tags[b, length:].tolist() == [-1] * (max(lengths) - length)
        assert float(best[b]) == pytest.approx(scores[argmax], abs=1e-9)


@torch.no_grad()
def test_probabilities_of_all_sequences_sum_to_one():
    crf, emissions, mask = random_case(3, [4], seed=3)
    seqs = torch.tensor(list(itertools.product(range(3), repeat=4)))  # (81, 4)
    ll = crf(emissions.expand(len(seqs), -1, -1), seqs, mask.expand(len(seqs), -1))
    assert float(ll.exp().sum()) == pytest.approx(1.0, abs=1e-12)


@torch.no_grad()
def test_padding_changes_no_score_and_no_tag():
    """A sentence alone and inside a padded batch (garbage in the padding) gives the same results (float32)."""
    torch.manual_seed(0)
    crf = CRF(7)
    sentence = torch.randn(1, 5, 7)
    tags = torch.randint(0, 7, (1, 5))
    alone_tags, alone_best = crf.decode(sentence, torch.ones(1, 5, dtype=torch.bool))
    alone_ll = crf(sentence, tags, torch.ones(1, 5, dtype=torch.bool))
    batch = torch.randn(3, 9, 7) * 10  # other sentences and padding
    batch[1, :5] = sentence[0]
    mask = lengths_to_mask(torch.tensor([9, 5, 2]), 9)
    padded_tags = torch.randint(0, 7, (3, 9))
    padded_tags[1, :5] = tags[0]
    batch_tags, batch_best = crf.decode(batch, mask)
    batch_ll = crf(batch, padded_tags, mask)
    assert batch_tags[1, :5].tolist() == alone_tags[0].tolist()
    assert abs(float(batch_best[1] - alone_best[0])) <= 1e-6
    assert abs(float(batch_ll[1] - alone_ll[0])) <= 1e-6


def test_nll_is_per_token_and_trains():
    torch.manual_seed(0)
    crf = CRF(3)
    emissions = torch.zeros(2, 4, 3, requires_grad=True)
    mask = lengths_to_mask(torch.tensor([4, 2]), 4)
    tags = torch.tensor([[0, 1, 2, 1], [2, 2, -100, -100]])
    loss = crf.nll(emissions, tags, mask)
    assert loss.item() == pytest.approx(-crf(emissions, tags, mask).sum().item() / 6)
    optimiser = torch.optim.Adam([emissions, *crf.parameters()], lr=0.1)
    for _ in range(100):
        optimiser.zero_grad()
        loss = crf.nll(emissions, tags, mask)
        loss.backward()
        optimiser.step()
    decoded, _ = crf.decode(emissions, mask, fill=-100)
    assert decoded.tolist() == tags.tolist()


def test_bad_inputs_name_the_fix():
    crf = CRF(3)
    with pytest.raises(SeqtkError, match=r"emissions of shape \(B, T, 3\)"):
        crf.decode(torch.randn(2, 4, 5), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(SeqtkError, match="lengths_to_mask"):
        crf.decode(torch.randn(2, 4, 3), torch.ones(2, 4))
    with pytest.raises(SeqtkError, match="at least one valid step"):
        crf.decode(torch.randn(2, 4, 3), lengths_to_mask(torch.tensor([4, 0]), 4))
    with pytest.raises(SeqtkError, match="num_tags"):
        CRF(0)
