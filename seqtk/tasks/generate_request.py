"""What ``seqtk generate`` (and ``seqtk serve``) asks a task to sample: :class:`GenerateRequest`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GenerateRequest:
    """Options of ``seqtk generate``, passed to :meth:`Task.generate`."""

    prompt: str = ""
    #: several prompts sampled together in one batch (``seqtk generate --prompts-file``), one sample each;
    #: when given, ``prompt`` and ``n`` are not used. Only tasks with ``batched_prompts`` take them.
    prompts: tuple[str, ...] = ()
    #: with ``prompts``: one seed per prompt, so row i samples what ``prompts[i]`` alone gives with ``seeds[i]``
    #: (``seqtk serve`` batches separate requests this way); empty: all rows draw from ``seed`` together
    seeds: tuple[int, ...] = ()
    length: int = 200
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    n: int = 1
    seed: int = 0
    #: task-specific options (``seqtk generate --out/--key/--meter/--wav/--musicxml``); None when not given
    extra: dict[str, Any] = field(default_factory=dict)
    on_text: Callable[[int, str], None] | None = None  # (sample index, new text) while streaming
    #: filled by the task: results beyond the samples (rates, files written), merged into ``--json`` output
    report: dict[str, Any] = field(default_factory=dict)
