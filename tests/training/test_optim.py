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


def test_nt_asgd_switches_as_merity_et_al_do():
    from seqtk.training.optim import nt_asgd_switch

    history = [5.0, 4.0, 4.5, 4.2]
    # AWD-LSTM: val_loss > min(best_val_loss[:-nonmono]) once len(best_val_loss) > nonmono
    assert nt_asgd_switch(history, 4.1, nonmono=2, mode="min")  # worse than min(5.0, 4.0)
    assert not nt_asgd_switch(history, 3.9, nonmono=2, mode="min")
    assert not nt_asgd_switch(history, 9.0, nonmono=4, mode="min")  # no evaluation before the last 4 yet
    assert not nt_asgd_switch(history, 4.4, nonmono=3, mode="min")  # better than 5.0, the only earlier one
    assert nt_asgd_switch([0.8, 0.7], 0.75, nonmono=1, mode="max")  # an accuracy below the earlier 0.8
    assert not nt_asgd_switch([0.5, 0.7], 0.6, nonmono=1, mode="max")
