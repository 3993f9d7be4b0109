"""The decoding routes of CharLM.generate: the onnxruntime step equals the eager one (greedy tokens, seeded
samples), the choice falls back with one note, and the session is cached until the weights change."""

from __future__ import annotations

import warnings

import pytest
import torch

from seqtk.errors import SeqtkError, SeqtkValueError
from seqtk.nn.encoders import LayerSpec
from seqtk.nn.lm import CharLM, sample_next, uniform_layers
from seqtk.nn.step_graph import step_graph
from seqtk.nn.steppers import DecodeFallback, DecodeSettings, layer_cells

pytest.importorskip("onnxruntime")

V = 23
EAGER, ONNX, INT8 = DecodeSettings(route="eager"), DecodeSettings(route="onnx"), DecodeSettings(quantize="int8")
# every cell with a graph builder: fused modules and reference cells, mixed in one stack too
BUILT = ["lstm", "gru", "rnn", "ln_lstm", "ref_lstm", "ref_gru", "elman", "irnn"]


def peaked_lm(layers: list[LayerSpec], seed: int = 0) -> CharLM:
    """A model whose next-token distributions are far from flat, as a trained one's are: greedy decoding of a
    random model meets near-ties that any change of summation order may flip."""
    torch.manual_seed(seed)
    lm = CharLM(V, 16, layers).eval()
    with torch.no_grad():
        lm.head.weight.mul_(8)
    return lm


@pytest.mark.parametrize("cell", BUILT)
@pytest.mark.parametrize("new_tokens", [3, 40], ids=["embedding-input", "vocab-table"])
def test_greedy_tokens_on_the_onnx_route_equal_the_eager_ones(cell, new_tokens, monkeypatch):
    import seqtk.nn.step_graph as graph

    if new_tokens == 3:  # a vocabulary too large for the table: the graph gathers embeddings and projects them
        monkeypatch.setattr(graph, "TABLE_MAX_FLOATS", 0)
    lm = peaked_lm(uniform_layers(cell, 24, 2))
    prompt = torch.randint(0, V, (3, 6))
    eager = lm.generate(prompt, new_tokens, temperature=0, decoding=EAGER)
    fast = lm.generate(prompt, new_tokens, temperature=0, decoding=ONNX)
    assert lm.last_route.name == "onnx"
    assert torch.equal(fast, eager)


def test_a_mixed_stack_and_relu_cells_take_the_onnx_route():
    layers = [LayerSpec("lstm", 20), LayerSpec("gru", 18), LayerSpec("elman", 16, nonlinearity="relu"),
              LayerSpec("ref_lstm", 12, nonlinearity="relu")]  # fmt: skip
    lm = peaked_lm(layers)
    prompt = torch.randint(0, V, (2, 4))
    assert torch.equal(lm.generate(prompt, 30, temperature=0, decoding=ONNX),
                       lm.generate(prompt, 30, temperature=0, decoding=EAGER))  # fmt: skip


@pytest.mark.parametrize("cell", ["lstm", "ln_lstm", "gru"])
def test_a_seed_draws_the_same_sample_on_both_routes(cell):
    lm = peaked_lm(uniform_layers(cell, 24, 2))
    for options in ({}, {"temperature": 0.7}, {"temperature": 0.7, "top_k": 5}, {"top_p": 0.8}):
        draws = [lm.generate([1, 2, 3], 60, generator=torch.Generator().manual_seed(11), decoding=route, **options)
                 for route in (EAGER, ONNX)]  # fmt: skip
        assert torch.equal(*draws), options
        seen = []  # a callback between steps: the step-by-step loop instead of the tight one, the same tokens
        streamed = lm.generate([1, 2, 3], 60, generator=torch.Generator().manual_seed(11), decoding=ONNX,
                               on_token=seen.append, **options)  # fmt: skip
        assert torch.equal(streamed, draws[0]) and torch.equal(torch.stack(seen), draws[0])


def test_sampling_draws_what_torch_multinomial_draws():
    # sample_next replaces torch.multinomial(probs, 1) by the same exponential race; seeds keep their samples
    torch.manual_seed(0)
    for seed in range(300):
        logits = torch.randn(4, 50) * 3
        ours = sample_next(logits, generator=torch.Generator().manual_seed(seed))
        theirs = torch.multinomial(logits.softmax(-1), 1, generator=torch.Generator().manual_seed(seed)).squeeze(-1)
        assert torch.equal(ours, theirs)


@pytest.mark.parametrize("options", [{"temperature": 0}, {"temperature": 0.9}], ids=["greedy", "tempered"])
def test_rows_stop_on_their_own_on_the_onnx_route(options, monkeypatch):
    # runs of steps in the graph (run_steps) go past a stop; what comes out is what a step at a time gives
    import seqtk.nn.lm as lm_module

    lm = peaked_lm(uniform_layers("lstm", 24, 2))
    prompt = torch.randint(0, V, (4, 5))
    seeded = [torch.Generator().manual_seed(s) for s in range(4)]
    free = lm.generate(prompt, 150, generator=seeded, decoding=ONNX, **options)
    stop = int(free[0, 70])  # past the first run of 64 steps
    tokens = {}
    for route in (ONNX, EAGER):
        seeded = [torch.Generator().manual_seed(s) for s in range(4)]
        tokens[route.route] = lm.generate(prompt, 150, generator=seeded, stop_id=stop, decoding=route, **options)
    monkeypatch.setattr(lm_module, "run_steps", lambda batch: 1)  # one onnxruntime call per step
    seeded = [torch.Generator().manual_seed(s) for s in range(4)]
    stepped = lm.generate(prompt, 150, generator=seeded, stop_id=stop, decoding=ONNX, **options)
    assert torch.equal(tokens["onnx"], tokens["eager"]) and torch.equal(tokens["onnx"], stepped)
    for row in tokens["onnx"]:  # each row ends at its own first stop (if any) and repeats it
        ends = (row == stop).nonzero()
        assert not len(ends) or (row[int(ends[0]) :] == stop).all()
    assert int((tokens["onnx"][0] == stop).nonzero()[0]) <= 70


def test_auto_falls_back_to_eager_once_with_a_note_for_a_cell_without_a_graph():
    lm = peaked_lm(uniform_layers("peephole_lstm", 16, 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = lm.generate([1, 2], 10, temperature=0)
        lm.generate([1, 2], 10, temperature=0)
    notes = [str(w.message) for w in caught if issubclass(w.category, DecodeFallback)]
    assert notes == ["generating with the eager PyTorch step: the PeepholeLSTMCell cell has no ONNX step"]
    assert caught[0].filename == __file__  # the note points at the caller's line
    assert lm.last_route.name == "eager" and "PeepholeLSTMCell" in lm.last_route.describe()
    assert torch.equal(first, lm.generate([1, 2], 10, temperature=0, decoding=EAGER))
    with pytest.raises(SeqtkError, match="route='onnx' needs the onnxruntime step.*PeepholeLSTMCell") as err:
        lm.generate([1, 2], 10, decoding=ONNX)
    assert "Fix: use route='auto' or 'eager'" in str(err.value)
    with pytest.raises(SeqtkError, match="int8 weights need the onnxruntime step"):
        lm.generate([1, 2], 10, decoding=INT8)


def test_auto_says_why_when_onnxruntime_is_missing(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ort(name, *args, **kwargs):
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'", name="onnxruntime")
        return real_import(name, *args, **kwargs)

    lm = peaked_lm(uniform_layers("lstm", 16, 1))
    monkeypatch.setattr(builtins, "__import__", no_ort)
    with pytest.warns(DecodeFallback, match="onnxruntime is not installed"):
        lm.generate([1], 5)
    with pytest.raises(SeqtkError, match="Fix: pip install onnx onnxruntime"):
        lm.generate([1], 5, decoding=ONNX)


def test_the_session_is_built_once_and_rebuilt_when_a_weight_changes():
    lm = peaked_lm(uniform_layers("gru", 16, 2))
    lm.generate([1], 5, temperature=0)
    assert lm.last_route.build_seconds > 0
    before = lm.generate([1, 2], 20, temperature=0)
    assert lm.last_route.build_seconds == 0 and "cached" in lm.last_route.describe()
    with torch.no_grad():
        lm.head.bias[int(before[0])] -= 100.0  # in place, as an optimizer step changes weights
    after = lm.generate([1, 2], 20, temperature=0)
    assert lm.last_route.build_seconds > 0
    assert int(after[0]) != int(before[0])
    assert torch.equal(after, lm.generate([1, 2], 20, temperature=0, decoding=EAGER))


@pytest.mark.parametrize("change", ["fused_adam", "through_data"])
def test_a_change_that_leaves_the_version_counters_alone_still_rebuilds_the_session(change):
    # torch.optim.Adam(fused=True), seqtk's default optimizer, and writes through .data (weight averaging) do not
    # bump a parameter's _version: a session kept by versions would go on sampling from the old weights
    lm = peaked_lm(uniform_layers("lstm", 24, 2))
    before = lm.generate([1, 2], 30, temperature=0)  # the step and the loop sessions, built and kept
    versions = [p._version for p in lm.parameters()]
    if change == "fused_adam":
        optimizer = torch.optim.Adam(lm.parameters(), lr=0.05, fused=True)
        ids = torch.randint(0, V, (4, 21))
        for _ in range(5):
            lm.train()
            loss = lm(ids[:, :-1], targets=ids[:, 1:])[1]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    else:
        lm.head.weight.data.mul_(-1.0)
    assert [p._version for p in lm.parameters()] == versions  # what made the old key miss the change
    after = lm.generate([1, 2], 30, temperature=0)
    assert lm.last_route.build_seconds > 0
    assert torch.equal(after, lm.generate([1, 2], 30, temperature=0, decoding=EAGER))
    assert not torch.equal(after, before)


def test_int8_weights_stay_close_to_float32():
    lm = peaked_lm(uniform_layers("lstm", 32, 2))
    ids = torch.randint(0, V, (1, 40))
    with torch.no_grad():
        full = lm(ids)[0][0, -1].log_softmax(-1)
    graph = step_graph(lm.embedding, layer_cells(lm.encoder.layers), lm.head, "int8")
    import onnxruntime

    session = onnxruntime.InferenceSession(graph.model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {name: torch.zeros(1, size).numpy() for name, size in zip(graph.state_names, graph.state_sizes)}
    for token in ids[0].tolist():
        feeds["token"] = torch.tensor([token]).numpy()
        logits, *state = session.run(None, feeds)
        feeds.update(zip(graph.state_names, state))
    quant = torch.from_numpy(logits)[0].log_softmax(-1)
    assert (quant.exp() - full.exp()).abs().sum() < 0.05  # total variation of the next-token distribution
    assert lm.generate([1, 2], 5, decoding=INT8).shape == (5,) and lm.last_route.quantize == "int8"


def test_decode_settings_refuse_unknown_values():
    with pytest.raises(SeqtkValueError, match="decoding route 'fast' is not one of auto, eager, onnx"):
        DecodeSettings(route="fast")
    with pytest.raises(SeqtkValueError, match="quantize='int4' is not supported"):
        DecodeSettings(quantize="int4")
    with pytest.raises(SeqtkValueError, match="int8 weights need the onnx decoding route"):
        DecodeSettings(route="eager", quantize="int8")


@pytest.mark.parametrize("decoding", [EAGER, ONNX], ids=["eager", "onnx"])
def test_prompts_of_different_lengths_generate_in_one_batch_each_as_if_alone(decoding):
    lm = peaked_lm([LayerSpec("lstm", 20), LayerSpec("gru", 16)])
    prompts = [[1, 2, 3, 4, 5], [7], [3, 3, 9], [2, 4, 6, 8, 1], [11, 12]]
    together = lm.generate(prompts, 25, temperature=0, decoding=decoding)
    assert together.shape == (5, 25)
    for row, prompt in zip(together, prompts):
        assert torch.equal(row, lm.generate(prompt, 25, temperature=0, decoding=decoding))
    stop = int(together[1, 2])
    stopped = lm.generate(prompts, 25, temperature=0, stop_id=stop, decoding=decoding)
    for row, free in zip(stopped, together):  # each row stops at its own first stop token, then repeats it
        hits = (free == stop).nonzero()
        if len(hits):
            first = int(hits[0])
            assert torch.equal(row[: first + 1], free[: first + 1]) and (row[first:] == stop).all()
    seeded = [lm.generate(prompts, 25, generator=torch.Generator().manual_seed(3), decoding=decoding) for _ in "ab"]
    assert torch.equal(*seeded)


def test_ragged_prompts_are_checked_one_by_one():
    lm = peaked_lm([LayerSpec("lstm", 8)])
    with pytest.raises(SeqtkValueError, match="prompt 1 must be a non-empty list of token ids"):
        lm.generate([[1, 2], []], 3)
    with pytest.raises(SeqtkValueError, match=f"prompt 0 holds ids from 1 to {V}, outside the vocabulary"):
        lm.generate([[1, V], [2]], 3)


@pytest.mark.parametrize("options", [{}, {"temperature": 0.6, "top_k": 4}, {"top_p": 0.7}], ids=["plain", "top_k", "top_p"])
def test_generate_draws_what_per_step_multinomial_sampling_draws(options):
    # the sample users got before the fast step: one torch.multinomial per token, on the eager model's logits
    lm = peaked_lm(uniform_layers("gru", 16, 2))
    new = lm.generate([1, 2], 90, generator=torch.Generator().manual_seed(7), **options)  # noise drawn in chunks
    generator, seq = torch.Generator().manual_seed(7), torch.tensor([[1, 2]])
    with torch.no_grad():
        for _ in range(90):
            logits = lm(seq)[0][:, -1]
            temperature = options.get("temperature", 1.0)
            logits = (logits - logits.amax(-1, keepdim=True)) / temperature if temperature != 1.0 else logits
            if options.get("top_k"):
                logits = logits.masked_fill(logits < logits.topk(options["top_k"]).values[:, -1:], float("-inf"))
            if options.get("top_p", 1.0) < 1.0:
                ordered, order = logits.sort(descending=True)
                probs = ordered.softmax(-1)
                ordered = ordered.masked_fill(probs.cumsum(-1) - probs >= options["top_p"], float("-inf"))
                logits = logits.scatter(-1, order, ordered)
            seq = torch.cat([seq, torch.multinomial(logits.softmax(-1), 1, generator=generator)], dim=1)
    assert torch.equal(new, seq[0, 2:])


def test_the_onnx_step_leaves_the_callers_state_alone():
    # a quantized model scores through the step; scoring twice from one state gives the same numbers
    lm = peaked_lm(uniform_layers("lstm", 16, 2))
    lm.decoding = INT8
    with torch.no_grad():
        _, _, state = lm(torch.randint(0, V, (2, 5)))
        kept = [tuple(part.clone() for part in layer) for layer in state]
        more = torch.randint(0, V, (2, 7))
        first = lm(more, state=state)[0]
        assert all(torch.equal(a, b) for layer, old in zip(state, kept) for a, b in zip(layer, old))
        assert torch.equal(first, lm(more, state=state)[0])


@pytest.mark.parametrize("decoding", [ONNX, INT8], ids=["float32", "int8"])
@pytest.mark.parametrize("options", [{"temperature": 0}, {}, {"temperature": 0.8}], ids=["greedy", "race", "tempered"])
def test_the_onnxruntime_loop_picks_the_tokens_of_one_call_per_step(decoding, options, monkeypatch):
    # no callback: sample_run loops in onnxruntime (Loop calls of LOOP_CHUNK steps); a callback: runs of
    # run_steps(B) steps, each a Loop, then the callback for each token; run_steps 1: one call per step
    import seqtk.nn.lm as lm_module
    from seqtk.nn.steppers import LOOP_CHUNK, OnnxStepper

    loops, real = [], OnnxStepper._loop_run
    monkeypatch.setattr(OnnxStepper, "_loop_run", lambda self, *a: loops.append(a[1]) or real(self, *a))
    lm = peaked_lm(uniform_layers("lstm", 24, 2))
    steps = 2 * LOOP_CHUNK + 9  # three Loop calls, the noise drawn across blocks

    def generate(**callback):
        seeds = [torch.Generator().manual_seed(s) for s in (3, 4)]
        return lm.generate([[1, 2, 3], [4, 5, 6]], steps, generator=seeds, decoding=decoding, **callback, **options)

    looped, seen = generate(), []
    streamed = generate(on_token=seen.append)
    assert loops == [steps - 1, 64, 64, 8]  # the first token comes from the prompt's logits, the rest from loops
    monkeypatch.setattr(lm_module, "run_steps", lambda batch: 1)
    stepped = generate(on_token=lambda t: None)
    assert loops == [steps - 1, 64, 64, 8]  # one onnxruntime call per step: no Loop
    assert looped.shape == (2, steps) and torch.equal(looped, stepped) and torch.equal(streamed, stepped)
    assert torch.equal(torch.stack(seen, dim=1), stepped)  # the callback saw each token, in order


def test_the_loop_leaves_the_state_and_last_token_where_steps_leave_them():
    from seqtk.nn.sampling import RaceNoise
    from seqtk.nn.steppers import stepper, zero_state

    lm = peaked_lm(uniform_layers("gru", 16, 2))
    ends = []
    for steps_one_by_one in (False, True):
        step, _ = stepper(lm, ONNX, zero_state(lm, 2), table=True, sampler="race")
        noise = RaceNoise(torch.Generator().manual_seed(5), (2, V), 100, torch.empty(0))
        start = torch.tensor([1, 2])
        if steps_one_by_one:
            tokens, token = [], start
            for _ in range(70):
                token = step.sample(token, noise.next())
                tokens.append(token)
            tokens = torch.stack(tokens, dim=1)
        else:
            tokens = step.sample_run(start, 70, noise)
        ends.append((tokens, step.state(), step.sample(tokens[:, -1], noise.next())))
    (a, state_a, next_a), (b, state_b, next_b) = ends
    assert torch.equal(a, b) and torch.equal(next_a, next_b)
    assert all(torch.equal(x, y) for layer_a, layer_b in zip(state_a, state_b) for x, y in zip(layer_a, layer_b))


def test_race_noise_taken_in_blocks_is_drawn_in_the_order_of_single_draws():
    from seqtk.nn.sampling import RaceNoise, RowNoise

    single = RaceNoise(torch.Generator().manual_seed(1), (2, 5), 150, torch.empty(0), chunk=16)
    taken = RaceNoise(torch.Generator().manual_seed(1), (2, 5), 150, torch.empty(0), chunk=16)
    draws = torch.stack([single.next() for _ in range(150)])
    parts = [taken.next()[None], taken.take(40), taken.take(16), taken.take(93)]
    assert torch.equal(torch.cat(parts), draws)
    rows = RowNoise([torch.Generator().manual_seed(s) for s in (1, 2)], 5, 50, torch.empty(0))
    alone = [RaceNoise(torch.Generator().manual_seed(s), (1, 5), 50, torch.empty(0)) for s in (1, 2)]
    assert torch.equal(rows.take(50), torch.cat([row.take(50) for row in alone], dim=1))


def test_a_short_prompt_goes_through_the_step_and_gives_the_encoders_tokens(monkeypatch):
    from seqtk.nn import steppers

    lm = peaked_lm(uniform_layers("lstm", 24, 2))
    prompt = torch.randint(0, V, (2, 7))
    encoder_passes, real = [], CharLM._prefill

    def counted(self, rows, decoding):
        encoder_passes.append(len(rows))
        return real(self, rows, decoding)

    monkeypatch.setattr(CharLM, "_prefill", counted)
    seed = torch.Generator().manual_seed
    by_steps = [lm.generate(prompt, 30, temperature=0, decoding=ONNX),
                lm.generate(prompt, 30, generator=seed(2), decoding=ONNX)]  # fmt: skip
    assert encoder_passes == []  # 2 x 7 prompt tokens: fed to the onnxruntime step, no encoder pass
    monkeypatch.setattr(steppers, "PROMPT_STEPS_MAX", 0)
    by_encoder = [lm.generate(prompt, 30, temperature=0, decoding=ONNX),
                  lm.generate(prompt, 30, generator=seed(2), decoding=ONNX)]  # fmt: skip
    assert encoder_passes == [2, 2]
    assert all(torch.equal(a, b) for a, b in zip(by_steps, by_encoder))


def test_generation_under_cpu_autocast_runs_on_the_onnx_step():
    # a long prompt prefills in bfloat16 under autocast: its noise and logits reach the float32 step converted
    lm = peaked_lm(uniform_layers("lstm", 24, 2))
    prompt = torch.randint(0, V, (2, 80))  # 160 prompt tokens: the fused encoder, not the step
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sampled = lm.generate(prompt, 30, generator=torch.Generator().manual_seed(3))
    assert lm.last_route.name == "onnx" and sampled.shape == (2, 30)



@pytest.mark.parametrize("layers", [[LayerSpec("lstm", 12), LayerSpec("gru", 10)], [LayerSpec("ln_lstm", 8), LayerSpec("rnn", 6)]],
                         ids=["fused", "cells"])  # fmt: skip
def test_ragged_prompts_are_read_in_one_call_to_each_rows_own_state(layers):
    lm = peaked_lm(layers)
    prompts = [torch.tensor(p) for p in ([1, 2, 3, 4, 5, 6, 7], [7], [3, 3, 9], [2, 4, 6, 8, 1])]
    with torch.inference_mode():
        logits, state = lm._prefill_ragged(prompts)  # one right-padded batch with its lengths
        for b, prompt in enumerate(prompts):
            alone, alone_state = lm._logits(prompt[None], None, EAGER)  # (1, T, V), that prompt by itself
            assert (logits[b] - alone[0, -1]).abs().max() < 1e-5
            mine = [part[b] for layer in state for part in layer]
            theirs = [part[0, 0] for layer in alone_state for part in (layer if isinstance(layer, tuple) else (layer,))]
            assert len(mine) == len(theirs) and all((a - t).abs().max() < 1e-5 for a, t in zip(mine, theirs))
