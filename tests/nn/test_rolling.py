"""RollingBatch: rows that join a running batch and leave it give what each prompt gives alone."""

from __future__ import annotations

import pytest
import torch
from test_steppers import EAGER, INT8, ONNX, peaked_lm

from seqtk.errors import SeqtkValueError
from seqtk.nn.lm import uniform_layers
from seqtk.nn.rolling import RollingBatch

pytest.importorskip("onnxruntime")

#: (prompt, tokens, seed, the step it joins at)
ROWS = [([1, 2, 3], 40, 0, 0), ([4], 12, 1, 0), ([5, 6, 7, 8, 9, 10], 30, 2, 5), ([2, 2], 1, 3, 5), ([7, 1], 25, 4, 20)]
OPTIONS = [{"temperature": 0}, {}, {"temperature": 0.7}, {"top_k": 5}, {"temperature": 0.8, "top_p": 0.9}]


def rolled(lm, decoding, options, rows=ROWS, drop=None, runs=None):
    """Each row's tokens, rows joining at their steps (and ``drop``: (row index, step) taken out then); with
    ``runs``, each call runs that many steps (a row's step is then the first run at or after it)."""
    rolling, got, handles, t = RollingBatch(lm, decoding=decoding, **options), {}, {}, 0
    while t == 0 or len(rolling) or any(start >= t for *_, start in rows):
        for i, (prompt, n, seed, start) in enumerate(rows):
            if i not in handles and start <= t:
                handles[i] = rolling.add(torch.tensor(prompt), n, torch.Generator().manual_seed(seed))
        if drop is not None and t == drop[1]:
            rolling.drop(handles[drop[0]])
        shown = [(row, [token]) for row, token in rolling.step()] if runs is None else rolling.run(runs)
        for row, tokens in shown:
            got.setdefault(next(i for i, h in handles.items() if h is row), []).extend(tokens)
        t += 1 if runs is None else max([len(tokens) for _, tokens in shown] or [1])
    return got


def alone(lm, decoding, options, i):
    prompt, n, seed, _ = ROWS[i]
    return lm.generate(prompt, n, generator=torch.Generator().manual_seed(seed), decoding=decoding, **options).tolist()


@pytest.mark.parametrize("options", OPTIONS, ids=["greedy", "race", "tempered", "top-k", "top-p"])
@pytest.mark.parametrize("decoding", [ONNX, EAGER], ids=["onnx", "eager"])
def test_rows_joining_and_leaving_give_what_each_prompt_gives_alone(decoding, options):
    lm = peaked_lm(uniform_layers("lstm", 24, 2))
    got = rolled(lm, decoding, options)
    assert {i: len(tokens) for i, tokens in got.items()} == {i: row[1] for i, row in enumerate(ROWS)}
    for i in range(len(ROWS)):
        assert got[i] == alone(lm, decoding, options, i), (i, options)


@pytest.mark.parametrize("runs", [3, 64])
@pytest.mark.parametrize("decoding", [ONNX, EAGER], ids=["onnx", "eager"])
def test_runs_of_steps_give_the_tokens_of_single_steps(decoding, runs):
    lm = peaked_lm(uniform_layers("gru", 20, 2))
    for options in ({"temperature": 0}, {}, {"top_k": 4}):
        got = rolled(lm, decoding, options, runs=runs)
        assert got == rolled(lm, decoding, options), (runs, options)
        assert all(got[i] == alone(lm, decoding, options, i) for i in range(len(ROWS)))


def test_a_run_stops_at_the_row_with_the_fewest_tokens_left():
    lm = peaked_lm(uniform_layers("lstm", 16, 1))
    rolling = RollingBatch(lm, temperature=0)
    short, long = rolling.add([1], 5), rolling.add([2], 50)
    assert [len(tokens) for _, tokens in rolling.run(64)] == [5, 5] and rolling.rows == [long]
    assert [row for row, _ in rolling.run(64)] == [long] and len(rolling) == 0 and short.left == 0


@pytest.mark.gpu
@pytest.mark.parametrize("options", [{"temperature": 0}, {"top_k": 5}], ids=["greedy", "top-k"])
def test_cuda_rows_joining_captured_batches_keep_their_own_state(options):
    # each rolling batch captures a graph of its own: a row reading its prompt, or a second batch of the same
    # size and sampler stepped in between, must not restart the graph another batch steps with
    lm = peaked_lm(uniform_layers("lstm", 24, 2)).double().cuda()

    def gen(seed):
        return torch.Generator(device="cuda").manual_seed(seed)

    a, b = RollingBatch(lm, **options), RollingBatch(lm, **options)
    rows = [a.add([1, 2, 3], 30, gen(0)), b.add([4, 5], 30, gen(1))]
    got = {row: [] for row in rows}
    for t in range(30):
        if t == 5:  # joins a running batch of one row: the size a new row's own prompt is read at
            rows.append(a.add([6], 20, gen(2)))
            got[rows[-1]] = []
        for batch in (a, b):
            for row, token in batch.step():
                got[row].append(token)
    assert a.route.name == "graph"
    for row, (prompt, n, seed) in zip(rows, [([1, 2, 3], 30, 0), ([4, 5], 30, 1), ([6], 20, 2)]):
        assert got[row] == lm.generate(prompt, n, generator=gen(seed), **options).tolist(), prompt


@pytest.mark.parametrize("options", OPTIONS[:2], ids=["greedy", "race"])
def test_int8_rows_give_their_lone_samples_when_they_do_not_overlap(options):
    # a step on int8 weights quantizes its rows' activations with one scale, so rows that share steps move each
    # other's logits a little (docs/serve.md); one row at a time is the int8 step itself
    lm = peaked_lm(uniform_layers("lstm", 24, 2))
    one_by_one = [(prompt, n, seed, 50 * i) for i, (prompt, n, seed, _) in enumerate(ROWS)]
    got = rolled(lm, INT8, options, rows=one_by_one)
    assert all(got[i] == alone(lm, INT8, options, i) for i in range(len(ROWS)))


def test_a_dropped_row_stops_and_the_others_go_on_as_before():
    lm = peaked_lm(uniform_layers("gru", 20, 2))
    full, dropped = rolled(lm, ONNX, {}), rolled(lm, ONNX, {}, drop=(0, 8))
    assert dropped[0] == full[0][:8]
    assert all(dropped[i] == full[i] for i in range(1, len(ROWS)))


def test_the_route_follows_the_decoding_settings_and_bad_settings_are_refused():
    lm = peaked_lm(uniform_layers("ln_lstm", 16, 1))
    rolling = RollingBatch(lm, temperature=0)
    rolling.add([1, 2], 3)
    rolling.step()
    assert rolling.route.name == "onnx"
    with pytest.raises(SeqtkValueError, match="temperature must be a finite number"):
        RollingBatch(lm, temperature=-1)
    with pytest.raises(SeqtkValueError, match="prompt 0 must be a non-empty list"):
        rolling.add([], 3)
    with pytest.raises(SeqtkValueError, match="is outside the vocabulary|out of range|vocabulary"):
        rolling.add([1, 999], 3)
