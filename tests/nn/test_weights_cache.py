"""The weights cache: what was built from a model is kept while every parameter holds the same bits."""

from __future__ import annotations

import torch

from seqtk.nn.weights_cache import WeightsSnapshot, cached, keep


def test_the_weights_snapshot_tells_any_change_of_any_shape():
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Linear(8, 5))  # rows of 12 and 20 bytes
    snapshot = WeightsSnapshot(model)
    assert snapshot.matches(model)
    with torch.no_grad():
        model[0].weight.data[7, 2] += 1e-6  # one value, through .data
    assert not snapshot.matches(model)
    assert WeightsSnapshot(model).matches(model) and not WeightsSnapshot(torch.nn.Linear(3, 8)).matches(model)


def test_a_kept_build_is_dropped_once_a_weight_changes_and_the_slots_share_one_snapshot():
    model = torch.nn.Linear(4, 4)
    keep(model, "step", "a")
    keep(model, "loop", "b")
    assert (cached(model, "step"), cached(model, "loop"), cached(model, "other")) == ("a", "b", None)
    model.bias.data.add_(1.0)
    assert cached(model, "loop") is None and cached(model, "step") is None  # everything built from the old weights
