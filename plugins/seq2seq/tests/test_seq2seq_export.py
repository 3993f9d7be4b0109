"""seqtk export for seq2seq: the encoder and the decoder step give seqtk's numbers on ragged padded batches, and the
README's numpy greedy and beam search give seqtk's outputs, in a process that cannot import seqtk."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

import seqtk
from seqtk.cli.main import main
from seqtk.testing import export_in_new_process, run_exported_readme, train_recipe

HAS_ONNX = all(importlib.util.find_spec(name) for name in ("onnx", "onnxscript", "onnxruntime"))
FORMATS = ["torchscript", pytest.param("onnx", marks=pytest.mark.skipif(not HAS_ONNX, reason="pip install 'seqtk[export]'"))]
# ragged sources, an unseen character (its OOV bucket), one whose output runs to max_target_length
TEXTS = ["12+7", "3+45", "99+99", "5+5", "8x+1", "40+61", "0+0"]
MODELS = {
    # a bidirectional LSTM encoder, an LSTM decoder with input feeding and additive attention (the defaults)
    "lstm": "",
    # a unidirectional GRU stack, a two-layer GRU decoder without input feeding, dot attention (no projection)
    "gru": 'cell = "gru"\nnum_layers = 2\nbidirectional = false\ndecoder_cell = "gru"\ndecoder_layers = 2\n'
           'input_feeding = false\nattention = "dot"\nlength_penalty = 0.5\n',
}  # fmt: skip


def _recipe(model: str) -> str:
    return ('[task]\nname = "seq2seq"\n[data]\nsource = "addition"\naddition_count = 1500\naddition_digits = 2\n'
            'max_source_length = 8\nmax_target_length = 4\neval_batch_size = 64\n'
            f'[model]\nhidden_size = 12\nembedding_dim = 8\nembedding_dropout = 0.0\noutput_dropout = 0.0\nbeam = 3\n{model}'
            '[train]\nbatch_size = 32\nlr = 0.02\nmax_steps = 60\neval_every = 60\ndevice = "cpu"\nnum_threads = 1\n'
            '[log]\nprogress = false\n')  # fmt: skip


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("s2s_export")
    return {name: train_recipe(folder, name, _recipe(model)) for name, model in MODELS.items()}


def _export(checkpoint, fmt: str, out) -> None:
    if fmt == "onnx":  # a process of its own: torch 2.13 fixes the sizes of an LSTM/GRU exported twice in one
        export_in_new_process(checkpoint, fmt, out)
    else:
        assert main(["export", str(checkpoint), "--format", fmt, "--out", str(out)]) == 0


def _seqtk_steps(p: seqtk.Predictor, source: torch.Tensor, lengths: torch.Tensor, tokens: torch.Tensor) -> dict:
    """seqtk's numbers for each source alone (unpadded): its memory, and each step's log-probabilities (as the
    search sees them) and attention weights after feeding ``tokens`` (B, steps)."""
    from seqtk.nn.decoding import _next

    vocab = p.task.target_vocab
    banned = [vocab.pad_id, vocab.bos_id, *range(vocab.num_known, len(vocab))]
    memory, log_probs, weights = [], [], []
    with torch.no_grad():
        for i, n in enumerate(lengths.tolist()):
            state = p.model.start(source[i : i + 1, :n], lengths[i : i + 1])
            memory.append(state.memory.keys[0].tolist())
            rows, seen = [], []
            for t in range(tokens.size(1)):
                logp, state, w = _next(p.model, state, tokens[i : i + 1, t], "cpu", banned)
                rows.append(logp[0].tolist())
                seen.append(w[0].tolist())
            log_probs.append(rows)
            weights.append(seen)
    return {"memory": memory, "log_probs": log_probs, "weights": weights}


CHECK_NUMBERS = """
source, lengths, tokens = (np.array(DATA[k]) for k in ("source", "lengths", "tokens"))
out = run("encoder", source=source, lengths=lengths)
state, memory = {n: out[n] for n in STATE}, {n: out[n] for n in MEMORY}
for b, n in enumerate(lengths):
    assert np.abs(memory["memory"][b, :n] - np.array(DATA["memory"][b])).max() <= 1e-5
    assert memory["memory_mask"][b].tolist() == [t < n for t in range(source.shape[1])]
for t in range(tokens.shape[1]):
    log_probs, state, weights = step(tokens[:, t], state, memory)
    for b, n in enumerate(lengths):
        theirs = np.array(DATA["log_probs"][b][t])
        assert (np.isinf(log_probs[b]) == np.isinf(theirs)).all()
        finite = np.isfinite(theirs)
        assert np.abs(log_probs[b][finite] - theirs[finite]).max() <= 1e-5
        assert np.abs(weights[b, :n] - np.array(DATA["weights"][b][t])).max() <= 1e-5 and (weights[b, n:] == 0).all()
for (beam, n_best), theirs in zip(DATA["searches"], DATA["predictions"]):
    mine = convert(DATA["texts"], beam=beam, n_best=n_best)
    for m, s in zip(mine, theirs):
        assert m["tokens"] == s["tokens"] and m["output"] == s["output"], (beam, m, s)
        assert abs(m["score"] - s["score"]) <= 2e-4 and m.get("note") == s.get("note"), (m, s)
        assert [a["output"] for a in m.get("n_best", [])] == [a["output"] for a in s.get("n_best", [])], (m, s)
        assert m["unknown_source_tokens"] == s["unknown_source_tokens"]
"""


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("which", list(MODELS))
def test_an_exported_seq2seq_model_decodes_as_seqtk_without_seqtk(checkpoints, tmp_path, which, fmt):
    out = tmp_path / fmt
    _export(checkpoints[which], fmt, out)
    suffix = ".pt" if fmt == "torchscript" else ".onnx"
    assert (out / f"encoder{suffix}").is_file() and (out / f"decoder_step{suffix}").is_file()
    assert not (out / f"model{suffix}").exists()
    p = seqtk.load(checkpoints[which], device="cpu")
    source = [torch.tensor(p.task.encoder.source_ids(text)) for text in TEXTS]
    lengths = torch.tensor([len(s) for s in source])
    padded = torch.zeros(len(source), int(lengths.max()) + 2, dtype=torch.long)  # wider than the longest
    for i, s in enumerate(source):
        padded[i, : len(s)] = s
    g = torch.Generator().manual_seed(0)
    tokens = torch.cat([torch.full((len(TEXTS), 1), p.task.target_vocab.bos_id),
                        torch.randint(3, p.task.target_vocab.num_known, (len(TEXTS), 3), generator=g)], dim=1)  # fmt: skip
    searches = [(1, 1), (3, 1), (3, 3), (2, 2)]
    predictions = [p.predict(TEXTS, beam=beam, n_best=n_best) for beam, n_best in searches]
    data = {"texts": TEXTS, "source": padded.tolist(), "lengths": lengths.tolist(), "tokens": tokens.tolist(),
            "searches": searches, "predictions": predictions, **_seqtk_steps(p, padded, lengths, tokens)}  # fmt: skip
    assert [r["tokens"] for r in predictions[0]] != [r["tokens"] for r in predictions[1]]  # greedy is not beam here
    assert any(r["unknown_source_tokens"] for r in predictions[0])
    if which == "lstm":  # an output stopped at max_target_length, whose score differs between the searches
        assert any("note" in r for r in predictions[0]) and any("note" in r for r in predictions[2])
    printed = run_exported_readme(out, CHECK_NUMBERS, data)
    assert printed.startswith("[{'output': ")  # the README's own example ran
    decoding = json.loads((out / "decoding.json").read_text(encoding="utf-8"))
    assert decoding["beam"] == 3 and decoding["max_len"] == 4


def test_an_int8_seq2seq_load_decodes_on_the_int8_step_as_the_float_model_does(checkpoints):
    pytest.importorskip("onnxruntime")
    from seqtk.nn.decoder_step import OnnxDecoderStep

    for name, checkpoint in checkpoints.items():
        floats = seqtk.load(checkpoint, device="cpu")
        small = seqtk.load(checkpoint, device="cpu", quantize="int8")
        assert small.model.decoding.quantize == "int8"
        with torch.no_grad():
            state = small.model.eval().start(torch.tensor([[3, 4, 5]]), torch.tensor([3]))
        assert isinstance(state.fast, OnnxDecoderStep)
        for beam in (1, 3):
            ours, theirs = small.predict(TEXTS, beam=beam), floats.predict(TEXTS, beam=beam)
            same = sum(a["tokens"] == b["tokens"] for a, b in zip(ours, theirs))
            assert same >= len(TEXTS) - 1, (name, beam, ours, theirs)  # int8 may flip a near-tie, not more
            scores = [(a["score"], b["score"]) for a, b in zip(ours, theirs) if a["tokens"] == b["tokens"]]
            assert all(abs(a - b) < 0.05 for a, b in scores)
            assert any(a != b for a, b in scores)  # the int8 weights did the decoding, not the float32 ones


def test_an_int8_export_quantizes_both_parts_and_its_readme_still_decodes(checkpoints, tmp_path):
    pytest.importorskip("onnxruntime")
    import subprocess
    import sys

    out = tmp_path / "int8"
    done = subprocess.run([sys.executable, "-m", "seqtk", "export", str(checkpoints["lstm"]), "--format", "onnx",
                           "--quantize", "int8", "--out", str(out)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "float32 model's by at most" in done.stdout  # the bool mask and the -inf log-probabilities compared
    check = 'assert [len(r["tokens"]) <= 4 for r in convert(DATA["texts"], beam=2, n_best=2)] == [True] * len(DATA["texts"])\n'
    run_exported_readme(out, check, {"texts": TEXTS})
