"""seqtk.training.optim: loading optimizer state from a checkpoint."""

from __future__ import annotations

import pytest


def test_optimizer_state_that_does_not_fit_the_model_is_refused():
    """Saved moments are matched to parameters by position; a head that changed shape must not resume."""
    import torch
    from torch import nn

    from seqtk.errors import SeqtkError
    from seqtk.training.optim import load_optimizer_state

    old = nn.Linear(4, 1)
    opt = torch.optim.Adam(old.parameters())
    old(torch.ones(2, 4)).sum().backward()
    opt.step()
    new = nn.Linear(4, 2)
    with pytest.raises(SeqtkError) as err:
        load_optimizer_state(torch.optim.Adam(new.parameters()), opt.state_dict(), "last.pt")
    assert "(1, 4)" in err.value.problem and "(2, 4)" in err.value.problem and "last.pt" in err.value.problem
    load_optimizer_state(torch.optim.Adam(old.parameters()), opt.state_dict(), "last.pt")  # the same shapes load


def test_scaled_lr_steps_with_the_scaled_rate_and_puts_the_rate_back():
    import torch

    from seqtk.training.optim import scaled_lr

    weight = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    weight.grad = torch.tensor([2.0])
    with scaled_lr(optimizer, 0.5):  # AWD-LSTM: a batch half the nominal length steps at half the rate
        optimizer.step()
    assert float(weight) == pytest.approx(1.0 - 0.1 * 0.5 * 2.0)
    assert optimizer.param_groups[0]["lr"] == 0.1
