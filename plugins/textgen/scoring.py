"""``seqtk eval --file`` for textgen: a text the model has not seen, scored as a held-out split is.

The file is read as ``data.path``'s text files are (UTF-8, line endings
normalised) and encoded by the task's own :meth:`~seqtk_plugins.textgen.task.TextGenTask.encode`,
the function that encodes the val and test texts, so it follows whatever
tokens the model has (characters, words, subwords). The task then evaluates it
as the split ``"file"`` with its own batches, step and metrics: a held-out
split written to a file gives that split's numbers (nats and bits per
character, or perplexity).

A split's first token is context, not a target, and so is the file's:
``seqtk predict`` scores a text after a line break instead, so that every
character counts. The two agree on a text that starts with a line break and
fits in one window (``data.seq_len``); a longer text is scored in windows
from a fresh state, as the splits are, where predict carries the state on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seqtk.errors import SeqtkError
from seqtk_plugins.textgen.corpus import read_text_file

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

    from seqtk_plugins.textgen.task import TextGenTask


def read_eval_ids(task: TextGenTask, path: Path) -> Tensor:
    """The ids of ``path``'s text, encoded as the task encodes a held-out split. # -> (N,)"""
    ids = task.encode(read_text_file(Path(path)))
    if len(ids) < 2:
        raise SeqtkError(
            f"the file '{path}' holds {len(ids)} token(s), and scoring needs two or more: the first is the "
            "context of the rest",
            fix="score a longer text, or use seqtk predict CKPT TEXT, which scores a short text after a line break",
        )
    return ids
