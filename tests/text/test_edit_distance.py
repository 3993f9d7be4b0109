"""seqtk.text.edit_distance against a brute-force recursion, its tie rule, and its speed on G2P-sized data."""

from __future__ import annotations

import functools
import random
import time

import pytest

from seqtk.errors import SeqtkValueError
from seqtk.text.edit_distance import best_match, edit_distance


def reference_distance(a, b):
    """The textbook recursion, memoised: slow but obviously right."""

    @functools.lru_cache(maxsize=None)
    def d(i, j):
        if i == 0 or j == 0:
            return i + j
        return min(d(i - 1, j) + 1, d(i, j - 1) + 1, d(i - 1, j - 1) + (a[i - 1] != b[j - 1]))

    return d(len(a), len(b))


def test_matches_the_recursion_on_random_sequences():
    rng = random.Random(1)
    for _ in range(300):
        a = [rng.choice("abc") for _ in range(rng.randint(0, 8))]
        b = [rng.choice("abc") for _ in range(rng.randint(0, 8))]
        assert edit_distance(a, b) == reference_distance(tuple(a), tuple(b)) == edit_distance(b, a)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("", "", 0), ("abc", "abc", 0), ("abc", "", 3), ("", "ab", 2), ("kitten", "sitting", 3), ("abc", "cba", 2),
     (["HH", "AH0", "L", "OW1"], ["HH", "EH0", "L", "OW1"], 1), ((1, 2, 3), (1, 3), 1)],
)
def test_known_distances(a, b, expected):
    assert edit_distance(a, b) == expected


def test_tokens_are_whole_not_their_characters():
    assert edit_distance(["AH0"], ["AH1"]) == 1 and edit_distance("AH0", "AH1") == 1
    assert edit_distance(["AH0", "N"], ["AH0N"]) == 2


def test_best_match_takes_the_fewest_edits_then_the_longest_then_the_first():
    assert best_match("abc", ["xyz", "abx"]) == (1, 3)
    assert best_match("abc", ["abd", "abcd"]) == (1, 4)  # tie on edits: the longer reference
    assert best_match("abc", ["abcd", "abd"]) == (1, 4)
    assert best_match("abc", ["abx", "abc"]) == (0, 3)
    assert best_match([], [["a"], ["a", "b"]]) == (1, 1)
    with pytest.raises(SeqtkValueError, match="at least one reference"):
        best_match("abc", [])


def test_fast_enough_for_a_cmudict_test_set():
    rng = random.Random(0)
    phones = "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
    data = []
    for _ in range(15_000):
        ref = [rng.choice(phones) for _ in range(rng.randint(3, 12))]
        hyp = list(ref)
        if rng.random() < 0.5:
            hyp[rng.randrange(len(hyp))] = rng.choice(phones)
        data.append((hyp, [ref, ref[:-1]]))
    start = time.perf_counter()
    total = sum(best_match(hyp, refs)[0] for hyp, refs in data)
    elapsed = time.perf_counter() - start
    assert 0 < total < 15_000
    assert elapsed < 3.0, f"{elapsed:.2f} s for 15,000 examples (about 0.3 s expected; a loaded machine allows 10x)"
