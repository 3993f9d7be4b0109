"""The trace-friendly encoders of seqtk.nn.traceable that the exports of fixed-length tasks and streaming
classifiers use: the encoder's numbers, traced at one size and run at another."""

from __future__ import annotations

import pytest
import torch

from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.nn.traceable import StreamingEncoder, WholeEncoder, can_stream

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")


@pytest.mark.parametrize("layers", [
    [LayerSpec("gru", 4, bidirectional=True), LayerSpec("lstm", 3, return_sequences=False)],
    [LayerSpec("rnn", 5, nonlinearity="relu", return_sequences=False)],
    [LayerSpec("ref_lstm", 4, nonlinearity="relu"), LayerSpec("gru", 3)],
])  # fmt: skip
def test_whole_encoder_traces_to_the_encoders_numbers_for_any_batch(layers):
    encoder = StackedEncoder(2, layers).eval()
    whole = WholeEncoder(encoder)
    assert whole.fixed_length == (layers[0].cell == "ref_lstm")  # a Python loop traces as one number of steps
    x = torch.randn(6, 7, 2)
    with torch.no_grad():
        traced = torch.jit.trace(whole, (x[:2],), check_trace=False)
        assert (traced(x) - encoder(x)).abs().max() < 1e-6


@pytest.mark.parametrize(("layers", "shapes"), [
    ([LayerSpec("gru", 4), LayerSpec("rnn", 5, return_sequences=False)], {"h0": (4,), "h1": (5,)}),
    ([LayerSpec("lstm", 4), LayerSpec("gru", 5), LayerSpec("lstm", 3, return_sequences=False)],
     {"h0": (4,), "c0": (4,), "h1": (5,), "h2": (3,), "c2": (3,)}),  # an LSTM's c at each row's own end too
])  # fmt: skip
def test_streaming_encoder_reads_ragged_texts_in_pieces_as_the_encoder_reads_them_whole(layers, shapes):
    encoder = StackedEncoder(3, layers).eval()
    stream = StreamingEncoder(encoder)
    assert stream.state_shapes() == shapes
    x, lengths = torch.randn(4, 9, 3), torch.tensor([9, 1, 5, 3])
    cut = torch.tensor([4, 1, 2, 1])  # each row's first piece; the rest (none for row 1) is its second
    rest = torch.zeros_like(x)
    for b, (k, n) in enumerate(zip(cut.tolist(), lengths.tolist())):
        rest[b, : n - k] = x[b, k:n]
    zeros = [torch.zeros(4, *shape) for shape in shapes.values()]
    with torch.no_grad():
        traced = torch.jit.trace(stream, (x[:2, :3], torch.tensor([3, 2]), *(z[:2] for z in zeros)), check_trace=False)
        expected, states = encoder(x, lengths, return_state=True)  # packed where an LSTM's c is asked for: exact
        h, *whole = traced(x, lengths, *zeros)
        assert (h - expected).abs().max() < 1e-6
        theirs = [part[0] for state in states for part in (state if isinstance(state, tuple) else (state,))]
        assert len(whole) == len(theirs) and all((a - b).abs().max() < 1e-6 for a, b in zip(whole, theirs))
        _, *first = traced(x[:, :4], cut, *zeros)
        more = lengths > cut
        h2, *_ = traced(rest[more], (lengths - cut)[more], *(s[more] for s in first))
        assert (h2 - expected[more]).abs().max() < 1e-6


@pytest.mark.parametrize("layers", [
    [LayerSpec("gru", 4, bidirectional=True, return_sequences=False)],  # a backward direction needs the whole text
    [LayerSpec("gru", 4)],  # every step returned: pooling over them needs the whole text
    [LayerSpec("lstm", 4, proj_size=2, return_sequences=False)],  # projections: the stepped LSTM cell has none
    [LayerSpec("ref_gru", 4, return_sequences=False)],  # a Python loop
])  # fmt: skip
def test_what_cannot_stream(layers):
    encoder = StackedEncoder(3, layers)
    assert not can_stream(encoder)
    with pytest.raises(ValueError, match="StreamingEncoder needs"):
        StreamingEncoder(encoder)
