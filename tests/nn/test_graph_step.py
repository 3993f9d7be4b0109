"""The static-buffer step (seqtk.nn.graph_step): uncaptured on the CPU it equals the eager route; captured in a
CUDA graph on a GPU, greedy tokens and seeded samples equal the eager GPU route's (``-m gpu``)."""

from __future__ import annotations

import pytest
import torch

from seqtk.nn.encoders import LayerSpec
from seqtk.nn.lm import CharLM, uniform_layers
from seqtk.nn.steppers import DecodeSettings

V = 29
EAGER, GRAPH = DecodeSettings(route="eager"), DecodeSettings(route="graph")
CELLS = ["lstm", "gru", "rnn", "ln_lstm", "peephole_lstm", "min_gru", "slstm"]


def peaked_lm(layers, device="cpu", seed=0) -> CharLM:
    torch.manual_seed(seed)
    lm = CharLM(V, 16, layers).to(device).eval()
    with torch.no_grad():
        lm.head.weight.mul_(8)  # far from flat, as a trained model's distributions are
    return lm


def routes_agree(lm: CharLM, device: str) -> None:
    prompt = torch.randint(0, V, (3, 5), device=device)
    for options in ({"temperature": 0}, {}, {"temperature": 0.7}, {"top_k": 4}, {"top_p": 0.8}):
        draws = [lm.generate(prompt, 40, generator=torch.Generator(device).manual_seed(5), decoding=route, **options)
                 for route in (EAGER, GRAPH)]  # fmt: skip
        assert torch.equal(*draws), options
    stop = int(draws[0][0, 2])
    seen: list[torch.Tensor] = []
    stopped = [lm.generate(prompt, 40, temperature=0, stop_id=stop, decoding=route, on_token=seen.append)
               for route in (EAGER, GRAPH)]  # fmt: skip
    assert torch.equal(*stopped)


@pytest.mark.parametrize("cell", CELLS)
def test_the_uncaptured_buffer_step_equals_the_eager_one_on_the_cpu(cell):
    lm = peaked_lm(uniform_layers(cell, 16, 2))
    routes_agree(lm, "cpu")
    assert lm.last_route.name == "graph" and "not captured" in lm.last_route.describe()


def test_a_mixed_stack_on_buffers_equals_eager():
    routes_agree(peaked_lm([LayerSpec("lstm", 12), LayerSpec("gru", 10), LayerSpec("mlstm", 8, heads=2)]), "cpu")


def test_int8_is_refused_on_the_graph_route():
    from seqtk.errors import SeqtkValueError

    with pytest.raises(SeqtkValueError, match="route='graph' was asked for"):
        DecodeSettings(route="graph", quantize="int8")


@pytest.mark.gpu
@pytest.mark.parametrize("cell", ["lstm", "gru", "ln_lstm"])
def test_captured_steps_equal_eager_steps_on_a_gpu(cell):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device (torch.cuda.is_available() is False)")
    lm = peaked_lm(uniform_layers(cell, 64, 2), device="cuda")
    routes_agree(lm, "cuda")
    lm.generate([1, 2], 5, decoding=DecodeSettings())  # auto on a GPU: the captured route
    assert lm.last_route.name == "graph" and lm.last_route.describe() == "CUDA graph step"
