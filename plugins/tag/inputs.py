"""Sentences given to ``seqtk.load(...).predict`` as token lists rather than strings.

A string is split at whitespace, as ``seqtk predict`` reads it. A list (or tuple) of strings is a sentence
already split into tokens: no tokenizer runs, each token is tagged as it is given (one with a space inside
stays one token), and the prediction's ``tokens`` are exactly the given ones. A list of strings passed on its
own is several texts, as before; a sentence's tokens go inside a list of inputs::

    p.predict(["The dog barks", ["New York", "is", "big"]])
"""

from __future__ import annotations

from typing import Any

from seqtk.errors import SeqtkError

#: for TagTask.predict_takes and predict_example
TAKES = "a list of tokens (a list of strings, each tagged as it is)"
EXAMPLE = '["The dog barks", ["The", "dog", "barks"]]'


def token_items(value: Any) -> list[tuple[str, ...]] | None:
    """``value`` as one sentence of tokens, when it is a list or tuple of strings; None otherwise."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(token, str) for token in value):
        return None
    blank = [n for n, token in enumerate(value, start=1) if not token.strip()]
    if blank:
        raise SeqtkError(
            f"token {blank[0]} of the token list {list(value)[:8]!r} given to task 'tag' is blank, and a blank "
            "token has nothing to tag",
            fix="drop the blank tokens, or pass the sentence as a string, which is split at whitespace",
        )
    return [tuple(value)]


def words_of(item: str | tuple[str, ...]) -> list[str]:
    """One input of predict() as its tokens: a string split at whitespace, a token list as it is."""
    return list(item) if isinstance(item, tuple) else str(item).split()
