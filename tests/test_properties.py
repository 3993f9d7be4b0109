"""Property tests (hypothesis): vocab round-trips, OOV determinism, padding invariance.

They complement the example-based tests in test_vocab.py and test_encoders.py
with generated corpora, hash seeds, lengths and cells.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.text.vocab import Vocab, oov_bucket

token = st.text(min_size=1, max_size=8)  # any Unicode, lone surrogates included
corpus = st.lists(st.lists(token, max_size=12), min_size=1, max_size=8)


@settings(max_examples=100, deadline=None)
@given(corpus, st.integers(min_value=0, max_value=4))
def test_known_tokens_round_trip_through_any_vocab(sentences, buckets):
    vocab = Vocab.build(sentences, num_oov_buckets=buckets, specials=("<pad>", "<unk>"))
    known = [[t for t in s if t in vocab and t not in vocab.specials] for s in sentences]
    for seq in known:
        assert vocab.decode(vocab.encode(seq)) == seq
    ids, lengths = vocab.encode_batch(known)
    assert vocab.decode_batch(ids, lengths) == known


@settings(max_examples=100, deadline=None)
@given(corpus, st.lists(token, max_size=20), st.integers(min_value=1, max_value=7))
def test_unknown_tokens_land_in_stable_buckets(sentences, queries, buckets):
    vocab = Vocab.build(sentences, num_oov_buckets=buckets)
    again = Vocab.from_dict(json.loads(json.dumps(vocab.to_dict())))  # as saved and reloaded
    ids = vocab.encode(queries)
    assert ids == again.encode(queries) == vocab.encode(list(reversed(queries)))[::-1]
    for tok, idx in zip(queries, ids):
        if tok not in vocab:
            assert idx == vocab.num_known + oov_bucket(tok, buckets)
    assert vocab.encode(vocab.decode(ids)) == ids  # bucket markers encode back to their ids


CHILD = "import json, sys; from seqtk.text.vocab import oov_bucket; print(json.dumps([oov_bucket(t, 97) for t in json.load(sys.stdin)]))"


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(token, min_size=20, max_size=40), st.integers(min_value=1, max_value=2**31))
def test_oov_buckets_are_the_same_in_another_process(tokens, hash_seed):
    env = dict(os.environ, PYTHONHASHSEED=str(hash_seed))
    done = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(tokens), env=env,
                          capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(done.stdout) == [oov_bucket(t, 97) for t in tokens]


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(["rnn", "gru", "lstm"]),
    st.booleans(),
    st.booleans(),
    st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=4),
    st.integers(min_value=0, max_value=5),
    st.integers(min_value=0, max_value=2**16),
)
def test_padding_never_changes_a_sequence_s_encoding(cell, bidirectional, return_sequences, lengths, extra, seed):
    torch.manual_seed(seed)
    layers = [LayerSpec(cell, 5, bidirectional=bidirectional), LayerSpec(cell, 3, return_sequences=return_sequences)]
    enc = StackedEncoder(2, layers).double().eval()
    total = max(lengths) + extra
    seqs = [torch.randn(n, 2, dtype=torch.float64) for n in lengths]
    batch = torch.randn(len(lengths), total, 2, dtype=torch.float64) * 100  # noise in the padding
    for row, seq in enumerate(seqs):
        batch[row, : len(seq)] = seq
    with torch.no_grad():
        out = enc(batch, torch.tensor(lengths))
        for row, seq in enumerate(seqs):
            alone = enc(seq.unsqueeze(0))[0]
            got = out[row, : len(seq)] if return_sequences else out[row]
            torch.testing.assert_close(got, alone, atol=1e-10, rtol=0)
            if return_sequences:
                assert bool((out[row, len(seq) :] == 0).all())
