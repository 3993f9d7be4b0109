"""What ``seqtk export`` writes for a tagger: its emission model, and the CRF's scores as JSON.

The exported model takes right-padded word ids (B, T), each word's character
ids (B, T, W) and the lengths (B,), and returns every token's tag scores
(B, T, K): the :class:`.model.Tagger`'s emissions, the same for any padding.
Picking the tags is left to the README's numpy code, as seqtk picks them
(:meth:`.model.Tagger.decode`): each token's best tag, or with a CRF the
Viterbi path over ``crf.json``'s transition, start and end scores
(:meth:`seqtk.nn.crf.CRF.decode`). ``vocab.json`` holds what turns a
sentence into ids (:class:`.batching.SentenceEncoder`), ``labels.json`` the
tags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from seqtk.nn.traceable import PaddedEncoder
from seqtk.tasks.task import ExportSpec
from seqtk.text.vocab_io import OOV_HASH
from seqtk_plugins.tag.model import CharCNN, CharLSTM, Tagger

if TYPE_CHECKING:  # pragma: no cover
    from seqtk.text.vocab import Vocab
    from seqtk_plugins.tag.task import TagTask


class ExportedCharLSTM(nn.Module):
    """:class:`.model.CharLSTM` on every token of a padded batch, a padding token read as one character.

    # chars (N, W) -> (N, F); a row of padding gives a number to be masked out
    """

    def __init__(self, chars: CharLSTM) -> None:
        super().__init__()
        self.embedding, self.encoder = chars.embedding.embedding, PaddedEncoder(chars.encoder)

    def forward(self, chars: Tensor) -> Tensor:
        lengths = (chars != 0).sum(1).clamp(min=1)  # (N,): a padding token's zero length would index step -1
        return self.encoder(self.embedding(chars), lengths)  # (N, W, C) -> (N, F)


class ExportedTagger(nn.Module):
    """:class:`.model.Tagger`'s emissions, branch-free: the character features of every position, padding zeroed.

    # words (B, T) long, chars (B, T, W) long, lengths (B,) long -> emissions (B, T, K) float
    """

    def __init__(self, model: Tagger) -> None:
        super().__init__()
        self.embedding = model.embedding.embedding  # the plain table: no check that reads the ids' values
        chars = model.chars
        self.chars: nn.Module | None = ExportedCharLSTM(chars) if isinstance(chars, CharLSTM) else chars
        self.encoder, self.head = PaddedEncoder(model.encoder), model.head

    def forward(self, words: Tensor, chars: Tensor, lengths: Tensor) -> tuple[Tensor]:
        x = self.embedding(words)  # (B, T) -> (B, T, E)
        if self.chars is not None:
            valid = torch.arange(words.size(1)) < lengths.unsqueeze(1)  # (B, T)
            features = self.chars(chars.flatten(0, 1))  # (B*T, W) -> (B*T, F); -inf or noise on padding
            features = features.view(*words.shape, -1)  # (B, T, F)
            features = torch.where(valid.unsqueeze(-1), features, torch.zeros_like(features))  # the tagger's zeros
            x = torch.cat([x, features], dim=-1)  # (B, T, E + F)
        return (self.head(self.encoder(x, lengths)).float(),)  # (B, T, H) -> (B, T, K)


def export_spec(task: TagTask, model: Tagger) -> ExportSpec:
    """The emission model, the vocabularies, the tags (and the CRF's scores), and the README's text and code."""
    vocab, char_vocab, tags = task.need("vocab"), task.need("char_vocab"), task.need("tags")
    module = ExportedTagger(model).eval()
    uses_chars = module.chars is not None
    example = _inputs(len(vocab), len(char_vocab), [4, 1, 3], width=5, word_chars=4, seed=0)
    check = _inputs(len(vocab), len(char_vocab), [2, 7, 1, 5, 7], width=9, word_chars=6, seed=1)
    names = ("words", "chars", "lengths") if uses_chars else ("words", "lengths")
    if not uses_chars:
        example, check = (example[0], example[2]), (check[0], check[2])
    axes = {"words": {0: "batch", 1: "time"}, "chars": {0: "batch", 1: "time", 2: "chars"}, "lengths": {0: "batch"}}
    files: dict[str, Any] = {
        "vocab.json": {
            "format": "seqtk-export-vocab",
            "version": 1,
            "tokenizer": {"kind": "space", "lowercase": task.recipe.vocab.lowercase},
            **_vocab_fields(vocab),
            "chars": {**_vocab_fields(char_vocab), "max_word_chars": task.recipe.model.max_word_chars},
        },
        "labels.json": {"labels": list(tags), "scheme": task.need("scheme")},
    }
    crf = model.crf
    if crf is not None:
        files["crf.json"] = {name: getattr(crf, name).tolist() for name in ("transitions", "start", "end")}
    return ExportSpec(
        module=module, example_inputs=example, check_inputs=check, input_names=names, output_names=("emissions",),
        input_axes={name: axes[name] for name in names}, files=files,
        signature=_signature(len(tags), uses_chars, crf is not None), usage=_usage(crf is not None),
    )


def _vocab_fields(vocab: Vocab) -> dict[str, Any]:
    return {"pad_id": vocab.pad_id, "num_oov_buckets": vocab.num_oov_buckets, "oov_hash": OOV_HASH,
            "tokens": vocab.decode(range(vocab.num_known))}  # fmt: skip


def _inputs(words: int, chars: int, lengths: list[int], width: int, word_chars: int, seed: int) -> tuple[Tensor, ...]:
    """Random right-padded sentences: word ids (B, T), character ids (B, T, W) with ragged words, lengths (B,)."""
    g = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths)
    valid = torch.arange(width) < lengths_t.unsqueeze(1)  # (B, T)
    ids = torch.randint(1, words, (len(lengths), width), generator=g) * valid
    spelled = torch.randint(1, word_chars + 1, (len(lengths), width, 1), generator=g)  # each word's length
    char_ids = torch.randint(1, chars, (len(lengths), width, word_chars), generator=g)
    char_ids = char_ids * (torch.arange(word_chars) < spelled) * valid.unsqueeze(-1)
    return ids, char_ids, lengths_t


def _signature(num_tags: int, uses_chars: bool, crf: bool) -> str:
    chars = ("- `chars` (B, T, W) int64: each word's character ids, right-padded with 0 to the longest word's W (and "
             "all 0 on padding tokens);\n" if uses_chars else "")  # fmt: skip
    pick = ("With a CRF (`crf.json`: `transitions[i][j]` scores tag i followed by tag j, `start` the first tag, `end` "
            "the last) the tags are the Viterbi path over each sentence's real tokens, as `viterbi` below computes "
            "it." if crf else "The tags are each token's highest-scoring tag.")  # fmt: skip
    return f"""\
Inputs:

- `words` (B, T) int64: each sentence's word ids, right-padded with 0 (`pad_id`) to the longest sentence's T;
{chars}- `lengths` (B,) int64: each sentence's number of words, 1 to T.

Outputs:

- `emissions` (B, T, {num_tags}) float32: each token's score for each tag, column i for `labels.json`'s `labels[i]`.
  Padding changes no score of a real token.

{pick}

From a sentence to ids, as seqtk does it (`vocab.json`): the tokens are the sentence split at whitespace. A word's
id is its index in `tokens` (after lowercasing when `tokenizer.lowercase`), and a word not there gets
`len(tokens) + bucket`, where `bucket = blake2b(utf8(word), digest_size=8)` read as a little-endian unsigned integer,
modulo `num_oov_buckets`. Its characters (case kept; a word longer than `chars.max_word_chars` keeps its first half
and last half) get ids from `chars` the same way."""


_VITERBI = '''

CRF = json.load(open(f"{FOLDER}/crf.json", encoding="utf-8"))
TRANSITIONS, START, END = (np.array(CRF[name], dtype=np.float32) for name in ("transitions", "start", "end"))


def viterbi(emissions):
    """The best tag path of one sentence's emissions (L, K), as seqtk's CRF decodes it."""
    best, pointers = START + emissions[0], []
    for scores in emissions[1:]:
        paths = best[:, None] + TRANSITIONS  # (K previous, K next)
        pointers.append(paths.argmax(0))
        best = paths.max(0) + scores
    path = [int((best + END).argmax())]
    for prev in reversed(pointers):
        path.append(int(prev[path[-1]]))
    return path[::-1]


def pick(emissions):
    return viterbi(emissions)
'''

_ARGMAX = '''

def pick(emissions):
    """Each token's best tag, for one sentence's emissions (L, K)."""
    return [int(i) for i in emissions.argmax(-1)]
'''


def _usage(crf: bool) -> str:
    """Python (after the README's ``run``) that tags sentences without seqtk."""
    return '''\
import hashlib
import json

VOCAB = json.load(open(f"{FOLDER}/vocab.json", encoding="utf-8"))
LABELS = json.load(open(f"{FOLDER}/labels.json", encoding="utf-8"))["labels"]


def lookup(vocab):
    ids = {token: i for i, token in enumerate(vocab["tokens"])}

    def token_id(token):
        """The token's id; an unknown token gets its OOV bucket's, after the known ids."""
        if token in ids:
            return ids[token]
        digest = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return len(ids) + int.from_bytes(digest, "little") % vocab["num_oov_buckets"]

    return token_id


WORD_ID, CHAR_ID = lookup(VOCAB), lookup(VOCAB["chars"])


def spell(word):
    """A word's character ids; a long word keeps its first and last halves."""
    most = VOCAB["chars"]["max_word_chars"]
    if len(word) > most:
        word = word[: most // 2] + word[len(word) - (most - most // 2) :]
    return [CHAR_ID(c) for c in word]


def encode(sentences):
    """Word ids (B, T), character ids (B, T, W) and lengths (B,) of token lists, right-padded with 0."""
    lower = VOCAB["tokenizer"]["lowercase"]
    lengths = np.array([len(words) for words in sentences], dtype=np.int64)
    spelled = [[spell(w) for w in words] for words in sentences]
    width = max(len(s) for row in spelled for s in row)
    words = np.zeros((len(sentences), lengths.max()), dtype=np.int64)
    chars = np.zeros((len(sentences), lengths.max(), width), dtype=np.int64)
    for b, row in enumerate(sentences):
        words[b, : len(row)] = [WORD_ID(w.lower() if lower else w) for w in row]
        for t, ids in enumerate(spelled[b]):
            chars[b, t, : len(ids)] = ids
    return words, chars, lengths
''' + (_VITERBI if crf else _ARGMAX) + '''

def tag(texts):
    """What `seqtk predict` reports for each sentence (its tokens split at whitespace)."""
    sentences = [text.split() for text in texts]
    words, chars, lengths = encode(sentences)
    emissions = run(words=words, chars=chars, lengths=lengths)["emissions"]
    out = []
    for row, tokens, n in zip(emissions, sentences, lengths):
        tags = [LABELS[i] for i in pick(row[:n])]
        out.append({"tagged": " ".join(f"{w}/{t}" for w, t in zip(tokens, tags)), "tokens": tokens, "tags": tags})
    return out


print(tag(["The old man the boats .", "Anna met Peter in Paris"]))
'''
