"""An exponential moving average of the weights, evaluated and saved in their place (``train.ema_decay``).

After every optimiser step the average moves towards the weights::

    d_n     = min(decay, (1 + n) / (10 + n))     # n = updates so far: early weights are not frozen in
    avg    <- d_n * avg + (1 - d_n) * weights

as Keras' ``optimizer(use_ema=True)``, TensorFlow's ``ExponentialMovingAverage``
(with ``num_updates``) and timm's ``ModelEmaV2`` do. Validation, best.pt,
early stopping, the final report, ``seqtk eval``, ``predict`` and export
then all see the averaged weights: a checkpoint's ``model`` holds the
average, and the weights the optimiser is training go in ``ema["raw"]``, so
``--resume`` continues exactly. On small data sets the average is steadier
than the last step's weights, whose validation score jumps by points from
one evaluation to the next.

Floating-point parameters and buffers are averaged; integer buffers (counts)
are copied.

With ``decay=None`` the average is the arithmetic mean of the weights after
every update (``d_n = n / (n + 1)``), as ``torch.optim.ASGD`` keeps it: NT-ASGD
(``train.nt_asgd_nonmono``) starts one when validation stops improving.

Why not ``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn``:
it keeps a deep copy of the whole module (under DDP, of the wrapper), and its
``state_dict`` carries a ``module.`` prefix and an ``n_averaged`` buffer, so
checkpoints would no longer load into the task's model as they are. Keeping
the average as a plain state dict lets a checkpoint's ``model`` be the
average that every reader already understands; the update itself is the same
one ``torch._foreach_lerp_`` call that AveragedModel's multi-tensor path makes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from seqtk.errors import SeqtkError


class WeightAverage:
    """The moving average of ``model``'s state; ``update`` after each optimiser step.

    >>> model = nn.Linear(1, 1, bias=False)
    >>> _ = model.weight.data.fill_(0.0)
    >>> average = WeightAverage(model, decay=0.5)
    >>> _ = model.weight.data.fill_(1.0)
    >>> average.update(model)                     # d_0 = min(0.5, 1/10) = 0.1
    >>> round(float(average.state["weight"]), 4)
    0.9
    >>> with average.applied(model):
    ...     round(float(model.weight.detach()), 4)
    0.9
    >>> float(model.weight.detach())                       # the trained weights are back
    1.0
    """

    def __init__(self, model: nn.Module, decay: float | None) -> None:
        if decay is not None and not 0.0 < decay < 1.0:
            raise SeqtkError(f"the weight average's decay must be in (0, 1), not {decay}",
                             fix="set train.ema_decay to e.g. 0.999, or 0 to turn it off")
        self.decay = decay
        self.updates = 0
        self.state = {name: value.detach().clone() for name, value in model.state_dict().items()}

    def current_decay(self) -> float:
        """The decay of the next update: small at first, ``decay`` after ~10 / (1 - decay) updates (the mean's
        n / (n + 1) with ``decay`` None)."""
        if self.decay is None:
            return self.updates / (self.updates + 1.0)
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights."""
        weight = 1.0 - self.current_decay()
        live = model.state_dict()
        floats = [name for name, value in self.state.items() if value.is_floating_point()]
        if floats:
            torch._foreach_lerp_([self.state[n] for n in floats], [live[n].detach() for n in floats], weight)
        for name, value in self.state.items():
            if not value.is_floating_point():
                value.copy_(live[name])
        self.updates += 1

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Run the block with the averaged weights in ``model``; the trained ones are put back after."""
        raw = {name: value.detach().clone() for name, value in model.state_dict().items()}
        model.load_state_dict(self.state)
        try:
            yield
        finally:
            model.load_state_dict(raw)

    def checkpoint(self, model: nn.Module) -> tuple[dict[str, Any], dict[str, Any]]:
        """(what a checkpoint's ``model`` holds: the average, its ``ema`` entry: the trained weights).

        The tensors are the live ones, not copies (as ``model.state_dict()`` is): a checkpoint is pickled
        before the next step changes them, and copying two models at every save would cost GPU memory.
        """
        return dict(self.state), {"raw": model.state_dict(), "updates": self.updates, "decay": self.decay}

    def restore(self, averaged: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        """Take the average back from a checkpoint; returns the trained weights for the model."""
        for name, value in self.state.items():
            value.copy_(averaged[name])
        self.updates = int(entry["updates"])
        return entry["raw"]
