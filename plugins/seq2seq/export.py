"""What ``seqtk export`` writes for seq2seq: the encoder and one decoder step, as two model files.

``encoder`` is :meth:`seqtk.nn.encoder_decoder.EncoderDecoder.start` on one
branch-free path: right-padded source ids (B, S) and lengths (B,) in; the
attention memory (the encoder's outputs, their projection and the mask of
real positions) and the decoder's first state out. ``decoder_step`` is
:meth:`~seqtk.nn.encoder_decoder.EncoderDecoder.step`: the previous token,
the state and the memory in; the next token's log-probabilities (the ids no
target ever had at -inf, as seqtk decodes), the new state and the attention
weights out. The state is batch first (``h``, ``c``: (B, L, H)), so that the
README's numpy greedy and beam search (:mod:`seqtk.nn.decoding`'s, written
again) reorder every array of it the same way. ``vocab.json`` holds both
sides' tokens, ``decoding.json`` the search settings the checkpoint decodes
with.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from seqtk.errors import SeqtkError
from seqtk.nn.attention import Memory
from seqtk.nn.ragged import at_step
from seqtk.nn.traceable import PaddedEncoder
from seqtk.tasks.task import ExportPart, ExportParts
from seqtk.text.vocab_io import OOV_HASH

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.nn.encoder_decoder import EncoderDecoder
    from seqtk.text.vocab import Vocab
    from seqtk_plugins.seq2seq.task import Seq2SeqTask

MEMORY = ("memory", "projected", "memory_mask")


def state_names(model: EncoderDecoder) -> tuple[str, ...]:
    """The decoder state's parts: ``h``, then ``c`` for an LSTM decoder, then ``feed`` with input feeding."""
    return ("h", *(("c",) if model.cfg.decoder_cell == "lstm" else ()), *(("feed",) if model.cfg.input_feeding else ()))


class ExportedEncoder(nn.Module):
    """:meth:`EncoderDecoder.start`, branch-free, with the decoder's state batch first.

    # source (B, S) long, lengths (B,) long -> memory (B, S, K), projected (B, S, A), memory_mask (B, S) bool,
    #   h (B, L, H)[, c (B, L, H)][, feed (B, H)]
    """

    def __init__(self, model: EncoderDecoder) -> None:
        super().__init__()
        cfg, top = model.cfg, model.encoder.specs[-1]
        self.embedding = model.source_embedding.embedding  # the plain table: no check that reads the ids' values
        self.encoder = PaddedEncoder(model.encoder)
        self.half = top.output_size if top.bidirectional else 0  # where the backward direction's features start
        self.bridge, self.key_proj = model.bridge, model.attention.key_proj
        self.shape = (2 if cfg.decoder_cell == "lstm" else 1, cfg.decoder_layers, cfg.decoder_dim)
        self.feed = cfg.input_feeding

    def forward(self, source: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        keys = self.encoder(self.embedding(source), lengths)  # (B, S) -> (B, S, E) -> (B, S, K)
        last = at_step(keys, lengths - 1)  # (B, K): the forward direction's state after the last real token
        summary = torch.cat([last[:, : self.half], keys[:, 0, self.half :]], dim=-1) if self.half else last  # (B, K)
        states = torch.tanh(self.bridge(summary)).unflatten(1, self.shape)  # (B, 1|2, L, H): h (and c)
        mask = torch.arange(source.size(1)) < lengths.unsqueeze(1)  # (B, S)
        feed = (torch.zeros_like(states[:, 0, 0]),) if self.feed else ()  # (B, H): no attentional vector yet
        return (keys, self.key_proj(keys), mask, *states.unbind(1), *feed)


class ExportedDecoderStep(nn.Module):
    """:meth:`EncoderDecoder.step` with the state and the memory as tensors, and log-probabilities out.

    # tokens (N,) long, h (N, L, H)[, c (N, L, H)][, feed (N, H)], memory (N, S, K), projected (N, S, A),
    #   memory_mask (N, S) bool -> log_probs (N, V) float, new_h[, new_c][, new_feed], weights (N, S)
    """

    def __init__(self, model: EncoderDecoder, banned: list[int]) -> None:
        super().__init__()
        self.embedding = model.target_embedding.embedding
        self.decoder, self.attention, self.combine, self.output = model.decoder, model.attention, model.combine, model.output
        self.lstm, self.feed = model.cfg.decoder_cell == "lstm", model.cfg.input_feeding
        never = torch.zeros(model.output.out_features, dtype=torch.bool)
        never[banned] = True
        self.register_buffer("banned", never)  # (V,): the ids seqtk's search never emits

    def forward(self, tokens: Tensor, *inputs: Tensor) -> tuple[Tensor, ...]:
        rnn = tuple(part.transpose(0, 1).contiguous() for part in inputs[: 2 if self.lstm else 1])  # (L, N, H) each
        y = self.embedding(tokens)  # (N,) -> (N, E_t)
        x = torch.cat([y, inputs[len(rnn)]], dim=-1) if self.feed else y  # (N, E_t [+ H])
        h, new = self.decoder(x.unsqueeze(1), rnn if self.lstm else rnn[0])  # (N, 1, H): one step of the fused kernel
        h = h.squeeze(1)  # (N, H)
        context, weights = self.attention(h, Memory(*inputs[-3:]))  # (N, K), (N, S)
        attentional = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))  # (N, H)
        logits = self.output(attentional).float().masked_fill(self.banned, float("-inf"))  # (N, V)
        state = tuple(part.transpose(0, 1) for part in (new if self.lstm else (new,)))  # (N, L, H) each
        return (torch.log_softmax(logits, dim=-1), *state, *((attentional,) if self.feed else ()), weights)


def export_spec(task: Seq2SeqTask, model: EncoderDecoder) -> ExportParts:
    """The encoder and the decoder step, both sides' vocabularies, the search settings, and the README."""
    source_vocab, target_vocab = task.need("source_vocab"), task.need("target_vocab")
    banned = [target_vocab.pad_id, target_vocab.bos_id, *range(target_vocab.num_known, len(target_vocab))]
    encoder, step = ExportedEncoder(model).eval(), ExportedDecoderStep(model, banned).eval()
    state = state_names(model)
    example, check = _sources(len(source_vocab), [5, 2, 4], 5, 0), _sources(len(source_vocab), [3, 7, 1, 5, 7], 9, 1)

    def step_inputs(sources: tuple[Tensor, Tensor], seed: int) -> tuple[Tensor, ...]:
        out = dict(zip(("memory", "projected", "memory_mask", *state), encoder(*sources)))
        g = torch.Generator().manual_seed(seed)
        tokens = torch.randint(0, len(target_vocab), (sources[1].numel(),), generator=g)
        return (tokens, *(out[name] for name in state), *(out[name] for name in MEMORY))

    batch, time = {0: "batch"}, {0: "batch", 1: "time"}
    parts = (
        ExportPart("encoder", "the encoder: source ids in, the attention memory and the decoder's first state out",
                   encoder, example, check, ("source", "lengths"), (*MEMORY, *state), {"source": time, "lengths": batch}),
        ExportPart("decoder_step", "one decoder step: the previous token, the state and the memory in, the next "
                   "token's log-probabilities, the new state and the attention weights out", step,
                   step_inputs(example, 2), step_inputs(check, 3), ("tokens", *state, *MEMORY),
                   ("log_probs", *(f"new_{name}" for name in state), "weights"),
                   {**{name: batch for name in ("tokens", *state)}, **{name: time for name in MEMORY}}),
    )  # fmt: skip
    return ExportParts(parts, _files(task, model, state), _signature(task, model, state),
                       _usage(task.need("source_tokenizer").kind, task.need("target_tokenizer").kind))  # fmt: skip


def _sources(size: int, lengths: list[int], width: int, seed: int) -> tuple[Tensor, Tensor]:
    """Random source ids (1..size-1) right-padded with 0 to ``width``, and the lengths."""
    g = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths)
    valid = torch.arange(width) < lengths_t.unsqueeze(1)  # (B, S)
    return torch.randint(1, size, (len(lengths), width), generator=g) * valid, lengths_t


def _files(task: Seq2SeqTask, model: EncoderDecoder, state: tuple[str, ...]) -> dict[str, Any]:
    source_vocab, target_vocab = task.need("source_vocab"), task.need("target_vocab")
    files: dict[str, Any] = {
        "vocab.json": {
            "format": "seqtk-export-vocab",
            "version": 1,
            "source": {**_side(task, "source", source_vocab), "max_length": task.recipe.data.max_source_length},
            "target": {**_side(task, "target", target_vocab), "bos_id": target_vocab.bos_id,
                       "eos_id": target_vocab.eos_id},
        },
        "decoding.json": {"beam": task.recipe.model.beam, "length_penalty": task.recipe.model.length_penalty,
                          "max_len": task.recipe.data.max_target_length, "state": list(state)},
    }  # fmt: skip
    for side in ("source", "target"):
        tokenizer = task.need(f"{side}_tokenizer")
        if tokenizer.kind == "bpe":
            files[f"{side}_tokenizer.json"] = json.loads(tokenizer.hf_tokenizer.to_str())
    return files


def _side(task: Seq2SeqTask, side: str, vocab: Vocab) -> dict[str, Any]:
    tokenizer = task.need(f"{side}_tokenizer")
    if tokenizer.kind not in _TOKENIZERS:
        raise SeqtkError(f"the {side} tokenizer '{tokenizer.kind}' has no export: the README could not say how it "
                         "splits a text", fix="train with char, space, word or bpe tokens, or use the checkpoint "
                         "with seqtk.load()")  # fmt: skip
    described = {"kind": tokenizer.kind, "lowercase": bool(getattr(tokenizer, "lowercase", False))}
    if tokenizer.kind == "bpe":
        described["file"] = f"{side}_tokenizer.json"
    return {"tokenizer": described, "pad_id": vocab.pad_id, "num_oov_buckets": vocab.num_oov_buckets,
            "oov_hash": OOV_HASH, "tokens": vocab.decode(range(vocab.num_known))}  # fmt: skip


def _signature(task: Seq2SeqTask, model: EncoderDecoder, state: tuple[str, ...]) -> str:
    cfg = model.cfg
    layers, hidden = cfg.decoder_layers, cfg.decoder_dim
    parts = [f"`h` (B, {layers}, {hidden})"] + [f"`c` (B, {layers}, {hidden})"] * ("c" in state)
    parts += [f"`feed` (B, {hidden}) (the last attentional vector, for input feeding)"] * ("feed" in state)
    keys, size = cfg.stack()[-1].output_dim, len(task.need("target_vocab"))
    return f"""\
Two model files, called in turn: `encoder` once per batch of sources, then `decoder_step` once per output token.

`encoder` inputs: `source` (B, S) int64, each source's token ids right-padded with 0 (`pad_id`) to the longest
source's S; `lengths` (B,) int64, each source's number of tokens, 1 to S (seqtk refuses a source longer than
`vocab.json`'s `source.max_length`).

`encoder` outputs: the attention memory, `memory` (B, S, {keys}) float32 (the encoder's outputs), `projected` (B, S, A)
float32 (what the attention's score precomputes from them) and `memory_mask` (B, S) bool (True on real tokens); then
the decoder's first state: {", ".join(parts)}, float32.

`decoder_step` inputs: `tokens` (N,) int64, the previous output token of each row (`target.bos_id` at the first
step); the state, {", ".join(f"`{name}`" for name in state)}; the memory, `memory`, `projected`, `memory_mask`.

`decoder_step` outputs: `log_probs` (N, {size}) float32, the next token's log-probabilities over the target ids
(padding, `<bos>` and the OOV buckets, which no target ever had, at -inf as seqtk decodes); the new state under the
same names with `new_` in front; `weights` (N, S) float32, the attention over the source (0 on padding).

Padding changes nothing: a source gives the same numbers alone or in any batch. Greedy search feeds back each row's
most likely token; beam search keeps several rows per source and reorders the state's rows (the memory's rows stay,
as each source's beam shares its memory). `decoding.json` holds what the checkpoint decodes with: `beam`,
`max_len` (output tokens, the end token not counted) and `length_penalty` (finished outputs are ranked by
`log p / (tokens + 1) ** length_penalty`).

From a text to source ids, as seqtk does it (`vocab.json`'s `source`): split it with the `tokenizer`; a token's id is
its index in `tokens`, and a token not there gets `len(tokens) + bucket`, where `bucket = blake2b(utf8(token),
digest_size=8)` read as a little-endian unsigned integer, modulo `num_oov_buckets`. An output id is its index in
`target.tokens`, joined by the target's tokenizer (characters: nothing between; space and word tokens: a space)."""


_TOKENIZERS = {
    "char": "def tokenize(text):\n    return list({text})\n",
    "space": "def tokenize(text):\n    return {text}.split()\n",
    "word": "from tokenizers import normalizers, pre_tokenizers\n\n"
            "SPLIT = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])\n\n\n"
            "def tokenize(text):\n    {lower}return [word for word, _ in SPLIT.pre_tokenize_str(text)]\n",
    "bpe": "from tokenizers import Tokenizer\n\nSOURCE_BPE = Tokenizer.from_file(f\"{{FOLDER}}/source_tokenizer.json\")\n\n\n"
           "def tokenize(text):\n    return SOURCE_BPE.encode(text, add_special_tokens=False).tokens\n",
}  # fmt: skip
_DETOKENIZERS = {
    "char": "def detokenize(tokens):\n    return \"\".join(tokens)\n",
    "space": "def detokenize(tokens):\n    return \" \".join(tokens)\n",
    "word": "def detokenize(tokens):\n    return \" \".join(tokens)\n",
    "bpe": "from tokenizers import Tokenizer\n\nTARGET_BPE = Tokenizer.from_file(f\"{FOLDER}/target_tokenizer.json\")\n\n\n"
           "def detokenize(tokens):\n    return TARGET_BPE.decoder.decode(tokens)\n",
}  # fmt: skip


def _tokenizer_code(source: str, target: str) -> str:
    """Python defining ``tokenize(text)`` (the source's tokens, lowercased as ``vocab.json`` says) and
    ``detokenize(tokens)`` (the target's text)."""
    lower = 'text.lower() if SOURCE["tokenizer"]["lowercase"] else text'
    tokenize = _TOKENIZERS[source].format(text=f"({lower})", lower=(
        'text = normalizers.Lowercase().normalize_str(text) if SOURCE["tokenizer"]["lowercase"] else text\n    '))
    return tokenize + "\n\n" + _DETOKENIZERS[target]


def _usage(source: str, target: str) -> str:
    """Python (after the README's ``run``) that converts texts without seqtk: greedy and beam search."""
    return _USAGE_HEAD + _tokenizer_code(source, target) + _USAGE_SEARCH


_USAGE_HEAD = '''\
import hashlib
import json

VOCAB = json.load(open(f"{FOLDER}/vocab.json", encoding="utf-8"))
DECODING = json.load(open(f"{FOLDER}/decoding.json", encoding="utf-8"))
SOURCE, TARGET = VOCAB["source"], VOCAB["target"]
SOURCE_IDS = {token: i for i, token in enumerate(SOURCE["tokens"])}
BOS, EOS, MAX_LEN = TARGET["bos_id"], TARGET["eos_id"], DECODING["max_len"]
STATE, MEMORY = DECODING["state"], ["memory", "projected", "memory_mask"]


'''

_USAGE_SEARCH = '''

def source_id(token):
    """The token's id; an unknown token gets its OOV bucket's, after the known ids."""
    if token in SOURCE_IDS:
        return SOURCE_IDS[token]
    digest = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return len(SOURCE_IDS) + int.from_bytes(digest, "little") % SOURCE["num_oov_buckets"]


def start(texts):
    """The sources encoded: the decoder's first state and the attention memory, arrays by name, a row per text."""
    rows = [[source_id(token) for token in tokenize(text)] for text in texts]
    width = max(len(row) for row in rows)
    source = np.array([row + [SOURCE["pad_id"]] * (width - len(row)) for row in rows], dtype=np.int64)
    out = run("encoder", source=source, lengths=np.array([len(row) for row in rows], dtype=np.int64))
    return {name: out[name] for name in STATE}, {name: out[name] for name in MEMORY}


def step(tokens, state, memory):
    """One decoder step for every row: log-probabilities (N, V), the new state, attention weights (N, S)."""
    out = run("decoder_step", tokens=np.asarray(tokens, dtype=np.int64), **state, **memory)
    return out["log_probs"], {name: out["new_" + name] for name in STATE}, out["weights"]


def ranked(log_prob, length):
    """How finished outputs are ranked: log p / (tokens + 1) ** length_penalty (the end token counts)."""
    return log_prob / (length + 1) ** DECODING["length_penalty"]


def greedy(texts):
    """Each text's output as a list of one (token ids, score, finished): the most likely token at every step."""
    state, memory = start(texts)
    tokens = np.full(len(texts), BOS, dtype=np.int64)
    log_prob, done = np.zeros(len(texts), dtype=np.float32), np.zeros(len(texts), dtype=bool)
    outputs = [[] for _ in texts]
    for _ in range(MAX_LEN):
        log_probs, state, _ = step(tokens, state, memory)
        tokens = log_probs.argmax(-1)
        log_prob += np.where(done, np.float32(0), log_probs.max(-1))
        for row in np.flatnonzero(~done):
            if tokens[row] == EOS:
                done[row] = True
            else:
                outputs[row].append(int(tokens[row]))
        if done.all():
            break
    return [[(out, ranked(float(p), len(out)), bool(d))] for out, p, d in zip(outputs, log_prob, done)]


def beam_search(texts, beam, n_best=1):
    """Each text's `n_best` outputs, best first, as (token ids, score, finished): seqtk's beam search. At each step
    the 2 * beam best extensions of a text's beam are ranked; an end token among the first `beam` finishes an
    output, and the first `beam` that do not end go on. A text is done with `beam` finished outputs; after
    `MAX_LEN` tokens every open one ends."""
    state, memory = start(texts)
    n = len(texts)
    rows = np.repeat(np.arange(n), beam)  # text b's beam is rows b * beam ...
    state, memory = {k: v[rows] for k, v in state.items()}, {k: v[rows] for k, v in memory.items()}
    tokens = np.full(n * beam, BOS, dtype=np.int64)
    scores = np.full((n, beam), -np.inf, dtype=np.float32)
    scores[:, 0] = 0.0  # one live row at the start, so the first step does not pick the same token beam times
    history = np.zeros((n * beam, 0), dtype=np.int64)
    finished = [[] for _ in texts]
    for t in range(MAX_LEN + 1):
        log_probs, state, _ = step(tokens, state, memory)
        if t == MAX_LEN:  # only the end token is left
            log_probs = np.where(np.arange(log_probs.shape[1]) == EOS, log_probs, np.float32(-np.inf))
        size = log_probs.shape[1]
        candidates = (scores[:, :, None] + log_probs.reshape(n, beam, size)).reshape(n, -1)
        index = np.argsort(-candidates, axis=1, kind="stable")[:, : 2 * beam]  # (n, 2 beam), best first
        top = np.take_along_axis(candidates, index, axis=1)
        parent, token = np.arange(n)[:, None] * beam + index // size, index % size
        for b, k in zip(*np.nonzero((token[:, :beam] == EOS) & np.isfinite(top[:, :beam]))):
            if len(finished[b]) < beam:
                out = history[parent[b, k]].tolist()
                finished[b].append((out, ranked(float(top[b, k]), len(out)), t < MAX_LEN))
        done = np.array([len(f) >= beam for f in finished])
        if done.all():
            break
        open_first = np.arange(token.shape[1]) + (token == EOS) * token.shape[1]  # an ending one sorts last
        keep = np.argsort(open_first, axis=1)[:, :beam]  # (n, beam)
        scores = np.where(done[:, None], np.float32(-np.inf), np.take_along_axis(top, keep, axis=1))
        chosen = np.take_along_axis(parent, keep, axis=1).ravel()
        tokens = np.take_along_axis(token, keep, axis=1).ravel()
        history = np.concatenate([history[chosen], tokens[:, None]], axis=1)
        state = {k: v[chosen] for k, v in state.items()}  # the memory stays: a text's rows share it
    return [sorted(f, key=lambda h: -h[1])[:n_best] for f in finished]


def target_tokens(ids):
    return [TARGET["tokens"][i] for i in ids]


def convert(texts, beam=DECODING["beam"], n_best=1):
    """What `seqtk predict --beam BEAM --n-best N_BEST` reports for each text."""
    found = greedy(texts) if beam == 1 and n_best == 1 else beam_search(texts, beam, n_best)
    results = []
    for text, outputs in zip(texts, found):
        ids, score, finished = outputs[0]
        result = {"output": detokenize(target_tokens(ids)), "tokens": target_tokens(ids), "score": round(score, 4)}
        if not finished:
            result["note"] = f"stopped at data.max_target_length ({MAX_LEN}) tokens"
        if n_best > 1:
            result["n_best"] = [{"output": detokenize(target_tokens(i)), "score": round(s, 4)} for i, s, _ in outputs]
        result["unknown_source_tokens"] = sum(token not in SOURCE_IDS for token in tokenize(text))
        results.append(result)
    return results


print(convert(SOURCE["tokens"][1:4]))
print(convert(SOURCE["tokens"][1:4], beam=3, n_best=2))
'''
