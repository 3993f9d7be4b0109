"""What ``seqtk export`` writes for the character language model: its step function.

One step takes a character id per row and the recurrent state, and returns
the next character's logits and the new state (the core's
:func:`seqtk.tasks.lm_export.lm_step_spec`, which ``music`` exports too). An
application feeds its prompt one character at a time from a zero state, then
samples: the README's Python does it with numpy. ``vocab.json`` maps
characters to ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqtk.tasks.lm_export import lm_step_spec
from seqtk.tasks.task import ExportSpec

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from seqtk_plugins.textgen.task import TextGenTask


def export_spec(task: TextGenTask, model: nn.Module) -> ExportSpec:
    """The step function, the character vocabulary, and the README's text and code."""
    vocab = task.need("vocab")
    vocab_file = {
        "format": "seqtk-export-vocab",
        "version": 1,
        "tokenizer": {"kind": "char", "lowercase": False},
        "num_specials": len(vocab.specials),
        "num_oov_buckets": vocab.num_oov_buckets,
        "tokens": vocab.decode(range(vocab.num_known)),
        "prompt": task.prompt,
    }
    return lm_step_spec(model, len(vocab), vocab_file, ABOUT_CHARACTERS, USAGE)


ABOUT_CHARACTERS = """\
A character's id is its index in `vocab.json`'s `tokens`; a character not there gets `len(tokens)` (the one OOV
bucket). Id 0 is padding and decodes to nothing; the OOV id decodes to U+FFFD. To continue a prompt, feed it one
character at a time from the zero state, then sample from each step's logits and feed the sample back. `seqtk
generate` starts from a line break when there is no prompt. The logits are seqtk's; a sample is not the one `seqtk
generate --seed` gives, since the random numbers differ."""


USAGE = '''\
def decode(i):
    if i < VOCAB["num_specials"]:
        return ""
    return VOCAB["tokens"][i] if i < len(VOCAB["tokens"]) else "\\ufffd"


def generate(prompt="\\n", length=200, temperature=0.8, seed=0):
    """The prompt and `length` sampled characters after it (temperature 0: the most likely each time)."""
    ids = sample_ids([IDS.get(char, len(IDS)) for char in prompt], length, temperature, seed)
    return prompt + "".join(decode(i) for i in ids)


print(generate(VOCAB["prompt"], length=80))
'''
