"""Generation whose rows come and go between steps (continuous batching), as ``seqtk serve`` streams text.

:meth:`CharLM.generate` runs a fixed batch from start to end: a request that arrives while it runs waits
for all of it. A :class:`RollingBatch` instead steps the rows it holds together, one token per
:meth:`~RollingBatch.step`, and takes a new row between any two steps (:meth:`~RollingBatch.add` reads the
prompt on its own and picks the row's first token); a row leaves when it has shown its tokens, or when
:meth:`~RollingBatch.drop` takes it out.

Each row samples from its own generator, with the noise a call with that prompt alone would draw, so a row
gives what ``lm.generate(prompt, n, generator=g)`` gives alone however the batch around it changes. (The
products over a batch may round differently from those over one row: greedy decoding of a near-tie can then
pick the other token, as in any batched generation. On int8 weights each step quantizes its rows' activations
with one scale, so there the other rows move a row's logits a little more.)

>>> from seqtk.nn.lm import CharLM, uniform_layers
>>> lm = CharLM(12, 8, uniform_layers("gru", 16, 1)).eval()
>>> rolling = RollingBatch(lm, temperature=0)
>>> first = rolling.add(torch.tensor([1, 2]), 3)
>>> token = first.token  # picked from the prompt's logits, shown at the next step
>>> rolling.step() == [(first, token)]
True
>>> second = rolling.add(torch.tensor([5]), 1)  # joins the running batch
>>> [row is second for row, _ in rolling.step()], len(rolling)  # second showed its one token and left
([False, True], 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkValueError
from seqtk.nn.lm_checks import check_sampling
from seqtk.nn.sampling import RaceNoise, RowNoise, sample_next
from seqtk.nn.steppers import (
    DecodeSettings,
    EagerStepper,
    Route,
    StepState,
    prompt_by_steps,
    stepper,
)
from seqtk.runtime.device import eval_mode


@dataclass(eq=False)
class Row:
    """One row of a :class:`RollingBatch`: the token it shows at the next step and how many it has left to show
    (``left`` counts that one). ``state`` holds the row's recurrent state until it joins the stepper."""

    token: int
    left: int
    noise: RaceNoise | None = field(repr=False)
    state: list[StepState] | None = field(default=None, repr=False)


class RollingBatch:
    """Rows of ``lm`` (a :class:`~seqtk.nn.lm.CharLM`) stepped together, joining and leaving between steps.

    Every row samples with the same ``temperature``, ``top_k`` and ``top_p`` (a server keeps one rolling batch
    per setting) through the stepper ``decoding`` chooses (default ``lm.decoding``). The caller keeps the model
    in eval mode while rows are open; each call runs under ``torch.inference_mode``.
    """

    def __init__(self, lm: nn.Module, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0,
                 decoding: DecodeSettings | None = None) -> None:  # fmt: skip
        check_sampling(1, temperature, top_k, top_p)
        self.lm, self.temperature, self.top_k, self.top_p = lm, temperature, top_k, top_p
        self.decoding = decoding or lm.decoding
        self.greedy = temperature < torch.finfo(lm.head.weight.dtype).tiny
        filtered = bool(top_k) or top_p < 1.0
        self.sampler = None if filtered else "greedy" if self.greedy else "race" if temperature == 1.0 else "race_tempered"
        self.rows: list[Row] = []  # in the order they joined
        self._stepper: Any = None
        self._stepped: list[Row] = []  # the stepper's rows, in its row order
        #: the route the stepper took (None before the first step with rows)
        self.route: Route | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, prompt_ids: Tensor | Sequence[int], max_new_tokens: int,
            generator: torch.Generator | None = None) -> Row:  # fmt: skip
        """A new row: ``prompt_ids`` ((T,) ids, T >= 1) read on its own and its first token picked; it shows
        that token at the next :meth:`step` and ``max_new_tokens - 1`` more after it. ``generator`` is the
        row's alone (None: torch's global one)."""
        check_sampling(max_new_tokens, self.temperature, self.top_k, self.top_p)
        if max_new_tokens < 1:
            raise SeqtkValueError(f"a row needs max_new_tokens >= 1, got {max_new_tokens}", fix="ask for 1 token or more")
        (prompt,), _ = self.lm._prompt_rows([prompt_ids])
        with eval_mode(self.lm), torch.inference_mode():
            logits, state = self._read(prompt)
            noise = None if self.greedy else RaceNoise(generator, (1, logits.size(1)), max_new_tokens, logits)
            token = sample_next(logits, self.temperature, self.top_k, self.top_p, None, noise and noise.next())
        row = Row(int(token[0]), max_new_tokens, noise, state)
        self.rows.append(row)
        return row

    def _read(self, prompt: Tensor) -> tuple[Tensor, list[StepState]]:
        """The prompt's last logits (1, V) and state, as generate() reads it: a short prompt through a step of its
        own (never a captured graph the batch's stepper may be), a longer one through the fused encoder."""
        if prompt_by_steps(self.lm, self.decoding, 1, prompt.numel()):
            logits, step, _ = self.lm.read_prompts([prompt], self.decoding, True, self.sampler, self.temperature)
            return logits, [tuple(part.clone() for part in layer) for layer in step.state()]
        logits, state = self.lm._prefill([prompt], self.decoding)  # (1, V), each layer's (h[, c]) of (1, H)
        return logits, [tuple(part.clone() for part in layer) for layer in state]

    def drop(self, row: Row) -> None:
        """Take ``row`` out (its client left); the others go on."""
        if row in self.rows:
            self.rows.remove(row)

    def step(self) -> list[tuple[Row, int]]:
        """Each row and the token it shows now, in the order the rows joined; then the rows with tokens left
        take one more step together, and those that showed their last token leave."""
        return [(row, tokens[0]) for row, tokens in self.run(1)]

    def run(self, steps: int) -> list[tuple[Row, list[int]]]:
        """:meth:`step` ``k`` times in one go, ``k`` being ``steps`` or the fewest tokens any row has left: each
        row and the ``k`` tokens it shows, in the order the rows joined. On the onnxruntime step the ``k``
        steps are one call (a ``Loop`` from 8 steps), so fewer calls run the same tokens; no row can join
        during them."""
        if not self.rows:
            return []
        count = max(1, min(steps, *(row.left for row in self.rows)))
        going_on = any(row.left > count for row in self.rows)
        with eval_mode(self.lm), torch.inference_mode():
            # the rows' next count - 1 tokens, and for rows that go on the one they show after those
            picks = self._advance(count if going_on else count - 1)  # (B, n)
        shown = []
        for i, row in enumerate(self.rows):
            tokens = [row.token, *picks[i, : count - 1].tolist()]
            shown.append((row, tokens))
            row.left -= count
            if row.left > 0:
                row.token = int(picks[i, count - 1])
        self.rows = [row for row in self.rows if row.left > 0]
        return shown

    def _advance(self, steps: int) -> Tensor:
        """``steps`` steps of every row from its pending token: the tokens picked (B, steps)."""
        if steps == 0:
            return torch.empty(len(self.rows), 0, dtype=torch.long)
        if self._stepped != self.rows:  # rows joined or left: one stepper over the rows now open
            self._restep()
        device = self.lm.head.weight.device
        token = torch.tensor([row.token for row in self.rows], device=device)  # (B,)
        noise = None if self.greedy else RowNoise.of([row.noise for row in self.rows])
        if self.sampler is not None and not isinstance(self._stepper, EagerStepper):
            return self._stepper.sample_run(token, steps, noise).cpu()  # (B,) -> (B, steps), picked in the step
        out = []
        for _ in range(steps):
            logits = self._stepper(token)  # (B,) -> (B, V)
            token = sample_next(logits, self.temperature, self.top_k, self.top_p, None, noise and noise.next())
            out.append(token)
        return torch.stack(out, dim=1).cpu()

    def _restep(self) -> None:
        """A stepper over the open rows: the state of those already stepped taken from the old stepper, the
        new rows' own."""
        if self._stepper is not None and self._stepped:
            old = self._stepper.state()  # per layer, parts of (B_old, H)
            at = {id(row): i for i, row in enumerate(self._stepped)}
            for row in self.rows:
                if row.state is None and id(row) in at:
                    i = at[id(row)]
                    row.state = [tuple(part[i : i + 1].clone() for part in layer) for layer in old]
        layers = zip(*(row.state for row in self.rows))
        state = [tuple(torch.cat(parts) for parts in zip(*per_row)) for per_row in layers]
        self._stepper, self.route = stepper(self.lm, self.decoding, state, True, self.sampler, self.temperature,
                                            shared=False)  # fmt: skip
        self._stepped = list(self.rows)
        for row in self.rows:
            row.state = None
