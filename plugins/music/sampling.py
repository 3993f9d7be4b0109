"""Sampling whole tunes from the LM, optionally with the metre and key fixed.

A tune is the tokens between the tune start and end tokens. Every tune
seen in training starts with the same three header lines (M:, L:, K:), so the
header is built line by line in that order: a value given by the request
(``--meter``, ``--key``) is written in, a missing one is sampled from the
model within its field (``M:`` then characters up to the line break, or one
ABC header token of that field), so every tune has a header music21 can read.
The bodies are then sampled up to the end token, tunes whose headers have
the same length together as one batch. With a prompt, the prompt is the
start of every tune instead.

Sampling never touches the global RNG: it draws from a ``torch.Generator``
seeded from the request, so the same seed gives the same tunes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqtk.nn.lm import sample_next
from seqtk.runtime.device import eval_mode
from seqtk.text.vocab import Vocab
from seqtk_plugins.music.codec import AbcCodec, CharCodec

HEADER_ORDER = ("M", "L", "K")
MAX_HEADER_CHARS = 16
HEADER_TRIES = 5  # character header lines sampled before falling back to the most common value


@dataclass(frozen=True)
class Sampled:
    """One sampled tune: its normalised text, and whether the model ended it (not cut at the length limit)."""

    text: str
    finished: bool


@dataclass(frozen=True)
class SamplingOptions:
    max_tokens: int
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0


class TuneSampler:
    """Samples tunes from a model trained on ``<bos> tune <eos>`` sequences."""

    def __init__(
        self, model: nn.Module, vocab: Vocab, codec: CharCodec | AbcCodec, device: torch.device,
        known: dict[str, list[str]] | None = None,
    ) -> None:  # fmt: skip
        """``known`` maps M/L/K to the values seen in training, most common first: a sampled
        character header line must be one of them (else it is sampled again, then the most common)."""
        self.model, self.vocab, self.codec, self.device = model, vocab, codec, device
        self.known = known or {}
        assert vocab.bos_id is not None and vocab.eos_id is not None

    def sample(self, n: int, opts: SamplingOptions, headers: dict[str, str] | None = None, prompt: str = "") -> list[Sampled]:
        """``n`` tunes; ``headers`` maps M/K to fixed values, ``prompt`` is the start of every tune."""
        generator = torch.Generator(device=self.device).manual_seed(opts.seed)
        with eval_mode(self.model), torch.inference_mode():
            if prompt:
                return self._bodies([[self.vocab.bos_id, *self.vocab.encode(self.codec.tokens(prompt))]] * n, opts, generator)
            starts = [self._header(headers or {}, opts, generator) for _ in range(n)]
            out: dict[int, Sampled] = {}
            for length in sorted({len(s) for s in starts}):  # one batch per header length
                rows = [i for i, s in enumerate(starts) if len(s) == length]
                out.update(zip(rows, self._bodies([starts[i] for i in rows], opts, generator)))
            return [out[i] for i in range(n)]

    def _bodies(self, starts: list[list[int]], opts: SamplingOptions, generator: torch.Generator) -> list[Sampled]:
        prompt = torch.tensor(starts, dtype=torch.long, device=self.device)  # (B, T)
        budget = max(1, opts.max_tokens - prompt.size(1) + 1)
        new = self.model.generate(prompt, max_new_tokens=budget, temperature=opts.temperature, top_k=opts.top_k,
                                  top_p=opts.top_p, stop_id=self.vocab.eos_id, generator=generator)  # (B, N)  # fmt: skip
        return [self._decode(start[1:] + row) for start, row in zip(starts, new.tolist())]

    def _decode(self, ids: list[int]) -> Sampled:
        finished = self.vocab.eos_id in ids
        if finished:
            ids = ids[: ids.index(self.vocab.eos_id)]
        known = [i for i in ids if len(self.vocab.specials) <= i < self.vocab.num_known]  # no specials, no OOV
        return Sampled(self.codec.text(self.vocab.decode(known)), finished)

    # -- the header, line by line -------------------------------------------------------
    def _header(self, headers: dict[str, str], opts: SamplingOptions, generator: torch.Generator) -> list[int]:
        ids = [self.vocab.bos_id]
        for letter in HEADER_ORDER:
            if letter in headers:
                ids += self.vocab.encode(self.codec.header(letter, headers[letter]))
            elif isinstance(self.codec, AbcCodec):
                ids.append(self._next(ids, opts, generator, allowed=self._field_tokens(letter)))
            else:
                ids += self.vocab.encode(list(f"{letter}:"))
                ids += self._header_line(letter, ids, opts, generator)
        return ids

    def _header_line(self, letter: str, ids: list[int], opts: SamplingOptions, generator: torch.Generator) -> list[int]:
        known = self.known.get(letter)
        for _ in range(HEADER_TRIES):
            line = self._line(ids, opts, generator)
            if not known or self.codec.text(self.vocab.decode(line)).strip() in known:
                return line
        return self.vocab.encode(list(f"{known[0]}\n"))

    def _line(self, ids: list[int], opts: SamplingOptions, generator: torch.Generator) -> list[int]:
        newline = self.vocab.token_to_id("\n")
        line: list[int] = []
        while len(line) < MAX_HEADER_CHARS and (not line or line[-1] != newline):
            line.append(self._next(ids + line, opts, generator))
        if line[-1] != newline:
            line.append(newline)
        return line

    def _next(self, ids: list[int], opts: SamplingOptions, generator: torch.Generator, allowed: Tensor | None = None) -> int:
        logits, _, _ = self.model(torch.tensor([ids], dtype=torch.long, device=self.device))  # (1, T) -> (1, T, V)
        last = logits[:, -1]  # (1, V)
        if allowed is not None:
            last = last.masked_fill(~allowed, float("-inf"))
        return int(sample_next(last, opts.temperature, opts.top_k, opts.top_p, generator))

    def _field_tokens(self, letter: str) -> Tensor:
        allowed = torch.zeros(len(self.vocab), dtype=torch.bool, device=self.device)
        for token in self.vocab.tokens:
            if token.startswith(f"{letter}:"):
                allowed[self.vocab.token_to_id(token)] = True
        return allowed
