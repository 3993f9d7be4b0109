"""One step of a :class:`~seqtk.nn.lm.CharLM` on static buffers, captured in a CUDA graph on a GPU.

At batch 1 a GPU spends a generated character launching ~25 small kernels that
wait on each other: an H200 ran ``textgen_gpu``'s 3x1024 LSTM at ~0.65 ms a
character, about 3% of what reading its weights takes (issue 31). A CUDA graph
records the step's kernels once and replays them with one launch. The step
reads the token, the state, and the race's noise from buffers that never move,
and writes the logits, the new state and the next token into them (the state
in place, once it has been read).

The math is :class:`seqtk.nn.cell_step.CellStep`'s (the eager route's), so a
captured step gives the eager step's numbers on the same device; sampling is
:func:`seqtk.nn.lm.sample_next`'s race on noise drawn from the caller's
generator outside the graph, so a seed gives the eager route's sample.

On a CPU nothing is captured and the same buffer code runs as it is (the dry
run the tests check against the eager route).

# token (B,) -> logits (B, V) / next token (B,)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from seqtk.nn.cell_step import CellStep
from seqtk.nn.sampling import sample_next
from seqtk.nn.step_graph import TABLE_MAX_FLOATS

StepState = tuple[Tensor, ...]
WARMUP_STEPS = 3  # cuBLAS and the allocator settle before capture, on a side stream as CUDA graphs require


class GraphStepper:
    """A CharLM step on static buffers: captured on CUDA, run as is elsewhere."""

    def __init__(self, lm: nn.Module, state: list[StepState], sampler: str | None = None,
                 temperature: float = 1.0) -> None:  # fmt: skip
        first = state[0][0]
        batch, device = first.size(0), first.device
        self.lm, self.sampler, self.temperature = lm, sampler, float(temperature)
        self.steps = [CellStep(rnn) for rnn in lm.encoder.layers]
        rows = lm.vocab_size * self.steps[0].cell.weight_ih.size(0)
        # the first layer's input as a row lookup of the projected vocabulary, while that table stays small
        self.table = self.steps[0].project(lm.embedding.weight) if rows <= TABLE_MAX_FLOATS else None
        self.token = torch.zeros(batch, dtype=torch.long, device=device)
        self.hidden = [tuple(part.detach().clone() for part in layer) for layer in state]
        dtype = lm.head.weight.dtype  # the eager route samples in the model's dtype too
        self.logits = torch.zeros(batch, lm.vocab_size, device=device, dtype=dtype)
        self.noise = torch.ones(batch, lm.vocab_size, device=device, dtype=dtype)
        self.next_token = torch.zeros(batch, dtype=torch.long, device=device)
        self.graph = self._capture() if device.type == "cuda" else None

    @property
    def captured(self) -> bool:
        return self.graph is not None

    def _run(self) -> None:
        """The step, from the buffers into the buffers."""
        first = self.steps[0]
        h = (self.table.index_select(0, self.token) if self.table is not None
             else first.project(self.lm.embedding(self.token)))  # (B,) -> (B, G)  # fmt: skip
        for i, step in enumerate(self.steps):
            h, new = step(h if i == 0 else step.project(h), self.hidden[i])  # (B, G) -> (B, H)
            for buffer, part in zip(self.hidden[i], new):
                buffer.copy_(part)
        self.logits.copy_(self.lm.head(h))  # (B, H) -> (B, V)
        if self.sampler is not None:  # sample_next's pick, on the noise buffer
            temperature = 0.0 if self.sampler == "greedy" else self.temperature
            self.next_token.copy_(sample_next(self.logits, temperature, noise=self.noise))
            self.token.copy_(self.next_token)  # fed next time, unless the caller feeds another token

    def _capture(self) -> Any:
        saved = [tuple(part.clone() for part in layer) for layer in self.hidden]
        device = self.token.device
        with torch.cuda.device(device):  # the model's GPU, which need not be the current one
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(WARMUP_STEPS):
                    self._run()
            torch.cuda.current_stream(device).wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._run()
        self._restore(saved)  # warm-up and capture ran the step: the state goes back to the prompt's
        return graph

    def reset(self, state: list[StepState]) -> None:
        """Start again from ``state`` (each layer's parts, shaped as the buffers): a kept capture is reused."""
        self._restore([tuple(part.detach() for part in layer) for layer in state])

    def _restore(self, saved: list[StepState]) -> None:
        for buffers, parts in zip(self.hidden, saved):
            for buffer, part in zip(buffers, parts):
                buffer.copy_(part)

    def _replay(self) -> None:
        if self.graph is None:
            self._run()
            return
        with torch.cuda.device(self.token.device):
            self.graph.replay()

    def state(self) -> list[StepState]:
        return [tuple(part.clone() for part in layer) for layer in self.hidden]

    def __call__(self, token: Tensor) -> Tensor:
        # (B,) -> (B, V): valid until the next call
        self.token.copy_(token)
        self._replay()
        return self.logits

    def sample(self, token: Tensor, noise: Tensor | None) -> Tensor:
        # (B,), (B, V) -> (B,): the next token, picked in the step
        self.token.copy_(token)
        if noise is not None:
            self.noise.copy_(noise)
        self._replay()
        return self.next_token.clone()

    def sample_run(self, token: Tensor, steps: int, noise: Any) -> Tensor:
        """``steps`` tokens after ``token``, each picked in the step and fed back (no stop token, no callback).

        # (B,) -> (B, steps)
        """
        out = torch.empty(token.numel(), steps, dtype=torch.long, device=token.device)
        self.token.copy_(token)  # later tokens: the step feeds its own pick back
        for t in range(steps):
            if noise is not None:
                self.noise.copy_(noise.next())
            self._replay()
            out[:, t] = self.next_token
        return out
