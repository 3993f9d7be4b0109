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


def test_a_replanned_cosine_is_continuous_ends_at_its_floor_and_is_unchanged_without_replans():
    import math

    from seqtk.config.schema import TrainConfig
    from seqtk.training.optim import lr_factor

    cfg = TrainConfig(max_steps=1000, warmup_steps=50, schedule="cosine", min_lr_ratio=0.1)
    plain = [lr_factor(step, cfg) for step in range(1, 1001)]
    expected = [step / 50 if step <= 50 else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - 50) / 950))
                for step in range(1, 1001)]
    assert plain == pytest.approx(expected, abs=1e-12)
    replans = [(300, 1000, 700), (500, 700, 900)]  # squeezed, then stretched
    got = [lr_factor(step, cfg, replans) for step in range(1, 901)]
    assert got[:300] == plain[:300]  # before the first re-plan, the first plan's rates
    assert max(abs(b - a) for a, b in zip(got[50:], got[51:])) < 0.01  # no jump at 300 or 500
    assert all(b <= a for a, b in zip(got[50:], got[51:])) and got[-1] == pytest.approx(0.1)
    assert lr_factor(950, cfg, replans) == pytest.approx(0.1)  # past the last plan's end: the floor
    assert lr_factor(10, cfg, [(5, 1000, 500)]) == 10 / 50  # a re-plan inside warmup leaves warmup alone


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_clipping_by_the_learning_rate_steps_as_clipping_every_gradient(momentum):
    """Plain SGD clips through its step's learning rate (no pass over the gradients); SGD with momentum in place."""
    import torch

    from seqtk.training.optim import clip_gradients, scaled_lr

    def run(fold: bool) -> tuple[list[torch.Tensor], list[float]]:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Linear(8, 50))
        opt = torch.optim.SGD(model.parameters(), lr=5.0, momentum=momentum)
        norms = []
        for step in range(5):
            ids = torch.randint(0, 50, (16,), generator=torch.Generator().manual_seed(step))
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(ids), ids).backward()
            norm, factor = clip_gradients(model.parameters(), opt, 0.25, fold=fold)
            with scaled_lr(opt, factor):
                opt.step()
            norms.append(norm)
        return [p.detach().clone() for p in model.parameters()], norms

    (folded, norms), (reference, expected) = run(True), run(False)
    assert max(expected) > 0.25, "clipping acts at these settings"
    assert norms == pytest.approx(expected, rel=1e-5)
    for a, b in zip(folded, reference):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
