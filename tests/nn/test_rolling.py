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


def rolled(lm, decoding, options, rows=ROWS, drop=None):
    """Each row's tokens, rows joining at their steps (and ``drop``: (row index, step) taken out then)."""
    rolling, got, handles, t = RollingBatch(lm, decoding=decoding, **options), {}, {}, 0
    while t == 0 or len(rolling) or any(start >= t for *_, start in rows):
        for i, (prompt, n, seed, start) in enumerate(rows):
            if start == t:
                handles[i] = rolling.add(torch.tensor(prompt), n, torch.Generator().manual_seed(seed))
        if drop is not None and t == drop[1]:
            rolling.drop(handles[drop[0]])
        for row, token in rolling.step():
            got.setdefault(next(i for i, h in handles.items() if h is row), []).append(token)
        t += 1
    return got


def alone(lm, decoding, options, i):
    prompt, n, seed, _ = ROWS[i]
    return lm.generate(prompt, n, generator=torch.Generator().manual_seed(seed), decoding=decoding, **options).tolist()


@pytest.mark.parametrize("options", OPTIONS, ids=["greedy", "race", "tempered", "top-k", "top-p"])
@pytest.mark.parametrize("decoding", [ONNX, EAGER, INT8], ids=["onnx", "eager", "int8"])
def test_rows_joining_and_leaving_give_what_each_prompt_gives_alone(decoding, options):
    lm = peaked_lm(uniform_layers("lstm", 24, 2))
    got = rolled(lm, decoding, options)
    assert {i: len(tokens) for i, tokens in got.items()} == {i: row[1] for i, row in enumerate(ROWS)}
    for i in range(len(ROWS)):
        assert got[i] == alone(lm, decoding, options, i), (i, options)


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
