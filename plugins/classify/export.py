"""What ``seqtk export`` writes for a classifier (``classify`` and its ``sentiment`` preset).

The exported model takes right-padded token ids (B, T) and the lengths (B,)
and returns the logits and the probabilities ``seqtk predict`` reports
(softmax, or one sigmoid per label when multi-label), the same for any
padding (:class:`seqtk.nn.traceable.PaddedEncoder`). A classifier that can
read a text in pieces (unidirectional RNN, GRU or LSTM layers, the head on the
final state: :func:`seqtk.nn.traceable.can_stream`, the sentiment preset's model)
also takes the recurrent state and returns the state after each text
(:class:`seqtk.nn.traceable.StreamingEncoder`), so an application streams a
text piece by piece; zeros start a text. ``vocab.json`` holds what
turns a text into ids as :func:`.inference.encode_texts` does: the cleaning,
the tokenizer, the tokens in id order and the OOV hash; the README's Python
does it with the standard library (and ``tokenizers`` for word and BPE
tokens).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkError
from seqtk.nn.traceable import PaddedEncoder, StreamingEncoder, can_stream
from seqtk.tasks.task import ExportSpec
from seqtk.text.vocab_io import OOV_HASH
from seqtk_plugins.classify.model import TextClassifier, pool

if TYPE_CHECKING:  # pragma: no cover
    from seqtk_plugins.classify.task import ClassifyTask


class ExportedClassifier(nn.Module):
    """:class:`TextClassifier`'s forward, branch-free, with the probabilities too.

    # ids (B, T) long, lengths (B,) long -> logits (B, C), probabilities (B, C)
    """

    def __init__(self, model: TextClassifier, multi_label: bool) -> None:
        super().__init__()
        self.embedding = model.embedding.embedding  # the plain table: no check that reads the ids' values
        self.encoder = PaddedEncoder(model.encoder)
        self.attention, self.pooling, self.head = model.attention, model.pooling, model.head
        self.pools = model.encoder.specs[-1].return_sequences
        self.one_logit, self.multi_label = model.one_logit, multi_label

    def forward(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(self.embedding(ids), lengths)  # (B, T) -> (B, T, E) -> (B, T, H) or (B, H)
        if self.pools:
            h = self.attention(h, lengths) if self.attention is not None else pool(h, lengths, self.pooling)  # -> (B, P): H, or 2H for mean_max
        logits = self.head(h)  # (B, C), or (B, 1) for two classes
        if self.one_logit:
            logits = torch.cat([torch.zeros_like(logits), logits], dim=1)  # -> (B, 2)
        return logits, torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1)


class StreamingClassifier(nn.Module):
    """:class:`ExportedClassifier` for a model that reads the final state: the initial state in, the state
    after each text out, too.

    # ids (B, T) long, lengths (B,) long, *state (B, H_l) -> logits (B, C), probabilities (B, C), *new state
    """

    def __init__(self, model: TextClassifier, multi_label: bool) -> None:
        super().__init__()
        self.embedding = model.embedding.embedding
        self.encoder = StreamingEncoder(model.encoder)
        self.head, self.one_logit, self.multi_label = model.head, model.one_logit, multi_label

    def forward(self, ids: Tensor, lengths: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        h, *new = self.encoder(self.embedding(ids), lengths, *state)  # (B, T) -> (B, T, E) -> (B, H), each (B, H_l)
        logits = self.head(h)  # (B, C), or (B, 1) for two classes
        if self.one_logit:
            logits = torch.cat([torch.zeros_like(logits), logits], dim=1)  # -> (B, 2)
        return (logits, torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1), *new)


def export_spec(task: ClassifyTask, model: TextClassifier) -> ExportSpec:
    """The classifier, its vocabulary and labels, and the README's text and code."""
    vocab, names, cfg = task.need("vocab"), task.need("label_names"), task.recipe.data
    streams = can_stream(model.encoder)
    module = (StreamingClassifier if streams else ExportedClassifier)(model, cfg.multi_label).eval()
    high = len(vocab)
    example = _inputs(module, torch.randint(1, high, (3, 6)), torch.tensor([6, 2, 4]))
    check = _inputs(module, torch.randint(1, high, (5, 11)), torch.tensor([11, 1, 7, 3, 11]))
    shapes = module.encoder.state_shapes() if streams else {}
    tokenizer = task.tokenizer
    kind = tokenizer.kind if tokenizer is not None else task.recipe.vocab.tokens
    lowercase = bool(getattr(tokenizer, "lowercase", task.recipe.vocab.lowercase))
    files: dict[str, Any] = {
        "vocab.json": {
            "format": "seqtk-export-vocab",
            "version": 1,
            "clean": {"replace_with_space": _br_pattern(), "flags": "IGNORECASE", "then": "strip"},
            "tokenizer": {"kind": kind, "lowercase": lowercase, **({"file": "tokenizer.json"} if kind == "bpe" else {})},
            "max_tokens": cfg.max_tokens,
            "keep": cfg.keep,
            "pad_id": vocab.pad_id,
            "num_oov_buckets": vocab.num_oov_buckets,
            "oov_hash": OOV_HASH,
            "tokens": vocab.decode(range(vocab.num_known)),
        },
        "labels.json": {"labels": list(names), "multi_label": cfg.multi_label},
    }
    if kind == "bpe":
        import json

        files["tokenizer.json"] = json.loads(tokenizer.hf_tokenizer.to_str())  # type: ignore[union-attr]
    return ExportSpec(
        module=module, example_inputs=example, check_inputs=check, input_names=("ids", "lengths", *shapes),
        output_names=("logits", "probabilities", *(f"new_{name}" for name in shapes)),
        input_axes={"ids": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, **{name: {0: "batch"} for name in shapes}},
        files=files, signature=_signature(len(names), cfg.multi_label) + _state_signature(shapes),
        usage=_usage(kind, lowercase, cfg, shapes), model_output=_logits,
        sequence_lengths="lengths" if streams else None,
    )


def _inputs(module: nn.Module, ids: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
    """``ids`` and ``lengths``, and for a streaming module a state it reaches by reading them from zeros."""
    if not isinstance(module, StreamingClassifier):
        return ids, lengths
    zeros = [torch.zeros(len(ids), *shape) for shape in module.encoder.state_shapes().values()]
    return (ids, lengths, *module(ids, lengths, *zeros)[2:])


def _logits(outputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return outputs[0]  # (B, C): what the model's forward returns (two classes too: its zero column first)


def _br_pattern() -> str:
    from seqtk_plugins.classify.corpus import _BR

    return _BR.pattern


def _signature(classes: int, multi_label: bool) -> str:
    squash = "one sigmoid per label (a label applies at 0.5 or more)" if multi_label else "the softmax over the labels"
    return f"""\
Inputs:

- `ids` (B, T) int64: each text's token ids, right-padded with 0 (`pad_id`) to the longest text's T;
- `lengths` (B,) int64: each text's number of ids, 1 to T. A text without tokens is one padding id, length 1.

Outputs:

- `logits` (B, {classes}) float32;
- `probabilities` (B, {classes}) float32: {squash}, column i for `labels.json`'s `labels[i]`.

Padding changes no output: a row gives the same numbers alone or in any batch.

From text to ids, as seqtk does it (`vocab.json`): replace each `clean.replace_with_space` match with a space and
strip; split into tokens with the `tokenizer`; a token's id is its index in `tokens`, and a token not there gets
`len(tokens) + bucket`, where `bucket = blake2b(utf8(token), digest_size=8)` read as a little-endian unsigned
integer, modulo `num_oov_buckets`; with `max_tokens` above 0 keep the first (`keep` = "first") or last that many ids."""


def _tokenizer_code(kind: str, lowercase: bool) -> str:
    """Python defining ``tokenize(text)`` as the tokenizer of this ``kind`` splits."""
    lower = "text.lower()" if lowercase else "text"
    if kind in ("char", "space"):
        return f"\n\ndef tokenize(text):\n    return {f'list({lower})' if kind == 'char' else f'{lower}.split()'}\n\n"
    if kind == "word":
        normalise = "text = normalizers.Lowercase().normalize_str(text)\n    " if lowercase else ""
        return (
            "\nfrom tokenizers import normalizers, pre_tokenizers\n\n"
            "SPLIT = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])\n\n\n"
            f"def tokenize(text):\n    {normalise}return [word for word, _ in SPLIT.pre_tokenize_str(text)]\n\n"
        )
    if kind == "bpe":
        return (
            "\nfrom tokenizers import Tokenizer\n\n"
            'BPE = Tokenizer.from_file(f"{FOLDER}/tokenizer.json")\n\n\n'
            "def tokenize(text):\n    return BPE.encode(text, add_special_tokens=False).tokens\n\n"
        )
    raise SeqtkError(
        f"the classifier's tokenizer '{kind}' has no export: the README could not say how it splits a text",
        fix="train with vocab.tokens = \"word\", \"char\" or \"bpe\", or use the checkpoint with seqtk.load()",
    )


def _state_signature(shapes: dict[str, tuple[int, ...]]) -> str:
    if not shapes:
        return ("\n\nThe model reads each text whole, so it takes no recurrent state: a text can be read in pieces only by "
                "unidirectional RNN, GRU and LSTM layers whose final state the head reads (a backward direction, or "
                "pooling over every step, needs the whole text).")
    state = ", ".join(f"`{name}` (B, {', '.join(map(str, shape))})" for name, shape in shapes.items())
    return f"""

The model reads a text left to right and classifies its final state, so it also takes the recurrent state after
`lengths`, float32: {state} (`h` per layer, and `c` after an LSTM layer's `h`; zeros start a text), and returns
the state after each row's own last id under the same names with `new_` in front. To read a text in pieces (a stream), pass each piece's ids (at least
one) with the state the last piece returned: the outputs after the last piece are the whole text's. `max_tokens`
then applies to what you feed, not to each piece."""


def _state_code(shapes: dict[str, tuple[int, ...]]) -> str:
    """Python defining ``read(ids, lengths, state)`` for the model's inputs (a state, for a streaming model)."""
    if not shapes:
        return '''

def read(ids, lengths):
    """The probabilities of right-padded ids (B, T) with lengths (B,)."""
    return run(ids=ids, lengths=lengths)["probabilities"], None
'''
    return f'''
STATE_SHAPES = {shapes!r}


def zero_state(batch):
    return {{name: np.zeros((batch, *shape), dtype=np.float32) for name, shape in STATE_SHAPES.items()}}


def read(ids, lengths, state=None):
    """The probabilities after reading right-padded ids (B, T) with lengths (B,) on from `state` (None: from the
    start of the texts), and the state after each row's ids, to read its next piece from."""
    out = run(ids=ids, lengths=lengths, **(zero_state(len(ids)) if state is None else state))
    return out["probabilities"], {{name: out["new_" + name] for name in STATE_SHAPES}}
'''


def _usage(kind: str, lowercase: bool, cfg: Any, shapes: dict[str, tuple[int, ...]]) -> str:
    """Python (after the README's ``run``) that classifies texts without seqtk, for the vocab's tokenizer."""
    tokenizer_code = _tokenizer_code(kind, lowercase) + _state_code(shapes) + "\n"
    cut = ""
    if cfg.max_tokens:
        cut = f"[:{cfg.max_tokens}]" if cfg.keep == "first" else f"[-{cfg.max_tokens}:]"
    if cfg.multi_label:
        pick = ('[{"labels": [LABELS[i] for i in np.flatnonzero(p >= 0.5)], '
                '"probabilities": [float(q) for q in p[p >= 0.5]]} for p in probabilities]')
    else:
        pick = '[{"label": LABELS[int(p.argmax())], "probability": float(p.max())} for p in probabilities]'
    return f'''\
import hashlib
import json
import re
{tokenizer_code}
VOCAB = json.load(open(f"{{FOLDER}}/vocab.json", encoding="utf-8"))
LABELS = json.load(open(f"{{FOLDER}}/labels.json", encoding="utf-8"))["labels"]
IDS = {{token: i for i, token in enumerate(VOCAB["tokens"])}}
BREAK = re.compile(VOCAB["clean"]["replace_with_space"], re.IGNORECASE)


def token_id(token):
    """The token's id; an unknown token gets its OOV bucket's, after the known ids."""
    if token in IDS:
        return IDS[token]
    digest = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return len(IDS) + int.from_bytes(digest, "little") % VOCAB["num_oov_buckets"]


def encode(texts):
    """Right-padded ids (B, T) and lengths (B,), as seqtk encodes texts."""
    rows = [[token_id(t) for t in tokenize(BREAK.sub(" ", text).strip())]{cut} or [VOCAB["pad_id"]] for text in texts]
    width = max(len(row) for row in rows)
    ids = np.array([row + [VOCAB["pad_id"]] * (width - len(row)) for row in rows], dtype=np.int64)
    return ids, np.array([len(row) for row in rows], dtype=np.int64)


def classify(texts):
    """What `seqtk predict` reports for each text."""
    ids, lengths = encode(texts)
    probabilities = read(ids, lengths)[0]
    return {pick}


print(classify(["What time is it?", "It may rain later"]))
'''
