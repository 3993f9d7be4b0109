"""Sampling and scoring text with a token language model (characters, words, subwords), and recurrent-state helpers.

Sampling never touches the global RNG: each sample draws from its own
``torch.Generator`` seeded from the request, so the same seed gives the same
text and logging a sample during training leaves the run unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from seqtk.runtime.device import eval_mode
from seqtk.tasks.task import GenerateRequest

SCORE_CHUNK = 4096  # tokens per forward when scoring; the state carries over, so results are exact


def sample_text(
    model: nn.Module,
    prompt_ids: Tensor,
    request: GenerateRequest,
    *,
    seed: int,
    decode: Callable[[list[int]], str],
    device: torch.device,
    on_text: Callable[[str], None] | None = None,
) -> str:
    """Generate ``request.length`` tokens after ``prompt_ids`` ((T,) ids); return the new text.

    ``temperature`` 0 is greedy; ``top_k`` 0 and ``top_p`` 1 turn those filters off.
    ``on_text`` receives each new token's text as it is produced; the text returned is then those pieces
    joined, so ``decode`` may keep state from one token to the next (where a word needs a space before it).
    """
    generator = torch.Generator(device=device).manual_seed(seed)
    stream = None
    pieces: list[str] = []
    if on_text is not None:
        def stream(token: Tensor) -> None:  # a 0-d tensor
            pieces.append(decode([int(token)]))
            on_text(pieces[-1])
    new = model.generate(  # eval mode and inference_mode inside
        prompt_ids.to(device),  # (T,) -> (N,)
        max_new_tokens=request.length,
        temperature=request.temperature,
        top_k=request.top_k,
        top_p=request.top_p,
        generator=generator,
        on_token=stream,
    )
    return "".join(pieces) if stream is not None else decode(new.tolist())


def sample_batch(
    model: nn.Module,
    rows: list[Tensor],
    request: GenerateRequest,
    *,
    decode: list[Callable[[list[int]], str]],
    device: torch.device,
) -> list[str]:
    """``request.length`` tokens after each of ``rows`` ((T_b,) ids each, any lengths), sampled in one batch
    from a generator seeded with ``request.seed`` (or row i from one seeded with ``request.seeds[i]``); one new
    text per row, decoded by ``decode[i]`` (which may keep state, as in :func:`sample_text`).
    ``request.on_text(i, text)`` receives each row's text as it is produced."""
    if request.seeds:
        generator = [torch.Generator(device=device).manual_seed(seed) for seed in request.seeds]
    else:
        generator = torch.Generator(device=device).manual_seed(request.seed)
    on_text = request.on_text
    stream = None
    pieces: list[list[str]] = [[] for _ in rows]
    if on_text is not None:
        def stream(tokens: Tensor) -> None:  # (B,)
            for i, token in enumerate(tokens.tolist()):
                pieces[i].append(decode[i]([token]))
                on_text(i, pieces[i][-1])
    new = model.generate(  # (B, N): each row keeps its own state
        [row.to(device) for row in rows],
        max_new_tokens=request.length,
        temperature=request.temperature,
        top_k=request.top_k,
        top_p=request.top_p,
        generator=generator,
        on_token=stream,
    )
    if stream is not None:
        return ["".join(row) for row in pieces]
    return [dec(row.tolist()) for dec, row in zip(decode, new)]


def score_text(model: nn.Module, ids: Tensor, device: torch.device) -> float:
    """Mean loss in nats per predicted token of ``ids`` ((N,)); NaN when N < 2."""
    total, count, state = 0.0, 0, None
    with eval_mode(model), torch.no_grad():
        for start in range(0, len(ids) - 1, SCORE_CHUNK):
            chunk = ids[start : start + SCORE_CHUNK + 1].to(device)
            x, y = chunk[None, :-1], chunk[None, 1:]  # (1, C) each
            _, loss, state = model(x, targets=y, state=state)
            total += float(loss) * y.numel()
            count += y.numel()
    return total / count if count else float("nan")



def detach_state(state: Any) -> Any:
    """The same nested state (tensors in tuples/lists), cut from the graph."""
    return map_state(state, lambda t: t.detach())


def move_state(state: Any, device: torch.device) -> Any:
    return map_state(state, lambda t: t.to(device))


def map_state(state: Any, fn: Callable[[Tensor], Tensor]) -> Any:
    if state is None:
        return None
    if isinstance(state, Tensor):
        return fn(state)
    if isinstance(state, (list, tuple)):
        return type(state)(map_state(s, fn) for s in state)
    if isinstance(state, dict):
        return {k: map_state(v, fn) for k, v in state.items()}
    raise TypeError(f"unexpected recurrent state of type {type(state).__name__}")
