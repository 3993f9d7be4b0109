"""``seqtk predict`` for seq2seq: each input's best output, its alternatives, and where it attended.

With ``beam`` (``--beam``) the outputs come from beam search, ``n_best``
(``--n-best``) of them per input with their scores; ``attention``
(``--attention out.png``) writes the attention map of each input's best
output (``out.png`` for one input, ``out-1.png``, ``out-2.png``, ... for
several).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seqtk.data.batches import move_to
from seqtk.errors import SeqtkError
from seqtk.runtime.device import eval_mode
from seqtk_plugins.seq2seq.batching import collate

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

    from seqtk.nn.decoding import Hypothesis
    from seqtk_plugins.seq2seq.task import Seq2SeqTask


def predict(task: Seq2SeqTask, model: nn.Module, inputs: list[str], device: torch.device, *, beam: int | None = None,
            n_best: int | None = None, attention: str | Path | bool | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """One dict per input: ``output`` (text), ``tokens``, ``score`` (log p / length ** length_penalty), and with
    ``n_best`` > 1 the alternatives in ``n_best``; ``unknown_source_tokens`` counts tokens the source vocabulary
    never saw (each mapped to an OOV bucket, which the model knows little about).

    ``attention``: a path writes each input's attention map there as a PNG (``seqtk predict --attention``);
    ``True`` puts the map in the result instead, as ``{"source", "target", "weights"}`` (``seqtk serve``'s page
    draws it): a row of weights per target token (the end token last), a column per source token."""
    if attention is False:
        attention = None
    if attention is not None and attention is not True and not isinstance(attention, (str, Path)):
        raise SeqtkError(f"attention must be true (the map in each result) or a PNG file's path, not {attention!r}",
                         fix="pass attention=True, or attention='att.png' (seqtk predict --attention att.png)")  # fmt: skip
    from seqtk.nn.decoding import check_search

    cfg = task.recipe.model
    beam = cfg.beam if beam is None else beam
    n_best = 1 if n_best is None else n_best
    check_search(beam, task.recipe.data.max_target_length, n_best)
    encoder = task.encoder
    ids = [_source_ids(task, text, n, len(inputs)) for n, text in enumerate(inputs, start=1)]
    vocab = task.need("target_vocab")
    out: list[dict[str, Any]] = []
    with eval_mode(model), torch.no_grad():
        for start in range(0, len(ids), task.recipe.data.eval_batch_size):
            part = ids[start : start + task.recipe.data.eval_batch_size]
            batch = move_to(collate(part, [torch.zeros(0, dtype=torch.long)] * len(part), range(len(part)),
                                    vocab.bos_id, vocab.eos_id), device)  # fmt: skip
            hyps = task.decode(model, batch.source, batch.lengths, beam=beam, n_best=n_best,
                               keep_attention=attention is not None)  # fmt: skip
            out += [_result(task, h, n_best) for h in hyps]
    for row, result in zip(ids, out):
        result["unknown_source_tokens"] = sum(1 for i in row.tolist() if encoder.source_vocab.is_oov(i))
    if attention is True:
        _attach_attention(task, inputs, out)
    elif attention is not None:
        _write_attention(task, inputs, out, Path(attention))
    return strip_private(out)


def _attach_attention(task: Seq2SeqTask, inputs: list[str], results: list[dict[str, Any]]) -> None:
    """Each result's attention map as JSON: source tokens, target tokens (the end token last), weights."""
    for text, result in zip(inputs, results):
        weights = result.pop("_attention", None)
        if weights is None:
            continue
        source = task.need("source_tokenizer").tokenize(str(text))
        target = [*result["tokens"], "</s>"][: weights.size(0)]  # an output cut at max_target_length has no end token
        rows = weights[: len(target), : len(source)]
        result["attention"] = {"source": source, "target": target, "weights": [[round(float(w), 4) for w in row] for row in rows]}


def _source_ids(task: Seq2SeqTask, text: Any, n: int, total: int) -> torch.Tensor:
    """The ids of one input; a clear error for an empty one or one longer than the model takes."""
    text = str(text)
    tokens = task.need("source_tokenizer").tokenize(text)
    if not tokens:
        raise SeqtkError(f"input {n} of {total} is empty; there is nothing to convert",
                         fix='pass a non-empty source, e.g. seqtk predict CKPT "hello"')  # fmt: skip
    limit = task.recipe.data.max_source_length
    if len(tokens) > limit:
        raise SeqtkError(
            f"input {n} of {total} has {len(tokens)} source tokens, more than the {limit} this model was trained "
            f"for (data.max_source_length): {text[:40]!r}{'...' if len(text) > 40 else ''}",
            fix="split the input into shorter pieces, or train with a larger data.max_source_length",
        )
    return torch.tensor(task.need("source_vocab").encode(tokens), dtype=torch.long)


def _result(task: Seq2SeqTask, hyps: list[Hypothesis], n_best: int) -> dict[str, Any]:
    encoder = task.encoder
    best = hyps[0]
    result: dict[str, Any] = {
        "output": encoder.target_text(best.tokens),
        "tokens": task.need("target_vocab").decode(best.tokens),
        "score": round(best.score, 4),
    }
    if not best.finished:
        result["note"] = f"stopped at data.max_target_length ({task.recipe.data.max_target_length}) tokens"
    if n_best > 1:
        result["n_best"] = [{"output": encoder.target_text(h.tokens), "score": round(h.score, 4)} for h in hyps]
    result["_attention"] = best.attention  # taken out before returning (a tensor is not JSON)
    return result


def _write_attention(task: Seq2SeqTask, inputs: list[str], results: list[dict[str, Any]], path: Path) -> None:
    """One PNG per input (``path`` itself for one input); each result names its file."""
    path = path if path.suffix else path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    for n, (text, result) in enumerate(zip(inputs, results), start=1):
        weights = result.pop("_attention", None)
        if weights is None:
            continue
        target = path if len(inputs) == 1 else path.with_name(f"{path.stem}-{n}{path.suffix or '.png'}")
        image = attention_image(task, text, result["tokens"], weights)
        image.save(target)
        result["attention"] = str(target)


def attention_image(task: Seq2SeqTask, source: str, output_tokens: list[str], weights: torch.Tensor) -> Image.Image:
    """The attention map: a row per output token (and the end token), a column per source token.

    # weights (len(output_tokens) + 1, S), or (len(output_tokens), S) for an unfinished output
    """
    from seqtk.runtime.plots import heatmap

    source_tokens = task.need("source_tokenizer").tokenize(source)
    rows = [*output_tokens, "</s>"][: weights.size(0)]  # an output cut at max_target_length has no end token
    shades = weights[: len(rows), : len(source_tokens)]
    return heatmap(shades, rows, source_tokens, title=f"attention: {source[:30]}")


def strip_private(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the fields kept only for drawing."""
    for result in results:
        result.pop("_attention", None)
    return results
