"""What ``seqtk export`` writes for the language model: its step function.

One step takes a token id per row (a character, a word or a subword) and the
recurrent state, and returns the next token's logits and the new state (the
core's :func:`seqtk.tasks.lm_export.lm_step_spec`, which ``music`` exports
too). An application feeds its prompt one token at a time from a zero state,
then samples: the README's Python does it with numpy. ``vocab.json`` maps
tokens to ids; a subword model also writes its ``tokenizer.json``, which the
README reads with Hugging Face ``tokenizers``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from seqtk.tasks.lm_export import lm_step_spec
from seqtk.tasks.task import ExportSpec

if TYPE_CHECKING:  # pragma: no cover
    from seqtk_plugins.textgen.task import TextGenTask
    from torch import nn


def export_spec(task: TextGenTask, model: nn.Module) -> ExportSpec:
    """The step function, the vocabulary (and a subword model's tokenizer), and the README's text and code."""
    vocab, kind = task.need("vocab"), task.kind
    files: dict[str, Any] = {}
    tokenizer: dict[str, Any] = {"kind": kind, "lowercase": False}
    if kind == "bpe":
        tokenizer["file"] = "tokenizer.json"
        files["tokenizer.json"] = json.loads(task.line_tokens().bpe.hf_tokenizer.to_str())  # type: ignore[attr-defined]
    vocab_file = {
        "format": "seqtk-export-vocab",
        "version": 1,
        "tokenizer": tokenizer,
        "num_specials": len(vocab.specials),
        "num_oov_buckets": vocab.num_oov_buckets,
        "tokens": vocab.decode(range(vocab.num_known)),
        "prompt": task.prompt,
    }
    if kind == "char":
        return lm_step_spec(model, len(vocab), vocab_file, ABOUT_CHARACTERS, USAGE)
    return lm_step_spec(model, len(vocab), vocab_file, about_words(kind), words_usage(kind), files)


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


def about_words(kind: str) -> str:
    """The README's paragraph on a word or subword model's tokens."""
    token = ("a word (each line split on whitespace, as seqtk reads the text)" if kind == "word" else
             "a subword piece of `tokenizer.json`'s byte-pair encoding (Hugging Face `tokenizers` splits each line; "
             "a piece that continues its word starts with `##`)")  # fmt: skip
    return f"""\
A token is {token}. Its id is its index in `vocab.json`'s `tokens`; a token not there is `<unk>` (id 2). Id 0 is
padding, and `<eos>` (id 1) ends every line. seqtk starts each text after an `<eos>`, the start of a sentence: feed
`<eos>`, then the prompt's tokens, from the zero state, then sample from each step's logits and feed the sample
back. The logits are seqtk's; a sample is not the one `seqtk generate --seed` gives, since the random numbers
differ."""


def words_usage(kind: str) -> str:
    """The README's Python after ``sample_ids``: ``tokenize``, ``encode``, ``decode`` and ``generate`` for words
    (``kind`` word) or BPE subwords (``kind`` bpe)."""
    if kind == "word":
        split = "def tokenize(line):\n    return line.split()\n"
        glued = "False"
    else:
        split = ('from tokenizers import Tokenizer\n\nBPE = Tokenizer.from_file(f"{FOLDER}/tokenizer.json")\n\n\n'
                 "def tokenize(line):\n    return BPE.encode(line, add_special_tokens=False).tokens\n")  # fmt: skip
        glued = 'token.startswith("##")'
    return f'''\
PAD, EOS, UNK = 0, 1, 2


{split}

def encode(text):
    """The ids of `text`'s tokens, `<eos>` at each line break; a token not in the vocabulary is `<unk>`."""
    lines, ids = text.split("\\n"), []
    for n, line in enumerate(lines):
        ids += [IDS.get(token, UNK) for token in tokenize(line)]
        if n < len(lines) - 1:
            ids.append(EOS)
    return ids


def decode(ids, line_start=True):
    """Tokens back to text: words apart by spaces, `<eos>` a line break (line_start: the text so far ends a line)."""
    out = []
    for i in ids:
        if i == EOS:
            out.append("\\n")
            line_start = True
        elif i != PAD:
            token = VOCAB["tokens"][i]
            glued = {glued}
            piece = token[2:] if glued else token
            out.append(piece if glued or line_start else " " + piece)
            line_start = False
    return "".join(out)


def generate(prompt="", length=30, temperature=0.8, seed=0):
    """The prompt and `length` sampled tokens after it (temperature 0: the most likely each time)."""
    ids = sample_ids([EOS] + encode(prompt), length, temperature, seed)
    return prompt + decode(ids, line_start=prompt == "" or prompt.endswith("\\n"))


print(generate(VOCAB["prompt"], length=30))
'''
