"""The encoder-decoder's onnxruntime step: the eager step's numbers for every decoder and attention kind, the
same greedy and beam outputs, int8 weights close to float32, and the eager step wherever it cannot run."""

from __future__ import annotations

import pytest
import torch

from seqtk.config.model_config import EncoderDecoderConfig
from seqtk.errors import SeqtkError
from seqtk.nn import decoder_step
from seqtk.nn.decoder_step import OnnxDecoderStep
from seqtk.nn.decoding import beam_search, greedy
from seqtk.nn.encoder_decoder import EncoderDecoder
from seqtk.nn.steppers import DecodeSettings

pytest.importorskip("onnxruntime")

EAGER, INT8 = DecodeSettings(route="eager"), DecodeSettings(quantize="int8")
KINDS = [
    {"attention": "general", "input_feeding": True},
    {"attention": "additive", "input_feeding": False},
    {"attention": "additive", "input_feeding": True, "decoder_layers": 2},
    {"attention": "dot", "input_feeding": True, "decoder_cell": "gru", "decoder_layers": 2},
    {"attention": "general", "input_feeding": False, "decoder_cell": "gru"},
]


def model_of(peaked: bool = False, **kwargs) -> EncoderDecoder:
    """A float32 model in eval mode; ``peaked``: next-token distributions far from flat, as a trained model's are
    (a random model's near-ties may flip under any change of summation order)."""
    torch.manual_seed(0)
    model = EncoderDecoder(11, 13, EncoderDecoderConfig(**{"hidden_size": 8, "embedding_dim": 6, **kwargs})).eval()
    if peaked:
        with torch.no_grad():
            model.output.weight.mul_(6)
    return model


def started(model: EncoderDecoder, settings: DecodeSettings, src: torch.Tensor, lengths: torch.Tensor):
    model.decoding = settings
    with torch.no_grad():
        return model.start(src, lengths)


@pytest.mark.parametrize("kwargs", KINDS)
def test_the_onnxruntime_step_gives_the_eager_steps_numbers(kwargs):
    model = model_of(**kwargs)
    src, lengths, tokens = torch.randint(1, 11, (3, 6)), torch.tensor([6, 2, 4]), torch.randint(1, 13, (3, 5))
    fast, eager = started(model, DecodeSettings(), src, lengths), started(model, EAGER, src, lengths)
    assert isinstance(fast.fast, OnnxDecoderStep) and eager.fast is None
    assert fast.select(torch.tensor([2, 0, 0])).fast is fast.fast  # beam search reorders rows and keeps the step
    with torch.no_grad():
        for t in range(5):
            (a, fast, wa), (b, eager, wb) = model.step(fast, tokens[:, t]), model.step(eager, tokens[:, t])
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
            torch.testing.assert_close(wa, wb, atol=1e-6, rtol=0)
            assert wa[1, 2:].abs().max() == 0  # padding gets weight 0
            for x, y in zip(*(s.rnn if isinstance(s.rnn, tuple) else (s.rnn,) for s in (fast, eager))):
                torch.testing.assert_close(x, y, atol=1e-6, rtol=0)
            assert (fast.feed is None) == (eager.feed is None)


@pytest.mark.parametrize("kwargs", KINDS)
def test_greedy_and_beam_search_decode_the_eager_outputs(kwargs):
    model = model_of(peaked=True, **kwargs)
    src, lengths = torch.randint(1, 11, (4, 7)), torch.tensor([7, 3, 1, 5])
    common = {"bos": 1, "eos": 2, "max_len": 9, "banned": [0, 1]}
    found = []
    for settings in (DecodeSettings(), EAGER):
        state = started(model, settings, src, lengths)
        with torch.no_grad():
            found.append((greedy(model, state, 4, **common), beam_search(model, state, 4, beam=3, n_best=2, **common)))
    (greedy_fast, beam_fast), (greedy_eager, beam_eager) = found
    assert [h.tokens for h in greedy_fast] == [h.tokens for h in greedy_eager]
    assert [[h.tokens for h in hs] for hs in beam_fast] == [[h.tokens for h in hs] for hs in beam_eager]
    assert all(abs(a.score - b.score) < 1e-4 for hs, gs in zip(beam_fast, beam_eager) for a, b in zip(hs, gs))


def test_int8_weights_stay_close_and_teacher_forcing_steps_on_them():
    model = model_of(**KINDS[1])
    src, lengths, target = torch.randint(1, 11, (3, 6)), torch.tensor([6, 2, 4]), torch.randint(1, 13, (3, 5))
    with torch.no_grad():
        floats, _ = model.teacher_forced(started(model, EAGER, src, lengths), target)
        small, _ = model.teacher_forced(started(model, INT8, src, lengths), target)
    assert 0 < (small - floats).abs().max() < 0.02  # int8 weights: close, not equal
    model.decoding = INT8
    state = model.start(src, lengths)  # with gradients: training and its evaluation's loss stay float32
    assert state.fast is None and torch.equal(model.teacher_forced(state, target)[0].detach(), floats)


def test_where_the_step_cannot_run_auto_steps_eagerly_and_int8_is_refused_with_the_fix(monkeypatch):
    model = model_of()
    src, lengths = torch.randint(1, 11, (2, 4)), torch.tensor([4, 2])
    monkeypatch.setattr(decoder_step, "_no_onnx", lambda m: "onnxruntime is not installed")
    assert started(model, DecodeSettings(), src, lengths).fast is None
    for settings in (INT8, DecodeSettings(route="onnx")):
        with pytest.raises(SeqtkError, match="onnxruntime is not installed.*Fix: pip install onnx onnxruntime"):
            started(model, settings, src, lengths)
    monkeypatch.undo()
    assert started(model.double(), DecodeSettings(), src, lengths).fast is None  # float64: the eager step
    model.float().train()
    assert started(model, DecodeSettings(), src, lengths).fast is None  # training: the eager step, with dropout


def test_the_session_is_built_once_and_rebuilt_when_a_weight_changes():
    model = model_of()
    src, lengths = torch.randint(1, 11, (2, 4)), torch.tensor([4, 2])
    first = started(model, DecodeSettings(), src, lengths).fast.session
    assert started(model, DecodeSettings(), src, lengths).fast.session is first
    with torch.no_grad():
        model.output.bias.add_(1.0)
    second = started(model, DecodeSettings(), src, lengths).fast.session
    assert second is not first
    model.combine.weight.data.mul_(2.0)  # a write through .data leaves the version counter alone
    assert started(model, DecodeSettings(), src, lengths).fast.session is not second


def test_under_cpu_autocast_the_eager_step_decodes_and_int8_is_refused_with_the_fix():
    # evaluation of a precision = "bf16" run happens under CPU autocast: the encoder's state comes in bfloat16
    model = model_of(**KINDS[0])
    src, lengths = torch.randint(1, 11, (2, 4)), torch.tensor([4, 2])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        state = started(model, DecodeSettings(), src, lengths)
        assert state.fast is None
        with torch.no_grad():
            logits, _, _ = model.step(state, torch.tensor([1, 1]))
        assert torch.isfinite(logits).all()
        with pytest.raises(SeqtkError, match="CPU autocast is on.*Fix: decode outside torch.autocast"):
            started(model, INT8, src, lengths)
