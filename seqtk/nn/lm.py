"""A character-level language model and its fast step-by-step generator.

Training runs whole sequences through the fused encoder. Generation feeds the
prompt once the same way, then steps the recurrence one token at a time: by
default as one onnxruntime call per token on a CPU and as a captured CUDA graph
on a GPU (:mod:`seqtk.nn.steppers`), or, where those routes do not apply, with
the cell math written out on the fused modules' own weights. Calling
``nn.LSTM`` once per step pays oneDNN's per-call setup (weight reorders,
buffers): for a 2x512 LSTM at batch 1 on a 2-core CPU we measured ~4.2-4.4 ms
per token (sometimes ~1-1.5 ms), against ~0.24-0.29 ms here (greedy), where
the three 512x2048 matrix-vector products alone take ~0.17 ms. The work per
token does not depend on how many tokens came before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqtk.errors import SeqtkValueError
from seqtk.nn.awd import ar_tar, embedding_dropout
from seqtk.nn.cell_step import CellStep, _cell_of  # noqa: F401 - they lived here; imports from here keep working
from seqtk.nn.encoders import LayerSpec, StackedEncoder
from seqtk.nn.ragged import at_step
from seqtk.nn.lm_checks import check_ids, check_positive, check_sampling, check_targets
from seqtk.nn.lm_heads import IGNORE_INDEX, AdaptiveHead, ProjectedHead, _make_head
from seqtk.nn.sampling import RaceNoise, race_noise, sample_next  # noqa: F401 - sample_next, RaceNoise: imported from here
from seqtk.nn.steppers import (
    DecodeSettings,
    EagerStepper,
    Route,
    prompt_by_steps,
    score_steps,
    step_state,
    stepper,
    zero_state,
)
from seqtk.runtime.device import eval_mode

StepState = tuple[Tensor, ...]  # (h,) or (h, c), each (B, H)
RUN_TOKENS = 512  # rows x steps per run of the graph while generate() looks at each token (see run_steps)


class CharLM(nn.Module):
    """Embedding -> unidirectional recurrent stack -> linear head over the vocabulary.

    ``dropout`` applies to the embeddings and to the encoder output before the
    head; each layer's own dropout, set in its :class:`LayerSpec`, follows that
    layer, so leave it 0 on the last one (:func:`uniform_layers` does).

    AWD-LSTM's pieces (:mod:`seqtk.nn.awd`), all off by default: ``embedding_dropout`` drops whole words
    while training; ``tie_weights`` with ``tie_projection`` ties the head to the embedding through a linear
    projection from the last hidden size to the embedding size (:class:`ProjectedHead`) when they differ;
    ``ar_alpha`` and ``tar_beta`` make each training forward keep its AR/TAR terms in
    ``activation_penalty`` (:func:`seqtk.nn.awd.add_activation_penalty` adds them to a loss);
    ``embedding_init_range`` starts the embedding at uniform(-r, r) instead of ``nn.Embedding``'s N(0, 1), as
    Zaremba et al. (2014) and PyTorch's ``word_language_model`` do (r = 0.1): a word embedding drawn at N(0, 1) is
    ten times the size of the LSTM's own inputs and outputs, and as a tied output layer it starts the softmax
    saturated; ``adaptive_cutoffs`` puts an adaptive softmax over the vocabulary (:class:`AdaptiveHead`; its clusters shrink by
    ``adaptive_div_value`` each), whose
    "logits" are log-probabilities and whose forward with targets returns no logits.

    >>> lm = CharLM(vocab_size=10, embedding_dim=8, layers=[LayerSpec("gru", 16)])
    >>> idx = torch.randint(0, 10, (2, 5))
    >>> logits, loss, state = lm(idx, targets=idx)
    >>> logits.shape, loss.dim()
    (torch.Size([2, 5, 10]), 0)
    >>> lm.generate([1, 2, 3], max_new_tokens=4, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([4])
    """

    #: how generate() steps: the route and the weights (seqtk.load(..., quantize="int8") sets int8)
    decoding: DecodeSettings = DecodeSettings()
    #: the route the last generate() call took (None before the first)
    last_route: Route | None = None

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 64,
        layers: Sequence[LayerSpec | Mapping[str, Any]] = (LayerSpec("lstm", 256), LayerSpec("lstm", 256)),
        dropout: float = 0.0,
        tie_weights: bool = False,
        pad_id: int | None = None,
        *,
        embedding_dropout: float = 0.0,
        tie_projection: bool = False,
        ar_alpha: float = 0.0,
        tar_beta: float = 0.0,
        adaptive_cutoffs: Sequence[int] = (),
        adaptive_div_value: float = 4.0,
        embedding_init_range: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive("vocab_size", vocab_size)
        check_positive("embedding_dim", embedding_dim)
        if not 0.0 <= dropout < 1.0:
            raise SeqtkValueError(f"dropout must be in [0, 1), got {dropout!r}", fix="set e.g. dropout=0.1")
        if pad_id is not None and not 0 <= pad_id < vocab_size:
            raise SeqtkValueError(
                f"pad_id {pad_id} is outside the vocabulary 0..{vocab_size - 1}",
                fix="pass vocab.pad_id (0 for a seqtk Vocab), or None if there is no padding",
            )
        if not 0.0 <= embedding_dropout < 1.0:
            raise SeqtkValueError(f"embedding_dropout must be in [0, 1), got {embedding_dropout!r}",
                                  fix="set e.g. embedding_dropout=0.1, or 0 to turn it off")  # fmt: skip
        if not 0.0 <= embedding_init_range < float("inf"):
            raise SeqtkValueError(f"embedding_init_range must be a finite number >= 0, got {embedding_init_range!r}",
                                  fix="set e.g. embedding_init_range=0.1 (Zaremba et al.'s), or 0 for N(0, 1)")  # fmt: skip
        if ar_alpha < 0 or tar_beta < 0:
            raise SeqtkValueError(f"ar_alpha and tar_beta must be >= 0, got {ar_alpha!r} and {tar_beta!r}",
                                  fix="set e.g. ar_alpha=2 and tar_beta=1 (AWD-LSTM's), or 0 to turn them off")  # fmt: skip
        specs = [LayerSpec.from_any(spec) for spec in layers]
        check_causal(specs)
        self.vocab_size = vocab_size
        self.pad_id = pad_id
        self.embedding_dropout, self.ar_alpha, self.tar_beta = embedding_dropout, ar_alpha, tar_beta
        #: AR + TAR of the last training forward (with ar_alpha or tar_beta), until add_activation_penalty takes it
        self.activation_penalty: Tensor | None = None
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        if embedding_init_range:
            _init_uniform(self.embedding, embedding_init_range)
        self.encoder = StackedEncoder(embedding_dim, specs)
        self.dropout = nn.Dropout(dropout)
        self.head = _make_head(self.encoder.output_dim, self.embedding, tie_weights, tie_projection, adaptive_cutoffs,
                               adaptive_div_value)  # fmt: skip

    @property
    def adaptive(self) -> bool:
        """Whether the head is an adaptive softmax (its outputs are log-probabilities)."""
        return isinstance(self.head, AdaptiveHead)

    @property
    def tied(self) -> bool:
        return self.head.weight is self.embedding.weight

    def forward(
        self, idx: Tensor, targets: Tensor | None = None, state: Sequence[Any] | None = None
    ) -> tuple[Tensor, Tensor | None, list[Any]]:
        """Logits, the mean cross-entropy (or None without targets) and each layer's final state.

        Pass the returned state, detached, to the next call to run truncated
        backpropagation through time over a contiguous stream. A model set to decode on int8 weights
        (``decoding.quantize``) scores on them too, in eval mode without gradients.
        """
        # (B, T) -> (B, T, V); with an adaptive head and targets, no logits: (None, loss, state)
        check_ids("idx", idx, self.vocab_size, dims=(2,))
        if targets is not None and self.adaptive:
            check_targets(idx, targets)
            h, state = self._features(idx, state)  # (B, T) -> (B, T, H)
            return None, self.head.loss(h, self._ignoring_pad(targets)), state
        logits, state = self._logits(idx, state, self.decoding)  # (B, T) -> (B, T, V)
        loss = None if targets is None else self.loss(logits, targets)
        return logits, loss, state

    def _logits(self, idx: Tensor, state: Sequence[Any] | None, decoding: DecodeSettings) -> tuple[Tensor, list[Any]]:
        # (B, T) -> (B, T, V), each layer's final state
        if decoding.quantize and not self.training and not torch.is_grad_enabled():
            # a quantized model scores on the weights it decodes with: one step per position
            return score_steps(self, idx, state, decoding)
        h, state = self._features(idx, state)  # (B, T) -> (B, T, H)
        return self.head(h), state  # (B, T, H) -> (B, T, V)

    def _features(self, idx: Tensor, state: Sequence[Any] | None) -> tuple[Tensor, list[Any]]:
        """The head's input (the last layer's output after dropout) and each layer's final state; while
        training with ar_alpha or tar_beta, the AR/TAR terms go to ``activation_penalty``."""
        # (B, T) -> (B, T, H)
        x = self.dropout(embedding_dropout(self.embedding, idx, self.embedding_dropout, self.training))  # (B, T, E)
        h, state = self.encoder(x, state=state, return_state=True)  # (B, T, E) -> (B, T, H)
        dropped = self.dropout(h)
        if self.training and (self.ar_alpha or self.tar_beta):
            self.activation_penalty = ar_tar(h, dropped, self.ar_alpha, self.tar_beta)
        return dropped, state

    def _ignoring_pad(self, targets: Tensor) -> Tensor:
        if self.pad_id is None:
            return targets
        return targets.masked_fill(targets == self.pad_id, IGNORE_INDEX)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        # (B, T, V), (B, T) -> ()
        check_targets(logits[..., 0], targets)
        targets = self._ignoring_pad(targets)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE_INDEX)

    def summary_rows(self, keras_style: bool = False) -> list[tuple[str, str, str, int]]:
        """Rows for :func:`seqtk.runtime.summary.model_summary`; a tied head is counted without its shared weight."""
        from seqtk.runtime.summary import count_parameters

        head = count_parameters(self.head, keras_style).total
        rows = [("embedding", "embedding", f"(B, T, {self.embedding.embedding_dim})",
                 count_parameters(self.embedding, keras_style).total)]
        rows += [(f"encoder {name}", kind, shape, n) for name, kind, shape, n in self.encoder.summary_rows(keras_style)]
        if self.tied:
            kind = "projection + linear" if isinstance(self.head, ProjectedHead) else "linear"
            rows.append(("head", f"{kind} (weight tied to embedding)", f"(B, T, {self.vocab_size})",
                         head - self.head.weight.numel()))
        elif self.adaptive:
            rows.append(("head", "adaptive softmax", f"(B, T, {self.vocab_size})", head))
        else:
            rows.append(("head", "linear", f"(B, T, {self.vocab_size})", head))
        return rows

    def generate(
        self,
        prompt_ids: Sequence[int] | Sequence[Sequence[int]] | Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        stop_id: int | None = None,
        generator: torch.Generator | Sequence[torch.Generator] | None = None,
        on_token: Callable[[Tensor], Any] | None = None,
        decoding: DecodeSettings | None = None,
    ) -> Tensor:
        """Continue ``prompt_ids`` ((T,), or B prompts: a (B, T) tensor or a list of B id lists of any lengths)
        by up to ``max_new_tokens``.

        Returns only the new tokens, (N,) or (B, N) like the prompt; each row keeps its own state, and rows
        draw from the one ``generator`` together (row i of a batch is not the sample a call with prompt i
        alone would draw, and the same batch and seed give the same rows). A list of B generators gives each
        row its own: row i then draws what prompt i alone draws with generator i. ``temperature``
        0 is greedy; ``top_k`` 0 and ``top_p`` 1.0 are off. Generation stops once
        ``stop_id`` is produced (by every row; finished rows repeat it).
        ``on_token`` receives each new token ((B,), or a 0-d tensor for a 1-D
        prompt), e.g. to stream text to a terminal. ``decoding`` picks the step's route and weights
        (:class:`~seqtk.nn.steppers.DecodeSettings`; default ``self.decoding``: the onnxruntime step on a CPU
        and the CUDA-graph step on a GPU, where they apply); ``self.last_route`` says which one ran.
        """
        rows, batched = self._prompt_rows(prompt_ids)
        check_sampling(max_new_tokens, temperature, top_k, top_p)
        if generator is not None and not isinstance(generator, torch.Generator) and len(generator) != len(rows):
            raise SeqtkValueError(f"{len(generator)} generators were given for {len(rows)} prompts",
                                  fix="pass one generator, or one per prompt")  # fmt: skip
        with eval_mode(self), torch.inference_mode():
            new = self._generate(rows, max_new_tokens, temperature, top_k, top_p, stop_id, generator,
                                 on_token if batched or on_token is None else lambda t: on_token(t[0]),
                                 decoding or self.decoding)  # fmt: skip
        return new if batched else new[0]

    def _generate(
        self,
        rows: list[Tensor],
        max_new_tokens: int,
        temperature: float,
        top_k: int,
        top_p: float,
        stop_id: int | None,
        generator: torch.Generator | Sequence[torch.Generator] | None,
        on_token: Callable[[Tensor], Any] | None,
        decoding: DecodeSettings,
    ) -> Tensor:
        # B rows of (T_b,) -> (B, N)
        batch = len(rows)
        if max_new_tokens == 0:
            return rows[0].new_empty(batch, 0)
        greedy = temperature < torch.finfo(self.head.weight.dtype).tiny
        # the onnx step picks the next token in its graph too, unless top-k/top-p filter the logits first
        sampler = None if top_k or top_p < 1.0 else "greedy" if greedy else "race" if temperature == 1.0 else "race_tempered"
        # a lookup table of projected embeddings pays off once the tokens fed outnumber the vocabulary
        table = self.vocab_size <= batch * max_new_tokens
        logits, step, self.last_route = self.read_prompts(rows, decoding, table, sampler, temperature)
        in_graph = sampler is not None and not isinstance(step, EagerStepper)  # onnx and graph steps pick tokens
        noise = None if greedy else race_noise(generator, logits, max_new_tokens)
        done = torch.zeros(batch, dtype=torch.bool, device=logits.device)
        out: list[Tensor] = []
        token = sample_next(logits, temperature, top_k, top_p, None, noise and noise.next())  # (B, V) -> (B,)
        if in_graph and stop_id is None and on_token is None:  # nothing to do between steps: one tight loop
            return torch.cat([token[:, None], step.sample_run(token, max_new_tokens - 1, noise)], dim=1)
        ahead: list[Tensor] = []  # tokens the graph picked already, in runs of steps: next one first
        for t in range(max_new_tokens):
            if stop_id is not None:
                token = token.masked_fill(done, stop_id)
                done |= token == stop_id
            out.append(token)
            if on_token is not None:
                on_token(token.clone())
            if t + 1 == max_new_tokens or (stop_id is not None and bool(done.all())):
                break
            if in_graph:  # (B,) -> (B, k): k steps and picks in one run; a stop or a callback waits for the run
                if not ahead:
                    ahead = list(step.sample_run(token, min(run_steps(batch), max_new_tokens - 1 - t), noise).unbind(1))[::-1]
                token = ahead.pop()
            else:
                logits = step(token)  # (B,) -> (B, V)
                token = sample_next(logits, temperature, top_k, top_p, None, noise and noise.next())
        return torch.stack(out, dim=1)

    def read_prompts(self, rows: list[Tensor], decoding: DecodeSettings, table: bool, sampler: str | None,
                     temperature: float) -> tuple[Tensor, Any, Route]:
        """The prompts ``rows`` ((T_b,) each) read: the logits after each one's last token (B, V), the stepper
        that goes on from there (its state the prompts'), and its route. Call in eval and inference mode.

        Short prompts of one length go through the onnxruntime step itself, the others through the fused encoder
        (:func:`~seqtk.nn.steppers.prompt_by_steps`); ``table``, ``sampler`` and ``temperature`` are the
        stepper's (:func:`~seqtk.nn.steppers.stepper`)."""
        batch = len(rows)
        if len({row.numel() for row in rows}) == 1 and prompt_by_steps(self, decoding, batch, rows[0].numel()):
            step, route = stepper(self, decoding, zero_state(self, batch), table, sampler, temperature)
            prompt = torch.stack(rows)  # (B, T): short prompts through the step itself, one token at a time
            for t in range(prompt.size(1)):
                logits = step(prompt[:, t])  # (B,) -> (B, V)
            return logits.clone(), step, route  # the step reuses its buffer
        logits, hidden = self._prefill(rows, decoding)  # (B, V), each layer's (h[, c]) of (B, H)
        step, route = stepper(self, decoding, hidden, table, sampler, temperature)
        return logits, step, route

    def _prefill(self, rows: list[Tensor], decoding: DecodeSettings) -> tuple[Tensor, list[tuple[Tensor, ...]]]:
        """The prompts through the fused encoder: the last logits (B, V) and each layer's state, rows in the
        prompts' order. Prompts of several lengths go as one right-padded batch with their lengths (the encoder
        gives each row its state at its own last token, packing where an LSTM's cell state needs it); a model
        that scores on int8 weights steps instead, rows of one length together."""
        if len({row.numel() for row in rows}) > 1 and not decoding.quantize:
            return self._prefill_ragged(rows)
        groups: dict[int, list[int]] = {}
        for i, row in enumerate(rows):
            groups.setdefault(row.numel(), []).append(i)
        order, logits, hidden = [], [], []
        for members in groups.values():
            part, state = self._logits(torch.stack([rows[i] for i in members]), None, decoding)  # (B_g, T) -> (B_g, T, V)
            order += members
            logits.append(part[:, -1])
            hidden.append(step_state(state))
        if len(groups) == 1:
            return logits[0], hidden[0]
        back = torch.argsort(torch.tensor(order, device=logits[0].device))  # the grouped rows back in order
        layers = [tuple(torch.cat(parts, dim=0)[back] for parts in zip(*per_group)) for per_group in zip(*hidden)]
        return torch.cat(logits, dim=0)[back], layers

    def _prefill_ragged(self, rows: list[Tensor]) -> tuple[Tensor, list[tuple[Tensor, ...]]]:
        # B prompts (T_b,) -> the logits after each one's last token (B, V), each layer's state (B, H) parts
        lengths = torch.tensor([row.numel() for row in rows], device=rows[0].device)
        ids = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True)  # (B, T_max), right-padded with id 0
        x = self.embedding(ids)  # (B, T) -> (B, T, E); eval mode: no dropout
        h, state = self.encoder(x, lengths, return_state=True)  # (B, T, H), each layer's state at each row's end
        last = at_step(h, lengths - 1).unsqueeze(1)  # (B, 1, H): each row's output at its last token
        return self.head(last)[:, 0], step_state(state)  # (B, 1, H) -> (B, V)

    def _prompt_rows(self, prompt_ids: Sequence[int] | Sequence[Sequence[int]] | Tensor) -> tuple[list[Tensor], bool]:
        """One (T_b,) tensor per prompt, and whether the call was batched."""
        device = self.head.weight.device
        ragged = not isinstance(prompt_ids, Tensor) and len(prompt_ids) > 0 and not isinstance(prompt_ids[0], int)
        if ragged and not all(isinstance(p, (Sequence, Tensor)) for p in prompt_ids):
            ragged = False  # let as_tensor say what is wrong
        if ragged:
            rows = [torch.as_tensor(p, dtype=torch.long, device=device) for p in prompt_ids]
            for n, row in enumerate(rows):
                if row.dim() != 1 or row.numel() == 0:
                    raise SeqtkValueError(
                        f"prompt {n} must be a non-empty list of token ids, got shape {tuple(row.shape)}",
                        fix="start every prompt from at least one token, e.g. its first character",
                    )
                check_ids(f"prompt {n}", row, self.vocab_size, dims=(1,))
            return rows, True
        idx = torch.as_tensor(prompt_ids, dtype=torch.long, device=device)
        if idx.dim() not in (1, 2) or idx.size(-1) == 0:
            raise SeqtkValueError(
                f"prompt_ids must be a non-empty list, (T,) or (B, T) tensor, got shape {tuple(idx.shape)}",
                fix="start from at least one token, e.g. the first character or a start-of-text id",
            )
        check_ids("prompt_ids", idx, self.vocab_size, dims=(1, 2))
        return (list(idx), True) if idx.dim() == 2 else ([idx], False)


def run_steps(batch: int) -> int:
    """How many steps ``generate`` runs at once in the graph when it must look at each token (a stop token, a
    callback): ``RUN_TOKENS`` tokens in all, 1 to 64 steps, so that streamed text comes in pieces of a few
    milliseconds and a stop wastes as little.

    >>> run_steps(1), run_steps(16), run_steps(64), run_steps(1000)
    (64, 32, 8, 1)
    """
    return max(1, min(64, RUN_TOKENS // batch))


def _init_uniform(embedding: nn.Embedding, bound: float) -> None:
    """Draw ``embedding``'s weights from uniform(-bound, bound), its padding row (if any) left at zero."""
    with torch.no_grad():
        nn.init.uniform_(embedding.weight, -bound, bound)
        if embedding.padding_idx is not None:
            embedding.weight[embedding.padding_idx].zero_()


def uniform_layers(
    cell: str, hidden_size: int, num_layers: int, dropout: float = 0.0, nonlinearity: str = "tanh"
) -> list[LayerSpec]:
    """``num_layers`` equal layers for :class:`CharLM`, with ``dropout`` between them.

    The last layer gets none: CharLM's own ``dropout`` already acts on the
    head's input, and two dropouts on one tensor would drop 1 - (1 - p)^2.

    >>> [spec.dropout for spec in uniform_layers("lstm", 64, 3, dropout=0.2)]
    [0.2, 0.2, 0.0]
    """
    return [
        LayerSpec(cell, hidden_size, dropout=dropout if n < num_layers - 1 else 0.0, nonlinearity=nonlinearity)
        for n in range(num_layers)
    ]


def check_causal(specs: Sequence[LayerSpec]) -> None:
    for n, spec in enumerate(specs, start=1):
        if spec.bidirectional or not spec.return_sequences:
            bad = "bidirectional=true" if spec.bidirectional else "return_sequences=false"
            raise SeqtkValueError(
                f"layer {n} {spec.describe()} has {bad}, but a language model predicts every next token "
                "from the past only",
                fix=f"set bidirectional=false and return_sequences=true on layer {n}",
            )
