"""seqtk export for music: the folder's README code, run where seqtk cannot be imported, cuts a tune into the
ids seqtk trains on, writes ids back as seqtk's ABC text, and steps a ragged batch of tunes (padded past each
one's end) to seqtk's logits and final state for each tune alone."""

from __future__ import annotations

import importlib.util

import pytest
import torch

import seqtk
from seqtk.testing import export_in_new_process, run_exported_readme, train_recipe
from seqtk_plugins.music.codec import AbcCodec

HAS_ONNX = all(importlib.util.find_spec(name) for name in ("onnx", "onnxscript", "onnxruntime"))
FORMATS = ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(not HAS_ONNX, reason="pip install 'seqtk[export]'"))]
BARS = ["GAB c2d", "edc BAG", "FGA d2c", "BAG A3", "^c'3/2>d/ e2", "[GB]3 (3Bcd", "fed cBA", "G3 G2"]
TUNES = ["M:6/8\nL:1/8\nK:G\n|:GAB c2d|edc BAG:|\nK:D\n|1 fed cBA||]\n", "M:3/4\nK:Em\nE2 zz|]\n",
         "M:6/8\nK:G\nGAB c2d|edc BAG|FGA d2c|BAG A3|\n"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """abc tokens, an LSTM under a GRU, trained four steps on 32 jigs."""
    folder = tmp_path_factory.mktemp("music_export")
    tunes = [f"X:1\nT:Jig {i}\nM:6/8\nL:1/8\nK:G\n" + "|".join(BARS[i % 8 :] + BARS[: i % 8]) + "|]\n\n" for i in range(32)]
    (folder / "jigs.abc").write_text("".join(tunes), encoding="utf-8")
    return train_recipe(folder, "music", f'[task]\nname = "music"\n[data]\npath = "{folder / "jigs.abc"}"\nseq_len = 16\n'
                        'val_fraction = 0.2\ntest_fraction = 0.1\nsample_tunes = 1\nmax_tune_tokens = 20\n'
                        '[vocab]\ntokens = "abc"\n[model]\nembedding_dim = 6\ndropout = 0.0\n'
                        '[[model.layers]]\ncell = "lstm"\nhidden_size = 7\n[[model.layers]]\ncell = "gru"\nhidden_size = 5\n'
                        '[train]\nmax_steps = 4\neval_every = 4\nbatch_size = 4\ndevice = "cpu"\n[log]\nprogress = false\n')


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_exported_tune_model_tokenizes_and_steps_as_seqtk(checkpoint, tmp_path, fmt):
    out = tmp_path / fmt
    assert "README.md shows how to run it" in export_in_new_process(checkpoint, fmt, out)
    p = seqtk.load(checkpoint, device="cpu")
    rows = [p.task.encode_tunes([tune]) for tune in TUNES]  # (N,) each: <bos> tune <eos>
    width = max(len(r) for r in rows) + 2
    ids = torch.zeros(len(rows), width, dtype=torch.long)  # right-padded with <pad>
    for b, row in enumerate(rows):
        ids[b, : len(row)] = row
    logits, finals = [], []
    with torch.no_grad():  # each tune alone: its logits at every step, and the state after its last token
        for row in rows:
            out_logits, _, state = p.model(row.unsqueeze(0))
            logits.append(out_logits[0].tolist())
            parts = [part for layer in state for part in (layer if isinstance(layer, tuple) else (layer,))]  # GRU: h alone
            finals.append([part[0, 0].tolist() for part in parts])
    vocab, known = p.task.vocab, range(len(p.task.vocab.specials), p.task.vocab.num_known)
    texts = [AbcCodec().text(vocab.decode([i for i in r.tolist() if i in known])) for r in rows]  # as sampled tunes
    assert any(len(r) - 2 > sum(i in known for i in r.tolist()) for r in rows)  # an OOV token is among them
    data = {"tunes": TUNES, "rows": [r.tolist() for r in rows], "texts": texts,
            "ids": ids.tolist(), "lengths": [len(r) for r in rows], "logits": logits, "finals": finals}
    check = """
for tune, row, seqtk_text in zip(DATA["tunes"], DATA["rows"], DATA["texts"]):
    assert [VOCAB["bos_id"]] + [IDS.get(t, len(IDS)) for t in tokens(tune)] + [VOCAB["eos_id"]] == row, (tune, row)
    assert text(row) == seqtk_text, (text(row), seqtk_text)
ids = np.array(DATA["ids"])
state, seen, at_end = zero_state(len(ids)), [], [None] * len(ids)
for t in range(ids.shape[1]):  # the padded batch, one step per column
    out, state = step(ids[:, t], state)
    seen.append(out)
    for b, n in enumerate(DATA["lengths"]):
        if t == n - 1:
            at_end[b] = [state[name][b] for name in STATE_SHAPES]
for b, n in enumerate(DATA["lengths"]):
    assert np.abs(np.stack([seen[t][b] for t in range(n)]) - np.array(DATA["logits"][b])).max() <= 1e-5
    assert max(np.abs(mine - np.array(theirs)).max() for mine, theirs in zip(at_end[b], DATA["finals"][b])) <= 1e-5
greedy = generate("M:6/8\\nK:G\\n", length=30, temperature=0)  # a tune the README writes reads back as its tokens
assert greedy.startswith("M:6/8\\nK:G\\n") and text([IDS[t] for t in tokens(greedy)]) == greedy, greedy
"""
    run_exported_readme(out, check, data)
