"""Predicting labels for new texts with a trained classifier."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from seqtk.data.batches import move_to
from seqtk.errors import SeqtkError
from seqtk.runtime.device import eval_mode
from seqtk_plugins.classify.batching import Encoded, eval_batches, token_ids

if TYPE_CHECKING:  # pragma: no cover
    from seqtk_plugins.classify.task import ClassifyTask


def predict(task: ClassifyTask, model: nn.Module, inputs: list[str], device: torch.device, top_k: int = 0) -> list[dict[str, Any]]:
    """``{"label", "probability"}`` per text (multi-label: ``{"labels", "probabilities"}``), and with
    ``top_k`` the k most likely labels as ``"top"``; unseen tokens go to the OOV buckets."""
    _check_inputs(inputs)
    names = task.need("label_names")
    probs = probabilities(task, model, encode_texts(task, inputs), device)  # (N, C)
    multi = task.recipe.data.multi_label
    out = []
    for row in probs:
        out.append(_multi(row, names) if multi else _single(row, names))
        if top_k:
            p, idx = row.topk(min(top_k, len(names)))
            out[-1]["top"] = [{"label": names[i], "probability": float(q)} for q, i in zip(p.tolist(), idx.tolist())]
    return out


def _single(row: Tensor, names: tuple[str, ...]) -> dict[str, Any]:
    p, i = row.max(dim=0)
    return {"label": names[int(i)], "probability": float(p)}


def _multi(row: Tensor, names: tuple[str, ...]) -> dict[str, Any]:
    chosen = [i for i, p in enumerate(row.tolist()) if p >= 0.5]
    return {"labels": [names[i] for i in chosen], "probabilities": [float(row[i]) for i in chosen]}


def _check_inputs(inputs: list[str]) -> None:
    for n, text in enumerate(inputs, start=1):
        if not isinstance(text, str) or not text.strip():
            raise SeqtkError(
                f"input {n} of {len(inputs)} is empty; there is no text to classify",
                fix='pass the text, e.g. seqtk predict CKPT "What time is it?"',
            )


def encode_texts(task: ClassifyTask, inputs: list[str]) -> Encoded:
    """Clean, tokenize and encode texts as the training data were."""
    cfg, vocab = task.recipe.data, task.need("vocab")
    texts = [task.clean(t) for t in inputs]
    rows = [token_ids(t, vocab, cfg.max_tokens, cfg.keep) or [vocab.pad_id] for t in task.tokens_of(texts)]
    return Encoded(
        ids=[torch.tensor(r, dtype=torch.long) for r in rows],
        lengths=torch.tensor([len(r) for r in rows], dtype=torch.long),
        labels=torch.zeros(len(rows), dtype=torch.long),
    )


def probabilities(task: ClassifyTask, model: nn.Module, data: Encoded, device: torch.device) -> Tensor:
    """Class probabilities of every text of ``data``, in its order. # -> (N, C)"""
    out = torch.empty(len(data), len(task.need("label_names")))
    squash = torch.sigmoid if task.recipe.data.multi_label else (lambda x: torch.softmax(x, dim=1))
    with eval_mode(model), torch.no_grad():
        for batch in eval_batches(data, task.recipe.data.eval_batch_size, bucketing=True):
            moved = move_to(batch, device)
            out[batch.index] = squash(model(moved.ids, moved.lengths).float()).cpu()
    return out
