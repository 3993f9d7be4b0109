"""The language model's input checks: each bad value is refused with its name and a fix; good ones pass."""

from __future__ import annotations

import pytest
import torch

from seqtk.errors import SeqtkValueError
from seqtk.nn.lm_checks import check_ids, check_positive, check_sampling, check_targets


@pytest.mark.parametrize("call, words", [
    (lambda: check_positive("vocab_size", 0), "vocab_size must be a positive integer, got 0"),
    (lambda: check_positive("vocab_size", True), "got True"),
    (lambda: check_targets(torch.zeros(2, 3), torch.zeros(2, 4)), "targets must have shape \\(2, 3\\)"),
    (lambda: check_ids("idx", torch.zeros(2, 3), 10, (2,)), "tensor of token ids \\(torch.long\\)"),
    (lambda: check_ids("idx", torch.tensor([1, 12]), 10, (1,)), "ids from 1 to 12, outside the vocabulary 0..9"),
    (lambda: check_sampling(-1, 1.0, 0, 1.0), "max_new_tokens must be a non-negative integer"),
    (lambda: check_sampling(5, float("nan"), 0, 1.0), "temperature must be a finite number >= 0"),
    (lambda: check_sampling(5, 1.0, -2, 1.0), "top_k must be >= 0"),
    (lambda: check_sampling(5, 1.0, 0, 1.5), "top_p must be in \\(0, 1\\]"),
])  # fmt: skip
def test_a_bad_value_is_named_with_its_fix(call, words):
    with pytest.raises(SeqtkValueError, match=words) as caught:
        call()
    assert caught.value.fix


def test_good_values_pass():
    check_positive("vocab_size", 3)
    check_targets(torch.zeros(2, 3), torch.zeros(2, 3))
    check_ids("idx", torch.tensor([[0, 9]]), 10, (2,))
    check_ids("idx", torch.empty(0, dtype=torch.long), 10, (1,))
    check_sampling(0, 0.0, 0, 1.0)
