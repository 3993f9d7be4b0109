"""The exported step of a token language model, for the tasks that export one (``textgen``, ``music``).

One step takes a token id per row and the recurrent state, and returns the
next token's logits and the new state (:class:`seqtk.nn.traceable.LMStep`,
the equations ``seqtk generate`` steps with), so an application streams: it
keeps the state between calls. The task adds what its tokens are (the
``vocab.json`` entries, a paragraph for the README, and the Python that turns
text into ids and back); the README's shared Python steps and samples with
numpy (:func:`step_usage`).

>>> from seqtk.nn.layers import LayerSpec
>>> from seqtk.nn.lm import CharLM
>>> lm = CharLM(12, 4, [LayerSpec("lstm", 6), LayerSpec("lstm", 6)]).eval()
>>> spec = lm_step_spec(lm, 12, {"tokens": []}, "", "")
>>> spec.input_names, spec.output_names[:2]
(('ids', 'h0', 'c0', 'h1', 'c1'), ('logits', 'new_h0'))
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqtk.nn.traceable import LMStep
from seqtk.tasks.task import ExportSpec


def lm_step_spec(model: nn.Module, vocab_size: int, vocab_file: dict[str, Any], about_tokens: str, usage: str,
                 files: dict[str, Any] | None = None) -> ExportSpec:
    """The step of ``model`` (a :class:`~seqtk.nn.lm.CharLM`) over ``vocab_size`` ids, with ``vocab.json``
    holding ``vocab_file`` (and ``files``, more JSON files by name); ``about_tokens`` (Markdown) follows the
    inputs and outputs in the README, and ``usage`` (Python) follows :func:`step_usage`'s ``zero_state``,
    ``step`` and ``sample_ids``."""
    module = LMStep(model).eval()
    states = module.state_names()
    shapes = state_shapes(module)

    def inputs(batch: int) -> tuple[torch.Tensor, ...]:
        # a state the model can reach (a few random tokens from the zero state), not random numbers: an
        # sLSTM's h = o ⊙ c / n with a random n near 0 would magnify rounding far past what a real state does
        state = module.zero_state(batch)
        for _ in range(3):
            state = module(torch.randint(0, vocab_size, (batch,)), *state)[1:]
        return (torch.randint(0, vocab_size, (batch,)), *state)

    return ExportSpec(
        module=module, example_inputs=inputs(3), check_inputs=inputs(5), input_names=("ids", *states),
        output_names=("logits", *(f"new_{name}" for name in states)),
        input_axes={name: {0: "batch"} for name in ("ids", *states)}, files={"vocab.json": vocab_file, **(files or {})},
        signature=step_signature(vocab_size, shapes, getattr(model, "adaptive", False)) + "\n\n" + about_tokens.strip(),
        usage=step_usage(shapes) + "\n\n" + usage.strip() + "\n",
    )


def state_shapes(module: LMStep) -> dict[str, tuple[int, ...]]:
    """Each state input's name and its shape after the batch axis."""
    return dict(zip(module.state_names(), (shape for cell in module.cells for shape in cell.state_shapes())))


def step_signature(vocab_size: int, shapes: dict[str, tuple[int, ...]], adaptive: bool = False) -> str:
    """The README's inputs and outputs of the step (``adaptive``: the head is an adaptive softmax, whose
    "logits" are log-probabilities)."""
    state = ", ".join(f"`{name}` (B, {', '.join(map(str, shape))})" for name, shape in shapes.items())
    return f"""\
One step of the language model: a token id per row and the recurrent state in, the next token's logits and the
new state out. Keep the state between calls to stream.

Inputs: `ids` (B,) int64, then the state, float32: {state} (`h` per layer, `c` for an LSTM layer, `n`, `m` for an
xLSTM layer, whose mLSTM has no `h` and a matrix memory `c`). Zeros start a text.

Outputs: `logits` (B, {vocab_size}) float32 over the ids{ADAPTIVE if adaptive else ""}, then the new state under the same names with `new_` in
front (`new_h0`, ...), to pass to the next step.

A batch of texts of different lengths steps together: row b's logits and state after its own last token are what
it gets alone, whatever the other rows hold (feed padding past a row's end and ignore what comes out)."""


ADAPTIVE = " (log-probabilities, as the model's head is an adaptive softmax; they sample as logits do)"


def step_usage(shapes: dict[str, tuple[int, ...]]) -> str:
    """Python (after the README's ``run``) defining ``VOCAB``, ``IDS``, ``zero_state``, ``step`` and ``sample_ids``."""
    return f'''\
import json

VOCAB = json.load(open(f"{{FOLDER}}/vocab.json", encoding="utf-8"))
IDS = {{token: i for i, token in enumerate(VOCAB["tokens"])}}
STATE_SHAPES = {shapes!r}


def zero_state(batch):
    return {{name: np.zeros((batch, *shape), dtype=np.float32) for name, shape in STATE_SHAPES.items()}}


def step(ids, state):
    """Next-token logits (B, V) after one token id per row, and the new state."""
    out = run(ids=np.asarray(ids, dtype=np.int64), **state)
    return out["logits"], {{name: out["new_" + name] for name in state}}


def sample_ids(start, length, temperature=0.8, seed=0, stop=None):
    """Up to `length` ids sampled after the ids `start` (fed from the zero state), ending early after `stop`
    (temperature 0: the most likely each time)."""
    rng, state, out = np.random.default_rng(seed), zero_state(1), []
    for i in start:
        logits, state = step([i], state)
    for _ in range(length):
        if temperature == 0:
            i = int(logits[0].argmax())
        else:
            z = logits[0].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            i = int(rng.choice(len(p), p=p / p.sum()))
        out.append(i)
        if i == stop:
            break
        logits, state = step([i], state)
    return out'''
