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
