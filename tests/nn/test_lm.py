"""CharLM: training forward, state carry, the step-by-step generator and its O(1) cost per token."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from seqtk.errors import SeqtkValueError
from seqtk.nn.encoders import LayerSpec
from seqtk.nn.lm import CharLM, CellStep, sample_next
from seqtk.nn.steppers import DecodeSettings

V = 11


def small_lm(cell: str = "lstm", **kwargs) -> CharLM:
    torch.manual_seed(0)
    layers = kwargs.pop("layers", [LayerSpec(cell, 12), LayerSpec(cell, 10)])
    return CharLM(V, embedding_dim=8, layers=layers, **kwargs)


def test_forward_shapes_and_loss():
    lm = small_lm()
    idx = torch.randint(0, V, (3, 7))
    targets = torch.randint(0, V, (3, 7))
    logits, loss, state = lm(idx, targets)
    assert logits.shape == (3, 7, V)
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1)))
    assert len(state) == 2 and state[0][0].shape == (1, 3, 12)
    assert lm(idx)[1] is None


def test_loss_ignores_pad_and_minus_100():
    lm = small_lm(pad_id=0)
    idx = torch.randint(1, V, (2, 6))
    targets = torch.randint(1, V, (2, 6))
    targets[0, 4:] = 0
    targets[1, 5] = -100
    logits, loss, _ = lm(idx, targets)
    keep = (targets != 0) & (targets != -100)
    torch.testing.assert_close(loss, F.cross_entropy(logits[keep], targets[keep]))


def test_state_carry_over_two_halves_matches_whole():
    lm = small_lm("gru").double().eval()
    idx = torch.randint(0, V, (2, 10))
    whole, _, _ = lm(idx)
    first, _, state = lm(idx[:, :4])
    second, _, _ = lm(idx[:, 4:], state=state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)


@pytest.mark.parametrize(
    "rnn",
    [nn.LSTM(5, 7, batch_first=True), nn.GRU(5, 7, batch_first=True), nn.RNN(5, 7, batch_first=True),
     nn.RNN(5, 7, batch_first=True, nonlinearity="relu")],
    ids=["lstm", "gru", "rnn_tanh", "rnn_relu"],
)
def test_cell_step_matches_fused_module(rnn):
    torch.manual_seed(3)
    x = torch.randn(4, 9, 5)
    h0 = torch.randn(1, 4, 7)
    initial = (h0, torch.randn(1, 4, 7)) if isinstance(rnn, nn.LSTM) else h0
    with torch.no_grad():
        fused, _ = rnn(x, initial)
        step = CellStep(rnn)
        state = tuple(s[0] for s in initial) if isinstance(initial, tuple) else (initial[0],)
        outs = []
        for t in range(x.size(1)):
            h, state = step(step.project(x[:, t]), state)
            outs.append(h)
    torch.testing.assert_close(torch.stack(outs, dim=1), fused, atol=1e-5, rtol=0)
    assert step.calls == x.size(1)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "peephole_lstm", "coupled_lstm", "cho_gru", "irnn"])
@pytest.mark.parametrize("new_tokens", [2, 12], ids=["per-step-input", "vocab-table"])
def test_greedy_generation_matches_rerunning_the_model(cell, new_tokens):
    # fused layers step through CellStep's own gate maths; reference cells through their recur()
    # the step path (with and without the vocabulary projection table) vs the fused forward pass
    lm = small_lm(cell).eval()
    prompt = torch.randint(0, V, (2, 5))
    new = lm.generate(prompt, new_tokens, temperature=0)
    seq = prompt
    with torch.no_grad():
        for _ in range(new_tokens):
            seq = torch.cat([seq, lm(seq)[0][:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(new, seq[:, 5:])


def test_generate_shapes_follow_the_prompt():
    lm = small_lm()
    assert lm.generate([1, 2, 3], 4).shape == (4,)
    assert lm.generate(torch.tensor([1, 2]), 5).shape == (5,)
    assert lm.generate(torch.tensor([[1, 2], [3, 4], [5, 6]]), 2).shape == (3, 2)
    assert lm.generate([1], 0).shape == (0,)
    assert lm.generate([1], 6).dtype == torch.long


def test_generate_is_reproducible_with_a_generator():
    lm = small_lm()
    runs = [lm.generate([1, 2], 30, top_k=5, top_p=0.9, generator=torch.Generator().manual_seed(s)) for s in (7, 7, 8)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_generate_restores_the_training_mode():
    lm = small_lm(dropout=0.5)
    lm.generate([1], 3)
    assert lm.training
    lm.eval()
    lm.generate([1], 3)
    assert not lm.training


def test_stop_id_and_on_token():
    lm = small_lm().eval()
    greedy = lm.generate([1, 2], 20, temperature=0)
    stop = int(greedy[3])
    seen = []
    short = lm.generate([1, 2], 20, temperature=0, stop_id=stop, on_token=seen.append)
    first = int((greedy == stop).nonzero()[0])
    assert torch.equal(short, greedy[: first + 1])
    assert [int(t) for t in seen] == short.tolist() and seen[0].dim() == 0
    rows = []
    batch = lm.generate(torch.tensor([[1, 2], [1, 2]]), 20, temperature=0, stop_id=stop, on_token=rows.append)
    assert batch.shape == (2, first + 1) and rows[0].shape == (2,)


def test_sampling_filters():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.5]]).repeat(200, 1)
    gen = torch.Generator().manual_seed(0)
    assert set(sample_next(logits, top_k=2, generator=gen).tolist()) == {1, 2}
    assert set(sample_next(logits, top_p=0.01, generator=gen).tolist()) == {1}
    assert set(sample_next(logits, top_p=0.75, generator=gen).tolist()) == {1, 2}  # p(1) ~ 0.61 < 0.75
    assert torch.equal(sample_next(logits, temperature=0), torch.full((200,), 1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_a_tiny_temperature_is_near_greedy_not_an_overflow(dtype):
    # dividing raw logits by 1e-5 overflows float16 (and by 1e-40 float32) to inf, and softmax then gives NaN
    logits = torch.tensor([[1.0, 3.0, 2.0, -50.0, float("-inf")]], dtype=dtype).repeat(50, 1)
    for temperature in (1e-5, 1e-40, 1e-46):
        picked = sample_next(logits, temperature=temperature, generator=torch.Generator().manual_seed(0))
        assert torch.equal(picked, torch.full((50,), 1))


def test_greedy_reproduces_a_memorised_string():
    text = "hello world, hello seqtk."
    chars = sorted(set(text))
    ids = torch.tensor([[chars.index(c) for c in text]])
    torch.manual_seed(0)
    lm = CharLM(len(chars), embedding_dim=16, layers=[LayerSpec("lstm", 48)])
    opt = torch.optim.Adam(lm.parameters(), lr=1e-2)
    for _ in range(150):
        _, loss, _ = lm(ids[:, :-1], ids[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    new = lm.generate(ids[0, :1], len(text) - 1, temperature=0)
    assert text[0] + "".join(chars[i] for i in new.tolist()) == text


class OpCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def count_generate(lm: CharLM, prompt_len: int, new_tokens: int, monkeypatch) -> tuple[int, int, int]:
    """(encoder forward calls, cell steps, dispatched tensor ops) for one generate call."""
    encoder_calls, steps = [], []
    hook = lm.encoder.register_forward_hook(lambda *_: encoder_calls.append(1))
    original = CellStep.__call__
    monkeypatch.setattr(CellStep, "__call__", lambda self, *a: (steps.append(1), original(self, *a))[1])
    with OpCounter() as counter:
        lm.generate(torch.zeros(prompt_len, dtype=torch.long), new_tokens, temperature=0.8, top_k=4, top_p=0.9,
                    decoding=DecodeSettings(route="eager"))
    hook.remove()
    monkeypatch.undo()
    return len(encoder_calls), len(steps), counter.ops


def test_generation_feeds_the_prompt_once_and_costs_the_same_per_token(monkeypatch):
    lm = small_lm(layers=[LayerSpec("lstm", 12), LayerSpec("gru", 10), LayerSpec("rnn", 9)])
    runs = {(p, n): count_generate(lm, p, n, monkeypatch) for p in (4, 50) for n in (20, 40, 60)}
    assert all(calls == 1 for calls, _, _ in runs.values())  # the prefix goes through the encoder once
    assert all(steps == 3 * (n - 1) for (_, n), (_, steps, _) in runs.items())  # one step per layer per token
    per_token = (runs[4, 40][2] - runs[4, 20][2]) / 20
    for prompt_len in (4, 50):  # constant work per new token, whatever the length of the prefix
        assert runs[prompt_len, 40][2] - runs[prompt_len, 20][2] == 20 * per_token
        assert runs[prompt_len, 60][2] - runs[prompt_len, 40][2] == 20 * per_token


def test_the_embedding_starts_at_its_init_range_or_at_torchs_normal():
    torch.manual_seed(0)
    default = CharLM(500, 32).embedding.weight
    torch.manual_seed(0)
    ranged = CharLM(500, 32, embedding_init_range=0.1, pad_id=0).embedding.weight
    assert default.std() > 0.9 and default.abs().max() > 3  # nn.Embedding's N(0, 1)
    assert ranged[1:].abs().max() <= 0.1 and abs(ranged[1:].std().item() - 0.1 / 3**0.5) < 0.005 and not ranged[0].any()
    with pytest.raises(SeqtkValueError, match="embedding_init_range must be a finite number >= 0"):
        CharLM(10, 4, embedding_init_range=float("nan"))


def test_tied_weights_share_one_parameter():
    lm = small_lm(layers=[LayerSpec("lstm", 8)], tie_weights=True)
    assert lm.head.weight is lm.embedding.weight and lm.tied
    untied = small_lm(layers=[LayerSpec("lstm", 8)])
    n = sum(p.numel() for p in untied.parameters())
    assert sum(p.numel() for p in lm.parameters()) == n - V * 8
    _, loss, _ = lm(torch.randint(0, V, (2, 5)), torch.randint(0, V, (2, 5)))
    loss.backward()
    assert lm.embedding.weight.grad is not None
    with pytest.raises(SeqtkValueError, match=r"last hidden_size \(10\) to equal embedding_dim \(8\)"):
        small_lm(tie_weights=True)


def test_summary_rows_count_a_tied_head_once():
    from seqtk.runtime.summary import count_parameters, summary_rows

    lm = small_lm(layers=[LayerSpec("lstm", 8)], tie_weights=True)
    rows = summary_rows(lm)
    assert [r[0] for r in rows] == ["embedding", "encoder layer 1", "head"]
    assert sum(r[3] for r in rows) == count_parameters(lm).total
    assert rows[-1][2] == f"(B, T, {V})"


def test_errors():
    with pytest.raises(SeqtkValueError, match=r"layer 1 \(lstm, 8, bidirectional\) has bidirectional=true"):
        CharLM(V, layers=[LayerSpec("lstm", 8, bidirectional=True)])
    with pytest.raises(SeqtkValueError, match="return_sequences=false"):
        CharLM(V, layers=[LayerSpec("gru", 8, return_sequences=False)])
    lm = small_lm()
    with pytest.raises(SeqtkValueError, match="torch.long"):
        lm(torch.randn(2, 3))
    with pytest.raises(SeqtkValueError, match="outside the vocabulary"):
        lm(torch.tensor([[1, V]]))
    with pytest.raises(SeqtkValueError, match="targets must have shape"):
        lm(torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(SeqtkValueError, match="non-empty"):
        lm.generate([], 3)
    with pytest.raises(SeqtkValueError, match="top_p"):
        lm.generate([1], 3, top_p=0.0)
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(SeqtkValueError, match="temperature must be a finite number"):
            lm.generate([1], 3, temperature=bad)
    with pytest.raises(SeqtkValueError, match="pad_id"):
        CharLM(V, pad_id=V)


@pytest.mark.gpu
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_cuda_greedy_generation_matches_the_cpu(cell):
    lm = small_lm(cell).double().eval()
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    expected = lm.generate(prompt, max_new_tokens=20, temperature=0.0)
    got = lm.cuda().generate(prompt.cuda(), max_new_tokens=20, temperature=0.0)
    assert got.device.type == "cuda" and torch.equal(got.cpu(), expected)


AWD_HEADS = [{"tie_weights": True, "tie_projection": True}, {"adaptive_cutoffs": [4]}]


@pytest.mark.parametrize("head", AWD_HEADS)
def test_the_graph_steppers_code_drives_the_projected_and_adaptive_heads(head):
    # on a CPU the graph route runs its step uncaptured: the same code that a CUDA graph records
    lm = small_lm(**head).double().eval()
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    expected = lm.generate(prompt, max_new_tokens=8, temperature=0.0, decoding=DecodeSettings(route="eager"))
    assert torch.equal(lm.generate(prompt, max_new_tokens=8, temperature=0.0, decoding=DecodeSettings(route="graph")),
                       expected)  # fmt: skip
    assert lm.last_route.name == "graph"


@pytest.mark.gpu
@pytest.mark.parametrize("head", AWD_HEADS)
def test_cuda_greedy_generation_with_the_projected_and_adaptive_heads_matches_the_cpu(head):
    lm = small_lm(**head).double().eval()
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    expected = lm.generate(prompt, max_new_tokens=20, temperature=0.0)
    got = lm.cuda().generate(prompt.cuda(), max_new_tokens=20, temperature=0.0)
    assert got.device.type == "cuda" and torch.equal(got.cpu(), expected)


def test_the_step_cells_follow_the_weights_after_training():
    # generation caches the cells it steps through; an optimiser step must not leave them stale
    torch.manual_seed(0)
    lm = small_lm("gru").eval()
    prompt = torch.randint(0, V, (2, 5))
    first = lm.generate(prompt, 6, temperature=0)
    with torch.no_grad():
        for p in lm.encoder.parameters():
            p.mul_(-1.5)  # what an optimiser step does: an in-place update
    again, seq = lm.generate(prompt, 6, temperature=0), prompt
    with torch.no_grad():
        for _ in range(6):
            seq = torch.cat([seq, lm(seq)[0][:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(again, seq[:, 5:]) and not torch.equal(first, again)


@pytest.mark.parametrize("route", ["eager", "onnx"])
@pytest.mark.parametrize("temperature,top_k", [(1.0, 0), (0.7, 0), (1.0, 5)])
def test_one_generator_per_row_gives_each_row_its_lone_sample(route, temperature, top_k):
    lm = small_lm()
    prompts = [[1, 2, 3], [4], [5, 6, 7, 8, 9], [1, 2, 3]]
    seeds = [3, 4, 5, 9]
    decoding = DecodeSettings(route=route)
    alone = [lm.generate(p, 40, temperature, top_k=top_k, decoding=decoding,
                         generator=torch.Generator().manual_seed(s)) for p, s in zip(prompts, seeds)]
    together = lm.generate(prompts, 40, temperature, top_k=top_k, decoding=decoding,
                           generator=[torch.Generator().manual_seed(s) for s in seeds])
    assert torch.equal(together, torch.stack(alone))
    assert not torch.equal(together[0], together[3])  # same prompt, other seed: another sample


def test_a_generator_per_row_must_match_the_rows():
    lm = small_lm()
    with pytest.raises(SeqtkValueError, match="3 generators were given for 2 prompts"):
        lm.generate([[1], [2]], 4, generator=[torch.Generator() for _ in range(3)])


def test_ar_tar_follow_the_last_layer_and_are_taken_once():
    from seqtk.nn.awd import add_activation_penalty

    lm = small_lm("gru", ar_alpha=2.0, tar_beta=1.0).train()  # dropout 0: the outputs before and after agree
    idx = torch.randint(0, V, (2, 6))
    _, loss, _ = lm(idx, idx)
    h = lm.encoder(lm.embedding(idx))  # (B, T, 10), the last layer's outputs
    expected = 2.0 * h.pow(2).mean() + 1.0 * (h[:, 1:] - h[:, :-1]).pow(2).mean()
    wrapped = nn.Module()  # as DistributedDataParallel holds it: under .module
    wrapped.module = lm
    total = add_activation_penalty(wrapped, loss)
    torch.testing.assert_close(total, loss + expected)
    assert add_activation_penalty(lm, loss) is loss  # taken once
    lm.eval()
    lm(idx, idx)
    assert lm.activation_penalty is None  # evaluation adds nothing
    plain = small_lm("gru").train()
    plain(idx, idx)
    assert plain.activation_penalty is None


def test_tied_weights_through_a_projection_when_the_sizes_differ():
    from seqtk.nn.lm import ProjectedHead

    lm = small_lm("gru", tie_weights=True, tie_projection=True).eval()  # hidden 10, embedding 8
    assert isinstance(lm.head, ProjectedHead) and lm.tied
    idx = torch.randint(0, V, (2, 5))
    logits, _, _ = lm(idx)
    h = lm.encoder(lm.embedding(idx))
    proj = lm.head.proj
    expected = (h @ proj.weight.T + proj.bias) @ lm.embedding.weight.T + lm.head.out.bias
    torch.testing.assert_close(logits, expected)
    n = sum(p.numel() for p in lm.parameters())
    assert n == sum(p.numel() for p in small_lm("gru").parameters()) - V * 10 + 10 * 8 + 8  # head (V, 10) -> (8, 10) + bias
    seq = idx
    with torch.no_grad():
        for _ in range(4):
            seq = torch.cat([seq, lm(seq)[0][:, -1].argmax(-1, keepdim=True)], dim=1)
    for route in ("onnx", "eager"):  # the onnx step graph projects too
        assert torch.equal(lm.generate(idx, 4, temperature=0, decoding=DecodeSettings(route=route)), seq[:, 5:])
        assert lm.last_route.name == route
    int8 = lm.generate(idx, 4, temperature=0, decoding=DecodeSettings(quantize="int8"))
    assert int8.shape == (2, 4) and lm.last_route.quantize == "int8"


def test_adaptive_softmax_head_loss_scoring_and_generation():
    from seqtk.nn.lm import AdaptiveHead

    lm = small_lm(layers=[LayerSpec("lstm", 32)], adaptive_cutoffs=[4, 8], pad_id=0)  # clusters of 32 // 4, 32 // 16
    assert isinstance(lm.head, AdaptiveHead)
    idx, targets = torch.randint(0, V, (2, 6)), torch.randint(1, V, (2, 6))
    targets[0, :2] = 0  # pad: ignored
    logits, loss, _ = lm.train()(idx, targets)
    assert logits is None
    lm.eval()
    log_probs, _, _ = lm(idx)  # (B, T, V): log-probabilities that sum to one
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2, 6))
    keep = targets != 0
    expected = -log_probs.gather(-1, targets[..., None])[..., 0][keep].mean()
    torch.testing.assert_close(loss, expected)
    _, eval_loss, _ = lm(idx, targets)
    torch.testing.assert_close(eval_loss, expected)
    seq = idx
    with torch.no_grad():
        for _ in range(3):
            seq = torch.cat([seq, lm(seq)[0][:, -1].argmax(-1, keepdim=True)], dim=1)
    for route in ("onnx", "eager"):  # the onnx step graph computes the adaptive log_prob too
        assert torch.equal(lm.generate(idx, 3, temperature=0, decoding=DecodeSettings(route=route)), seq[:, 6:])
        assert lm.last_route.name == route
    int8 = lm.generate(idx, 3, temperature=0, decoding=DecodeSettings(quantize="int8"))
    assert int8.shape == (2, 3) and lm.last_route.quantize == "int8"
    sampled = lm.generate([1, 2], 5, generator=torch.Generator().manual_seed(0))
    assert sampled.shape == (5,) and int(sampled.max()) < V
    with pytest.raises(SeqtkValueError, match="adaptive_cutoffs must increase"):
        small_lm(adaptive_cutoffs=[8, 4])
    with pytest.raises(SeqtkValueError, match="cannot be tied"):
        small_lm(layers=[LayerSpec("lstm", 8)], tie_weights=True, adaptive_cutoffs=[4])
