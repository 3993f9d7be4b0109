"""The encoder-decoder: teacher forcing equals stepping, padding changes nothing, attention masks padding."""

from __future__ import annotations

import pytest
import torch

from seqtk.config.model_config import EncoderDecoderConfig
from seqtk.errors import SeqtkError
from seqtk.nn.attention import Attention
from seqtk.nn.decoding import beam_search, greedy
from seqtk.nn.encoder_decoder import EncoderDecoder

KINDS = [
    {"attention": "general", "input_feeding": True},
    {"attention": "additive", "input_feeding": False},
    {"attention": "dot", "input_feeding": True, "decoder_cell": "gru", "decoder_layers": 2},
    {"attention": "general", "input_feeding": False, "bidirectional": False, "cell": "gru", "num_layers": 2},
]


def model_of(**kwargs) -> EncoderDecoder:
    torch.manual_seed(0)
    cfg = EncoderDecoderConfig(**{"hidden_size": 8, "embedding_dim": 6, **kwargs})
    return EncoderDecoder(11, 13, cfg).double().eval()


@pytest.mark.parametrize("kwargs", KINDS)
def test_teacher_forcing_equals_step_by_step(kwargs: dict) -> None:
    model = model_of(**kwargs)
    src, lengths, tgt = torch.randint(1, 11, (3, 6)), torch.tensor([6, 2, 4]), torch.randint(1, 13, (3, 5))
    logits, weights = model(src, lengths, tgt)
    state = model.start(src, lengths)
    for t in range(5):
        step_logits, state, step_weights = model.step(state, tgt[:, t])
        torch.testing.assert_close(step_logits, logits[:, t], atol=1e-10, rtol=0)
        torch.testing.assert_close(step_weights, weights[:, t], atol=1e-10, rtol=0)


@pytest.mark.parametrize("kwargs", KINDS)
def test_padding_never_changes_an_output(kwargs: dict) -> None:
    model = model_of(**kwargs)
    src = torch.randint(1, 11, (3, 7))
    lengths = torch.tensor([7, 3, 5])
    tgt = torch.randint(1, 13, (3, 4))
    logits, weights = model(src, lengths, tgt)
    for b in range(3):
        n = int(lengths[b])
        alone, alone_w = model(src[b : b + 1, :n], lengths[b : b + 1], tgt[b : b + 1])
        torch.testing.assert_close(logits[b : b + 1], alone, atol=1e-10, rtol=0)
        torch.testing.assert_close(weights[b : b + 1, :, :n], alone_w, atol=1e-10, rtol=0)
        if n < 7:
            assert weights[b, :, n:].abs().max().item() == 0.0
    padded = src.clone()
    padded[1, 3:] = 5  # garbage in the padding of source 1
    torch.testing.assert_close(model(padded, lengths, tgt)[0], logits, atol=1e-10, rtol=0)


def test_decoding_a_padded_batch_equals_decoding_alone() -> None:
    model = model_of(attention="additive")
    src, lengths = torch.randint(1, 11, (4, 6)), torch.tensor([6, 1, 3, 5])
    together = beam_search(model, model.start(src, lengths), 4, bos=1, eos=2, beam=3, max_len=7, n_best=2)
    greedy_together = greedy(model, model.start(src, lengths), 4, bos=1, eos=2, max_len=7)
    for b in range(4):
        n = int(lengths[b])
        state = model.start(src[b : b + 1, :n], lengths[b : b + 1])
        alone = beam_search(model, state, 1, bos=1, eos=2, beam=3, max_len=7, n_best=2)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in together[b]]
        assert greedy(model, state, 1, bos=1, eos=2, max_len=7)[0].tokens == greedy_together[b].tokens


def test_training_reduces_the_loss_and_every_parameter_learns() -> None:
    torch.manual_seed(0)
    model = EncoderDecoder(11, 13, EncoderDecoderConfig(hidden_size=16, embedding_dim=8, tie_embeddings=True,
                                                         target_embedding_dim=32))  # fmt: skip
    assert model.output.weight is model.target_embedding.weight
    src, lengths = torch.randint(3, 11, (8, 5)), torch.full((8,), 5)
    tgt = torch.cat([torch.ones(8, 1, dtype=torch.long), src.flip(1)], dim=1)  # reverse the source
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(60):
        logits, _ = model(src, lengths, tgt[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        if not losses:
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"attention": "dot", "decoder_hidden_size": 10}, "attention"),
        ({"tie_embeddings": True}, "tie_embeddings"),
        ({"decoder_layers": 0}, "decoder_layers"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
    ],
)
def test_config_mistakes_name_the_key(kwargs: dict, key: str) -> None:
    with pytest.raises(SeqtkError, match=f"model.{key}"):
        EncoderDecoderConfig(hidden_size=8, **kwargs).check()


def test_attention_kinds_and_their_errors() -> None:
    with pytest.raises(SeqtkError, match="unknown attention kind"):
        Attention("luong", 4, 4)
    with pytest.raises(SeqtkError, match="same size"):
        Attention("dot", 4, 6)
    for kind in ("additive", "general", "dot"):
        attn = Attention(kind, 4, 4)
        memory = attn.prepare(torch.randn(2, 3, 4), torch.tensor([3, 1]))
        context, weights = attn(torch.randn(2, 4), memory)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2))
        assert weights[1, 1:].abs().max().item() == 0.0
        torch.testing.assert_close(context[1], memory.keys[1, 0])  # one real position: all weight on it


@pytest.mark.gpu
def test_cuda_bf16_teacher_forcing_and_beam_search_match_the_cpu() -> None:
    """On a GPU: fp32 logits and decoded outputs as on the CPU; under bf16 autocast the loss stays close."""
    cpu = model_of(attention="additive").float()
    gpu = model_of(attention="additive").float().cuda()
    src, lengths, tgt = torch.randint(1, 11, (4, 6)), torch.tensor([6, 1, 3, 5]), torch.randint(1, 13, (4, 5))
    with torch.no_grad():
        want, _ = cpu(src, lengths, tgt)
        got, _ = gpu(src.cuda(), lengths.cuda(), tgt.cuda())
        torch.testing.assert_close(got.cpu(), want, atol=1e-4, rtol=1e-4)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            half, _ = gpu(src.cuda(), lengths.cuda(), tgt.cuda())
        assert half.dtype == torch.float32 and (half.cpu() - want).abs().max() < 0.1
    on_cpu = beam_search(cpu, cpu.start(src, lengths), 4, bos=1, eos=2, beam=3, max_len=6)
    on_gpu = beam_search(gpu, gpu.start(src.cuda(), lengths.cuda()), 4, bos=1, eos=2, beam=3, max_len=6, device="cuda")
    assert [h[0].tokens for h in on_gpu] == [h[0].tokens for h in on_cpu]
    for feeding in (True, False):  # evaluation under bf16 autocast decodes too (the GPU recipe's setting)
        model = EncoderDecoder(11, 13, EncoderDecoderConfig(hidden_size=8, embedding_dim=6, input_feeding=feeding)).cuda()
        with torch.autocast("cuda", dtype=torch.bfloat16), torch.no_grad():
            state = model.start(src.cuda(), lengths.cuda())
            found = beam_search(model, state, 4, bos=1, eos=2, beam=3, max_len=6, device="cuda")
            assert len(found) == 4 and all(len(h[0].tokens) <= 6 for h in found)
            assert len(greedy(model, model.start(src.cuda(), lengths.cuda()), 4, bos=1, eos=2, max_len=6, device="cuda")) == 4
