"""What ``seqtk export`` writes for the character language model: its step function.

One step takes a character id per row and the recurrent state, and returns
the next character's logits and the new state (:class:`seqtk.nn.traceable.LMStep`,
the equations ``seqtk generate`` steps with). An application feeds its prompt
one character at a time from a zero state, then samples: the README's Python
does it with numpy. ``vocab.json`` maps characters to ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from seqtk.nn.traceable import LMStep
from seqtk.tasks.task import ExportSpec

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from seqtk_plugins.textgen.task import TextGenTask


def export_spec(task: TextGenTask, model: nn.Module) -> ExportSpec:
    """The step function, the character vocabulary, and the README's text and code."""
    vocab = task.need("vocab")
    module = LMStep(model).eval()
    states = module.state_names()
    shapes = dict(zip(states, (shape for cell in module.cells for shape in cell.state_shapes())))

    def inputs(batch: int) -> tuple[torch.Tensor, ...]:
        # a state the model can reach (a few random characters from the zero state), not random numbers: an
        # sLSTM's h = o ⊙ c / n with a random n near 0 would magnify rounding far past what a real state does
        state = module.zero_state(batch)
        for _ in range(3):
            state = module(torch.randint(0, len(vocab), (batch,)), *state)[1:]
        return (torch.randint(0, len(vocab), (batch,)), *state)

    files = {
        "vocab.json": {
            "format": "seqtk-export-vocab",
            "version": 1,
            "tokenizer": {"kind": "char", "lowercase": False},
            "num_specials": len(vocab.specials),
            "num_oov_buckets": vocab.num_oov_buckets,
            "tokens": vocab.decode(range(vocab.num_known)),
            "prompt": task.prompt,
        }
    }
    return ExportSpec(
        module=module, example_inputs=inputs(3), check_inputs=inputs(5), input_names=("ids", *states),
        output_names=("logits", *(f"new_{name}" for name in states)),
        input_axes={name: {0: "batch"} for name in ("ids", *states)},
        files=files, signature=_signature(len(vocab), shapes), usage=_usage(shapes),
    )


def _signature(vocab_size: int, shapes: dict[str, tuple[int, ...]]) -> str:
    state = ", ".join(f"`{name}` (B, {', '.join(map(str, shape))})" for name, shape in shapes.items())
    return f"""\
One step of the language model: a character per row and the recurrent state in, the next character's logits and
the new state out.

Inputs: `ids` (B,) int64, then the state, float32: {state} (`h` per layer, `c` for an LSTM layer, `n`, `m` for an
xLSTM layer, whose mLSTM has no `h` and a matrix memory `c`). Zeros start a text.

Outputs: `logits` (B, {vocab_size}) float32 over the ids, then the new state under the same names with `new_` in
front (`new_h0`, ...), to pass to the next step.

A character's id is its index in `vocab.json`'s `tokens`; a character not there gets `len(tokens)` (the one OOV
bucket). Id 0 is padding and decodes to nothing; the OOV id decodes to U+FFFD. To continue a prompt, feed it one
character at a time from the zero state, then sample from each step's logits and feed the sample back. `seqtk
generate` starts from a line break when there is no prompt. The logits are seqtk's; a sample is not the one `seqtk
generate --seed` gives, since the random numbers differ."""


def _usage(shapes: dict[str, tuple[int, ...]]) -> str:
    """Python (after the README's ``run``) that generates text without seqtk."""
    return f'''\
import json

VOCAB = json.load(open(f"{{FOLDER}}/vocab.json", encoding="utf-8"))
IDS = {{token: i for i, token in enumerate(VOCAB["tokens"])}}
STATE_SHAPES = {shapes!r}


def zero_state(batch):
    return {{name: np.zeros((batch, *shape), dtype=np.float32) for name, shape in STATE_SHAPES.items()}}


def step(ids, state):
    """Next-character logits (B, V) after one character id per row, and the new state."""
    out = run(ids=np.asarray(ids, dtype=np.int64), **state)
    return out["logits"], {{name: out["new_" + name] for name in state}}


def decode(i):
    if i < VOCAB["num_specials"]:
        return ""
    return VOCAB["tokens"][i] if i < len(VOCAB["tokens"]) else "\\ufffd"


def generate(prompt="\\n", length=200, temperature=0.8, seed=0):
    """The prompt and `length` sampled characters after it (temperature 0: the most likely each time)."""
    rng, state = np.random.default_rng(seed), zero_state(1)
    for char in prompt:
        logits, state = step([IDS.get(char, len(IDS))], state)
    text = prompt
    for _ in range(length):
        if temperature == 0:
            i = int(logits[0].argmax())
        else:
            z = logits[0].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            i = int(rng.choice(len(p), p=p / p.sum()))
        text += decode(i)
        logits, state = step([i], state)
    return text


print(generate(VOCAB["prompt"], length=80))
'''
