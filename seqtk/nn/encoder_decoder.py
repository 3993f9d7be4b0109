"""An encoder-decoder with attention: the sequence-to-sequence model (Luong et al. 2015's global attention).

The encoder (:class:`seqtk.nn.encoders.StackedEncoder`, usually bidirectional)
reads the source; its final states, through a learned *bridge*, start the
decoder. At each output step ``t`` the decoder (a stacked fused LSTM or GRU)
reads the previous target token (and, with *input feeding*, its previous
attentional vector), attends over the encoder's outputs
(:mod:`seqtk.nn.attention`), and turns its state and the context into the
attentional vector ``o_t = tanh(W_c [c_t; h_t])``, from which the output
layer predicts the next token::

    x_t = [E y_{t-1}; o_{t-1}]            (input feeding; else E y_{t-1})
    h_t = RNN(x_t, h_{t-1})
    c_t, a_t = attention(h_t, encoder outputs)
    o_t = tanh(W_c [c_t; h_t])
    p(y_t | y_<t, x) = softmax(W_o o_t)

This is OpenNMT's ``global_attention`` decoder (``dot``/``general``/``mlp``
there, ``dot``/``general``/``additive`` here). Training uses teacher forcing
(:meth:`EncoderDecoder.forward`): the decoder reads the gold previous token.
Decoding (:mod:`seqtk.nn.decoding`) calls :meth:`EncoderDecoder.step`, which
carries the recurrent state and the memory's projections, so each emitted
token costs one step of recurrent work, not a re-run over the prefix.

Padding never changes an output: the encoder reads each source to its own
length, its final states are taken at each source's last real step, and
attention gives padded positions weight 0. A target's padding comes after its
real tokens, where a causal decoder cannot see it.

>>> from seqtk.config.model_config import EncoderDecoderConfig  # the recipe's [model] section is one
>>> model = EncoderDecoder(10, 12, EncoderDecoderConfig(hidden_size=8, embedding_dim=6)).eval()  # no dropout
>>> src, lengths, tgt_in = torch.randint(1, 10, (2, 5)), torch.tensor([5, 3]), torch.randint(1, 12, (2, 4))
>>> logits, weights = model(src, lengths, tgt_in)
>>> logits.shape, weights.shape  # (B, T, V), (B, T, S)
(torch.Size([2, 4, 12]), torch.Size([2, 4, 5]))
>>> state = model.start(src, lengths)
>>> step_logits, state, step_weights = model.step(state, tgt_in[:, 0])
>>> torch.allclose(step_logits, logits[:, 0], atol=1e-6)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Union

import torch
from torch import Tensor, nn

from seqtk.nn.attention import Attention, Memory
from seqtk.nn.decoder_step import decoder_stepper
from seqtk.nn.embedding import Embedding
from seqtk.nn.encoders import StackedEncoder
from seqtk.nn.layers import LayerSpec
from seqtk.nn.steppers import DecodeSettings

__all__ = ["DecoderState", "EncoderDecoder", "EncoderDecoderSettings"]

RnnState = Union[Tensor, tuple[Tensor, Tensor]]  # h, or (h, c); each (L, B, H)


class EncoderDecoderSettings(Protocol):
    """What :class:`EncoderDecoder` reads from its configuration. The recipe's ``[model]`` section,
    :class:`seqtk.config.model_config.EncoderDecoderConfig`, is one; declaring it here keeps ``nn`` below the
    recipes (an import of the config would run up the layers)."""

    embedding_dim: int
    decoder_cell: str
    decoder_layers: int
    attention: str
    attention_dim: int
    input_feeding: bool
    tie_embeddings: bool
    embedding_dropout: float
    output_dropout: float

    @property
    def target_dim(self) -> int: ...

    @property
    def decoder_dim(self) -> int: ...

    def stack(self) -> list[LayerSpec]: ...

    def check(self) -> None: ...


@dataclass(frozen=True)
class DecoderState:
    """Everything the decoder carries from one step to the next, for a batch of N rows.

    ``rnn``: (L, N, H) h, or (h, c); ``feed``: (N, H) the last attentional vector (zeros at the start;
    None without input feeding); ``memory``: the encoder outputs as attention reads them; ``fast``: the
    onnxruntime step :meth:`EncoderDecoder.start` chose for inference (:mod:`seqtk.nn.decoder_step`), or None.
    """

    rnn: RnnState
    feed: Tensor | None
    memory: Memory
    fast: Any = None

    def select(self, index: Tensor) -> DecoderState:
        """The rows ``index`` (N',): beam search reorders and repeats rows with it."""
        rnn = (tuple(t.index_select(1, index) for t in self.rnn) if isinstance(self.rnn, tuple)
               else self.rnn.index_select(1, index))  # fmt: skip
        feed = None if self.feed is None else self.feed.index_select(0, index)
        return DecoderState(rnn, feed, self.memory.select(index), self.fast)  # type: ignore[arg-type]


class EncoderDecoder(nn.Module):
    """Source ids -> target logits, with attention; ``start``/``step`` decode one token at a time.

    ``decoding`` picks how :meth:`step` runs at inference (eval mode, no gradients): on a CPU by default one
    onnxruntime call per step (:mod:`seqtk.nn.decoder_step`), with int8 weights when ``decoding.quantize`` is
    ``"int8"`` (then teacher forcing steps on them too); ``DecodeSettings(route="eager")`` keeps PyTorch's.
    """

    decoding: DecodeSettings = DecodeSettings()

    def __init__(self, source_size: int, target_size: int, cfg: EncoderDecoderSettings, source_pad: int = 0,
                 target_pad: int = 0) -> None:  # fmt: skip
        super().__init__()
        cfg.check()
        self.cfg = cfg
        hidden, memory_dim = cfg.decoder_dim, cfg.stack()[-1].output_dim
        self.source_embedding = Embedding(source_size, cfg.embedding_dim, padding_idx=source_pad)
        self.target_embedding = Embedding(target_size, cfg.target_dim, padding_idx=target_pad)
        self.embedding_dropout = nn.Dropout(cfg.embedding_dropout)
        self.encoder = StackedEncoder(cfg.embedding_dim, cfg.stack())
        rnn = nn.LSTM if cfg.decoder_cell == "lstm" else nn.GRU
        feed = hidden if cfg.input_feeding else 0
        self.decoder = rnn(cfg.target_dim + feed, hidden, num_layers=cfg.decoder_layers, batch_first=True)
        states = 2 if cfg.decoder_cell == "lstm" else 1  # the bridge makes h (and c) for every decoder layer
        self.bridge = nn.Linear(memory_dim, states * cfg.decoder_layers * hidden)
        self.attention = Attention(cfg.attention, hidden, memory_dim, cfg.attention_dim or None)
        self.combine = nn.Linear(memory_dim + hidden, hidden, bias=False)
        self.output_dropout = nn.Dropout(cfg.output_dropout)
        self.output = nn.Linear(hidden, target_size)
        if cfg.tie_embeddings:
            self.output.weight = self.target_embedding.weight

    # -- encoding ---------------------------------------------------------------------
    def start(self, source: Tensor, lengths: Tensor) -> DecoderState:
        """Encode right-padded sources; the decoder's state before its first step.

        # source (B, S), lengths (B,) -> DecoderState for B rows
        """
        x = self.embedding_dropout(self.source_embedding(source))  # (B, S) -> (B, S, E)
        keys, finals = self.encoder(x, lengths, return_state=True)  # (B, S, K), per layer (D, B, H_enc)
        top = finals[-1][0] if isinstance(finals[-1], tuple) else finals[-1]  # (D, B, H_enc): h at the last real step
        summary = top.transpose(0, 1).reshape(source.size(0), -1)  # (B, D * H_enc) = (B, K)
        memory = self.attention.prepare(keys, lengths)
        feed = keys.new_zeros(source.size(0), self.cfg.decoder_dim) if self.cfg.input_feeding else None
        # the step's route is chosen once per batch here: checking the weights costs more than a step
        fast = decoder_stepper(self, self.decoding) if self._inference() else None
        return DecoderState(self._bridge(summary), feed, memory, fast)

    def _bridge(self, summary: Tensor) -> RnnState:
        # summary (B, K) -> h (L, B, H), or (h, c)
        layers, hidden = self.cfg.decoder_layers, self.cfg.decoder_dim
        states = torch.tanh(self.bridge(summary)).view(summary.size(0), -1, layers, hidden)  # (B, 1|2, L, H)
        states = states.permute(1, 2, 0, 3).contiguous()  # (1|2, L, B, H)
        return (states[0], states[1]) if self.cfg.decoder_cell == "lstm" else states[0]

    # -- decoding -------------------------------------------------------------------------
    def forward(self, source: Tensor, lengths: Tensor, target_in: Tensor) -> tuple[Tensor, Tensor]:
        """Teacher forcing: logits for every target position given the gold previous tokens.

        ``target_in`` starts with the begin-of-sequence id and is right-padded.

        # source (B, S), lengths (B,), target_in (B, T) -> logits (B, T, V) float, weights (B, T, S)
        """
        return self.teacher_forced(self.start(source, lengths), target_in)

    def teacher_forced(self, state: DecoderState, target_in: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`forward` from an encoded batch (:meth:`start`), so evaluation can decode the same encoding.

        # state (B rows), target_in (B, T) -> logits (B, T, V) float, weights (B, T, S)
        """
        if self.cfg.input_feeding or self._quantized():  # o_{t-1} feeds step t; int8 weights are in the step
            return self._teacher_forced_stepwise(state, target_in)
        y = self.embedding_dropout(self.target_embedding(target_in))  # (B, T) -> (B, T, E_t)
        h, _ = self.decoder(y, state.rnn)  # (B, T, H), all steps in one fused call
        context, weights = self.attention(h, state.memory)  # (B, T, K), (B, T, S)
        return self._logits(context, h), weights

    def step(self, state: DecoderState, tokens: Tensor) -> tuple[Tensor, DecoderState, Tensor]:
        """One decoding step: the previous tokens in, the next token's logits and the new state out.

        # state (N rows), tokens (N,) -> logits (N, V) float, state, weights (N, S)
        """
        if state.fast is not None and self._inference():
            logits, rnn, feed, weights = state.fast(state, tokens)
            return logits, DecoderState(rnn, feed, state.memory, state.fast), weights
        y = self.embedding_dropout(self.target_embedding(tokens))  # (N,) -> (N, E_t)
        x = y if state.feed is None else torch.cat([y, state.feed], dim=-1)  # (N, E_t [+ H])
        h, rnn = self.decoder(x.unsqueeze(1), state.rnn)  # (N, 1, H): one step of the fused kernel
        h = h.squeeze(1)  # (N, H)
        context, weights = self.attention(h, state.memory)  # (N, K), (N, S)
        attentional = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))  # (N, H)
        logits = self.output(self.output_dropout(attentional)).float()  # (N, V)
        feed = attentional if state.feed is not None else None
        return logits, DecoderState(rnn, feed, state.memory, state.fast), weights

    def _teacher_forced_stepwise(self, state: DecoderState, target_in: Tensor) -> tuple[Tensor, Tensor]:
        # target_in (B, T) -> logits (B, T, V), weights (B, T, S)
        logits, weights = [], []
        for t in range(target_in.size(1)):
            step_logits, state, step_weights = self.step(state, target_in[:, t])
            logits.append(step_logits)
            weights.append(step_weights)
        return torch.stack(logits, dim=1), torch.stack(weights, dim=1)

    def _inference(self) -> bool:
        return not self.training and not torch.is_grad_enabled()

    def _quantized(self) -> bool:
        return bool(self.decoding.quantize) and self._inference()

    def _logits(self, context: Tensor, h: Tensor) -> Tensor:
        # context (B, T, K), h (B, T, H) -> (B, T, V) float
        attentional = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))  # (B, T, H)
        return self.output(self.output_dropout(attentional)).float()
