"""Which ``[data]`` keys the chosen data source reads, and the refusal of a set key it would ignore.

A task with several data sources (a bundled corpus, a local file, a hub
dataset) declares, on each ``[data]`` field that only some sources read, the
names of those sources (``hfield(..., sources=("file", "hub"))``), and says
which source its settings choose in :meth:`DataConfig.chosen_source
<seqtk.config.schema.DataConfig.chosen_source>`. A key that the recipe or an
override sets (to anything but its default) while the chosen source ignores
it is refused before any data is read: ``seqtk run classify_tiny
data.path=intents.jsonl`` once trained on BBC News, because that recipe fixes
``data.source = "bbc_news"``, and the "intent" model answered "tech".

A key the recipe file sets for its own source is not refused when an
override chose another source (``seqtk run textgen_tiny data.path=my.txt``:
the override replaces the recipe's corpus, as the user meant).

A recipe written back in full (a checkpoint's, a run's ``config.toml``)
holds every key; only keys whose value differs from the default count, a key
the chosen source does not read is written back at its default
(:func:`without_unread`), and a checkpoint's recipe is not checked at all (the
run that wrote it was).
"""

from __future__ import annotations

from collections.abc import Iterable
import dataclasses
from dataclasses import MISSING, Field, fields
from typing import Any

from seqtk.errors import SeqtkError


def sources_of(f: Field[Any]) -> tuple[str, ...]:
    """The sources that read field ``f`` (declared with ``hfield(sources=...)``); ``()``: every source."""
    return tuple(f.metadata.get("sources", ()))


def default_of(f: Field[Any]) -> Any:
    """Field ``f``'s default value (``MISSING`` for a required field)."""
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def check_source_keys(data: Any, given: Iterable[str], written: Any = None) -> None:
    """Raise :class:`SeqtkError` for a key in ``given`` that ``data``'s chosen source does not read.

    ``given``: the ``[data]`` keys the recipe and its overrides name; those still at their default value
    never count. ``written``: the ``[data]`` section as the recipe file alone gives it (before overrides),
    or None. A key the file sets is not refused when an override chose another source than the file's:
    ``seqtk run textgen_tiny data.path=my.txt`` trains on my.txt, and the recipe's ``data.corpus`` is
    what the user meant to replace. A source chosen in the file itself must read every key the file sets.
    """
    chosen = data.chosen_source()
    if chosen is None:
        return
    by_name = {f.name: f for f in fields(data)}
    for key in given:
        f = by_name.get(key)
        if f is None or not sources_of(f) or chosen in sources_of(f):
            continue
        value = getattr(data, key)
        if value == default_of(f) or _replaced_by_an_override(written, key, value, chosen):
            continue
        raise _ignored(data, f, value, chosen)


def without_unread(data: Any) -> Any:
    """``data`` with every key its chosen source does not read back at its default.

    What a run writes back (``config.toml``, the checkpoint's recipe) is then what it read: a recipe's
    ``data.corpus = "plays"`` replaced by an override's ``data.path`` would otherwise stand beside the path in
    ``config.toml``, and ``seqtk run RUN/config.toml --resume RUN`` would refuse it as a key the source ignores.
    """
    chosen = data.chosen_source()
    if chosen is None:
        return data
    unread = {f.name: default_of(f) for f in fields(data)
              if sources_of(f) and chosen not in sources_of(f) and default_of(f) is not MISSING}
    changed = {k: v for k, v in unread.items() if getattr(data, k) != v}
    return dataclasses.replace(data, **changed) if changed else data


def _replaced_by_an_override(written: Any, key: str, value: Any, chosen: str) -> bool:
    """The file set ``key`` to ``value`` for its own source, and an override chose ``chosen`` instead."""
    return written is not None and getattr(written, key) == value and written.chosen_source() != chosen


def _ignored(data: Any, f: Field[Any], value: Any, chosen: str) -> SeqtkError:
    readers = sources_of(f)
    choices = list(dict.fromkeys(c for c in (data.source_choice(name) for name in readers) if c))
    how = f"choose a source that reads it ({' or '.join(choices)})" if choices else "choose a source that reads it"
    only = " and ".join(readers) if len(readers) < 3 else ", ".join(readers[:-1]) + " and " + readers[-1]
    return SeqtkError(
        f"data.{f.name} = {value!r} is set, but {data.describe_source(chosen)} does not read data.{f.name} "
        f"(only {only} {'does' if len(readers) == 1 else 'do'}), so it would be silently ignored",
        fix=f"{how}, or {_unset(f)}",
    )


def _unset(f: Field[Any]) -> str:
    default = default_of(f)
    if default is None:
        return f"remove data.{f.name} from the recipe and the command line"
    shown = (default or '""') if isinstance(default, str) else repr(default).replace(" ", "")
    return f"set data.{f.name}={shown} (its default) or remove it from the recipe"
