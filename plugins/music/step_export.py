"""What ``seqtk export`` writes for the tune model: its step function, as textgen's.

One step takes a token id per row and the recurrent state, and returns the
next token's logits and the new state (the core's
:func:`seqtk.tasks.lm_export.lm_step_spec`). ``vocab.json`` holds the tokens in
id order, the ids of ``<bos>`` and ``<eos>``, and for ``abc`` tokens the two
patterns that cut a tune into tokens (:mod:`.codec`), so the README's Python
tokenizes a prompt, samples a tune until its end token and writes it back as
ABC text without seqtk. (The files ``seqtk generate --out`` writes are
:mod:`.export`'s.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seqtk.tasks.lm_export import lm_step_spec
from seqtk.tasks.task import ExportSpec
from seqtk_plugins.music.codec import _BODY_TOKEN, _HEADER

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from seqtk_plugins.music.task import MusicTask


def export_spec(task: MusicTask, model: nn.Module) -> ExportSpec:
    """The step function, the token vocabulary, and the README's text and code."""
    vocab = task.need("vocab")
    vocab_file = {
        "format": "seqtk-export-vocab",
        "version": 1,
        "tokenizer": {"kind": task.codec_kind, "header": _HEADER.pattern, "body": _BODY_TOKEN.pattern},
        "num_specials": len(vocab.specials),
        "bos_id": vocab.bos_id,
        "eos_id": vocab.eos_id,
        "num_oov_buckets": vocab.num_oov_buckets,
        "tokens": vocab.decode(range(vocab.num_known)),
    }
    return lm_step_spec(model, len(vocab), vocab_file, ABOUT_TOKENS, USAGE)


ABOUT_TOKENS = """\
The model was trained on tunes written as `<bos>` (`bos_id`), the tune's tokens, `<eos>` (`eos_id`). A token's
id is its index in `vocab.json`'s `tokens`; a token not there gets `len(tokens)` (the one OOV bucket). With
`tokenizer.kind` "chars" a token is a character; with "abc" a whole header line before the `K:` line (`M:6/8`), a
header line after it as an inline field (`[K:D]`), or a body symbol (`tokenizer.body` finds them in each body
line: notes with their lengths, bar lines, chord brackets, ...). To write a tune, feed `<bos>` and the tokens of
any start of it, then sample until `<eos>`. `seqtk generate` also keeps the header lines to values seen in
training; the README's `generate` samples them freely. The logits are seqtk's; a sample is not the one `seqtk
generate --seed` gives, since the random numbers differ."""


USAGE = '''\
import re

KIND = VOCAB["tokenizer"]["kind"]
HEADER, BODY = re.compile(VOCAB["tokenizer"]["header"]), re.compile(VOCAB["tokenizer"]["body"])


def tokens(text):
    """A tune's tokens, as seqtk cuts them."""
    if KIND == "chars":
        return list(text)
    out, in_header = [], True
    for line in text.split("\\n"):
        if HEADER.match(line):
            out.append(line.strip() if in_header else f"[{line.strip()}]")  # a key change mid-tune is inline
            in_header = in_header and not line.startswith("K:")
        else:
            out.extend(BODY.findall(line))
    return out


def text(ids):
    """The ABC text of token ids, as seqtk writes a sampled tune (specials and the OOV id dropped)."""
    toks = [VOCAB["tokens"][i] for i in ids if VOCAB["num_specials"] <= i < len(IDS)]
    if KIND == "chars":
        return "".join(toks)
    n = 0
    while n < len(toks) and HEADER.match(toks[n]):
        n += 1
    parts = []
    for token in (f"[{t}]" if HEADER.match(t) else t for t in toks[n:]):
        if parts and BODY.findall(parts[-1] + token) != [parts[-1], token]:
            parts.append(" ")  # two tokens that would read back as one
        parts.append(token)
    return "\\n".join(toks[:n] + (["".join(parts)] if parts else [])) + "\\n"


def generate(prompt="", length=1000, temperature=0.8, seed=0):
    """A tune: the prompt (any start of one, e.g. "M:6/8\\\\nK:G\\\\n") and what the model samples after it, up to
    its end token or `length` tokens."""
    start = [VOCAB["bos_id"]] + [IDS.get(t, len(IDS)) for t in tokens(prompt)]
    ids = sample_ids(start, length, temperature, seed, stop=VOCAB["eos_id"])
    return text(start[1:] + [i for i in ids if i != VOCAB["eos_id"]])


print(generate(length=120))
'''
