"""Decoding at batch 1: seqtk's stepwise decoder against a naive one that re-runs the decoder over the prefix.

seqtk's :meth:`EncoderDecoder.step` carries the recurrent state and the
attention memory's projection from one token to the next, so each emitted
token costs one decoder step. A naive decoder (what a first implementation,
or a teacher-forced ``forward`` reused for inference, does) encodes the
source once but feeds the whole prefix ``<bos> y_1 .. y_t`` through the
decoder again to get token ``t + 1``: ``O(t)`` work per token, ``O(n^2)``
per output. Both decode the same sources
greedily with the same (untrained, seeded) model, one source at a time, and
must emit the same tokens; the benchmark checks that, then times them.

The model is the G2P recipe's shape (a bidirectional LSTM encoder, hidden 160
per direction; an LSTM decoder of 256; ``general`` attention), with input
feeding on and off. Outputs run to ``--length`` tokens (an untrained model
rarely stops early; the end token is masked so both decoders emit the full
length). The last line printed is one JSON object: ``step_vs_naive`` (words/s
of seqtk's decoder over the naive one, per setting) and the words/s behind it.

Run: ``python bench/decoding.py [--words 40] [--length 12]`` (well under a minute on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from seqtk.config.model_config import EncoderDecoderConfig
from seqtk.nn.encoder_decoder import EncoderDecoder

BOS, EOS = 1, 2


def model_of(input_feeding: bool) -> EncoderDecoder:
    torch.manual_seed(0)
    cfg = EncoderDecoderConfig(hidden_size=160, embedding_dim=64, target_embedding_dim=64, decoder_hidden_size=256,
                               input_feeding=input_feeding)  # fmt: skip
    return EncoderDecoder(31, 43, cfg).eval()


@torch.no_grad()
def stepwise(model: EncoderDecoder, source: torch.Tensor, length: int) -> list[int]:
    """Greedy decoding with the carried state: one decoder step per token."""
    state = model.start(source, torch.tensor([source.size(1)]))
    token, out = torch.tensor([BOS]), []
    for _ in range(length):
        logits, state, _ = model.step(state, token)
        logits[:, EOS] = float("-inf")
        token = logits.argmax(-1)
        out.append(int(token))
    return out


@torch.no_grad()
def naive(model: EncoderDecoder, source: torch.Tensor, length: int) -> list[int]:
    """Greedy decoding that encodes once but re-runs the decoder over the whole prefix for every new token."""
    start = model.start(source, torch.tensor([source.size(1)]))
    prefix = [BOS]
    for _ in range(length):
        logits = decoder_over(model, start, torch.tensor([prefix]))[:, -1]  # the decoder's t steps again
        logits[:, EOS] = float("-inf")
        prefix.append(int(logits.argmax(-1)))
    return prefix[1:]


def decoder_over(model: EncoderDecoder, start, target_in: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    """Teacher forcing from an encoded source's start state: what EncoderDecoder.forward does after encoding.

    # target_in (1, t) -> logits (1, t, V)
    """
    if model.cfg.input_feeding:
        return model._teacher_forced_stepwise(start, target_in)[0]
    h, _ = model.decoder(model.target_embedding(target_in), start.rnn)  # one fused call over the prefix
    context, _ = model.attention(h, start.memory)
    return model._logits(context, h)


def words_per_s(decode, model: EncoderDecoder, sources: list[torch.Tensor], length: int) -> tuple[float, list]:  # noqa: ANN001
    decode(model, sources[0], length)  # untimed: kernels warm up
    start = time.perf_counter()
    outputs = [decode(model, s, length) for s in sources]
    return len(sources) / (time.perf_counter() - start), outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=40)
    parser.add_argument("--length", type=int, default=12, help="tokens per output (G2P outputs average 6.4, at most 28)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    sources = [torch.randint(3, 31, (1, int(torch.randint(4, 12, (1,), generator=g))), generator=g) for _ in range(args.words)]
    result: dict[str, object] = {"words": args.words, "length": args.length, "threads": args.threads}
    ratios = {}
    for feeding in (True, False):
        model = model_of(feeding)
        fast, fast_out = words_per_s(stepwise, model, sources, args.length)
        slow, slow_out = words_per_s(naive, model, sources, args.length)
        assert fast_out == slow_out, "the two decoders disagree: the stepwise state is not what the prefix gives"
        name = "input_feeding" if feeding else "no_input_feeding"
        print(f"{name}: stepwise {fast:.1f} words/s, naive {slow:.1f} words/s, ratio {fast / slow:.2f}")
        result[f"{name}_words_per_s"] = {"stepwise": round(fast, 1), "naive": round(slow, 1)}
        ratios[name] = round(fast / slow, 2)
    result["step_vs_naive"] = ratios
    print(json.dumps(result))


if __name__ == "__main__":
    main()
