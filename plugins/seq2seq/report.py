"""What the seq2seq task prints and logs: the data table, training pairs it drops, mistakes, attention maps."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from seqtk.errors import SeqtkError
from seqtk.runtime.device import eval_mode
from seqtk_plugins.seq2seq.batching import Encoded, PairEncoder
from seqtk_plugins.seq2seq.splits import SPLITS

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from torch import nn

    from seqtk_plugins.seq2seq.config import Seq2SeqData
    from seqtk_plugins.seq2seq.pairs import Example
    from seqtk_plugins.seq2seq.task import Seq2SeqTask



def drop_too_long(encoded: dict[str, Encoded], data: Seq2SeqData) -> list[str]:
    """Drop training targets longer than ``data.max_target_length`` tokens and training examples whose source
    is longer than ``data.max_source_length`` (or that lose every target); say what went. Held-out splits are
    kept whole: their scores must count every example."""
    train = encoded["train"]
    kept = Encoded()
    long_sources = long_targets = 0
    for example, source, targets in zip(train.examples, train.sources, train.targets):
        if len(source) > data.max_source_length:
            long_sources += 1
            continue
        fitting = [t for t in targets if len(t) <= data.max_target_length]
        long_targets += len(targets) - len(fitting)
        if fitting:
            kept.examples.append(example)
            kept.sources.append(source)
            kept.targets.append(fitting)
    encoded["train"] = kept
    notes = []
    if long_sources:
        notes.append(f"dropped {long_sources:,} training example(s) whose source is longer than "
                     f"data.max_source_length = {data.max_source_length} tokens")  # fmt: skip
    if long_targets:
        notes.append(f"dropped {long_targets:,} training target(s) longer than data.max_target_length = "
                     f"{data.max_target_length} tokens")  # fmt: skip
    return notes


def nothing_left_to_train(encoded: Encoded, data: Seq2SeqData) -> SeqtkError:
    """The error when :func:`drop_too_long` dropped every training example (``encoded``: the training split as it
    was read), naming the limits that would keep them."""
    longest = {
        "data.max_source_length": (data.max_source_length, max(len(s) for s in encoded.sources), "sources"),
        "data.max_target_length": (data.max_target_length, max(min(len(t) for t in ts) for ts in encoded.targets),
                                   "targets (each example's shortest)"),
    }
    short = {key: v for key, v in longest.items() if v[1] > v[0]}
    return SeqtkError(
        ("the one training example was" if len(encoded) == 1 else f"every one of the {len(encoded):,} training "
         "examples was") + " dropped as too long, so there is nothing to train on: " + "; ".join(f"{key} = {limit} tokens, but the training {what} have up to {most}"
                                 for key, (limit, most, what) in short.items()),
        fix="set " + " and ".join(f"{key} = {most}" for key, (_, most, _) in short.items())
        + " (or more) to keep every example",
    )


def describe(encoded: dict[str, Encoded], source: str, notes: list[str], encoder: PairEncoder, console: Console) -> None:
    """A table of the splits (examples, pairs, mean lengths in tokens, unseen source tokens), then the notes and
    the vocabularies."""
    from rich.table import Table

    table = Table(title=f"seq2seq data: {source}", title_justify="left")
    for column in ("split", "examples", "pairs", "source tokens", "target tokens", "unseen source tokens"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for name in SPLITS:
        part = encoded[name]
        pairs = sum(len(t) for t in part.targets)
        src = sum(len(s) for s in part.sources) / max(len(part), 1)
        tgt = sum(len(t) for ts in part.targets for t in ts) / max(pairs, 1)
        unseen = "-" if name == "train" else f"{unseen_tokens(part, encoder):,}"
        table.add_row(name, f"{len(part):,}", f"{pairs:,}", f"{src:.1f}", f"{tgt:.1f}", unseen)
    console.print(table)
    for note in notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    for side, tok, vocab in (("source", encoder.source_tokenizer, encoder.source_vocab),
                             ("target", encoder.target_tokenizer, encoder.target_vocab)):  # fmt: skip
        known = vocab.tokens
        shown = " ".join(known[:40]) + (f" ... ({len(known) - 40:,} more)" if len(known) > 40 else "")
        console.print(f"{side}: {tok.kind} tokens, {len(known):,} known, "
                      f"{vocab.num_oov_buckets} OOV bucket(s): {shown}", highlight=False, soft_wrap=True)  # fmt: skip
    unseen = sum(unseen_tokens(encoded[name], encoder) for name in ("val", "test"))
    if unseen:
        console.print(f"warning: {unseen:,} held-out source token(s) never occur in training; each is read as an "
                      "OOV bucket, which the model knows little about", highlight=False, soft_wrap=True)  # fmt: skip


def unseen_tokens(part: Encoded, encoder: PairEncoder) -> int:
    """How many source tokens of ``part`` fall in an OOV bucket."""
    vocab = encoder.source_vocab
    return sum(int((s >= vocab.num_known).sum()) for s in part.sources)


def mistakes_text(details: Any, n: int, detokenize: Callable[[str], str] = str) -> str:
    """Up to ``n`` wrong outputs as ``source -> output; expected`` lines (``detokenize``: the metrics'
    space-joined tokens as the target's text)."""
    rows = [] if details is None else details.mistakes(n)
    if not rows:
        return "(none)"
    return "\n".join(f"{m.source} -> {detokenize(m.hypothesis) or '(empty)'}; expected "
                     f"{' | '.join(detokenize(r) for r in m.references)}" for m in rows)  # fmt: skip


def attention_images(task: Seq2SeqTask, model: nn.Module, examples: list[Example], device: torch.device) -> list[torch.Tensor]:
    """Attention maps of greedy outputs for ``examples``, as (3, H, W) image tensors for TensorBoard."""
    from seqtk.runtime.plots import image_tensor
    from seqtk_plugins.seq2seq.inference import attention_image

    if not examples:
        return []
    encoder, vocab = task.encoder, task.need("target_vocab")
    images = []
    with eval_mode(model), torch.no_grad():
        for example in examples:
            source = torch.tensor([encoder.source_ids(example.source)], dtype=torch.long, device=device)
            (hyp,) = task.decode(model, source, torch.tensor([source.size(1)], device=device), beam=1, keep_attention=True)[0]
            if hyp.attention is not None:
                image = attention_image(task, example.source, vocab.decode(hyp.tokens), hyp.attention)
                images.append(image_tensor(image))
    return images
