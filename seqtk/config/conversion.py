"""Building a recipe's dataclasses from raw mappings (parsed TOML plus overrides), with checked types.

Values are checked against the field types before anything is built: an
unknown key names its dotted path and the closest valid key, and a type error
names the key, the expected type and the value given. :func:`resolve` builds a
whole :class:`~seqtk.config.schema.Recipe` and runs
:func:`seqtk.config.checks.check_recipe` on it.
"""

from __future__ import annotations

import datetime
import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, Literal

from seqtk.config.checks import check_recipe
from seqtk.config.schema import SECTIONS, LogConfig, Recipe, TaskSection, TrainConfig, to_plain
from seqtk.config.source_keys import without_unread
from seqtk.errors import SeqtkError, suggest
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return f"a list of {_type_name(args[0])}" if args else "a list"
    if tp is type(None):
        return "nothing (omit the key)"
    if is_dataclass(tp):
        return f"a table of {tp.__name__} keys"
    return getattr(tp, "__name__", str(tp))


def _convert(tp: Any, value: Any, path: str) -> Any:
    """Check ``value`` against type ``tp``; return it (converted where lossless)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        hint = suggest(str(value), [str(a) for a in typing.get_args(tp)])
        raise _type_error(path, tp, value, hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return _convert(arg, value, path)
            except SeqtkError:
                continue
        raise _type_error(path, tp, value)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _type_error(path, tp, value)
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        item = args[0] if args else Any
        out = [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if is_dataclass(tp):
        if is_dataclass(value) and isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise _type_error(path, tp, value)
        return build(tp, value, path)
    if tp is type(None):
        if value is None:
            return None
        raise _type_error(path, tp, value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float) and isinstance(value, bool):
        raise _type_error(path, tp, value)
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise _type_error(path, tp, value)


def _type_error(path: str, tp: Any, value: Any, hint: str = "") -> SeqtkError:
    fix = f"set '{path}' to {_type_name(tp)} in the recipe or as {path}=VALUE on the command line"
    if _takes_str(tp) and isinstance(value, (int, float, datetime.date, datetime.time)):  # TOML read 123 as a number
        text = str(value).lower() if isinstance(value, bool) else str(value)
        fix = (f"quote the value to keep it text: {path}='\"{text}\"' on the command line, "
               f"{path} = \"{text}\" in the recipe")
    return SeqtkError(
        f"recipe key '{path}' expects {_type_name(tp)}, but the value given is {value!r} "
        f"({type(value).__name__}).{hint}",
        fix=fix,
    )


def _takes_str(tp: Any) -> bool:
    """Whether a key of type ``tp`` takes any text (``str``, ``str | None``), so a number meant a text."""
    return tp is str or (typing.get_origin(tp) in (typing.Union, types.UnionType) and str in typing.get_args(tp))


def build(cls: type, raw: dict[str, Any], path: str) -> Any:
    """Build frozen dataclass ``cls`` from ``raw``, checking keys and types.

    >>> build(TrainConfig, {"max_steps": 5}, "train").max_steps
    5
    """
    declared = [name for name in vars(cls).get("__annotations__", {}) if not name.startswith("_")]
    if declared and "__dataclass_fields__" not in vars(cls):  # a subclass without its own @dataclass: keys unseen
        raise SeqtkError(
            f"the [{path}] config class {cls.__module__}.{cls.__qualname__} is not itself a dataclass, so its "
            "keys are invisible to seqtk (every key in the recipe would be 'unknown')",
            fix=f"decorate {cls.__name__} with @dataclass(frozen=True) (from dataclasses import dataclass), "
            "as docs/plugins.md shows",
        )
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{path}.{key}" if path else key
        if key not in known:
            valid = ", ".join(sorted(known)) or "(none)"
            prefix = f"{path}." if path else ""
            raise SeqtkError(
                f"unknown recipe key '{dotted}'.{suggest(dotted, [prefix + k for k in known])} "
                f"Valid keys in [{path}] are: {valid}",
                fix=f"remove or rename '{dotted}'; `seqtk recipes show RECIPE` prints every key",
            )
        kwargs[key] = _convert(hints[key], value, dotted)
    missing = [n for n, f in known.items() if f.default is MISSING and f.default_factory is MISSING and n not in kwargs]
    if missing:
        dotted = f"{path}.{missing[0]}" if path else missing[0]
        raise SeqtkError(f"recipe key '{dotted}' is required but missing", fix=f"add {dotted} = ... to the recipe")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:  # __post_init__ checks
        if isinstance(exc, SeqtkError):
            raise
        raise SeqtkError(f"invalid [{path}] section: {exc}", fix="correct the values named above") from exc


def resolve(
    raw: dict[str, Any], name: str, task_cls: Any, *, stored: bool = False, written: dict[str, Any] | None = None
) -> Recipe:
    """Build a :class:`Recipe` from a raw mapping for ``task_cls``'s config classes.

    ``stored``: ``raw`` is a recipe a run wrote back in full (a checkpoint's), whose keys were checked
    when it ran, so none counts as set by the user. ``written``: the recipe file as read, before the
    overrides that made ``raw`` (:mod:`seqtk.config.source_keys` tells the file's keys from the overrides').
    """
    for key in raw:
        if key not in SECTIONS:
            raise SeqtkError(
                f"unknown recipe section [{key}].{suggest(key, SECTIONS)}",
                fix=f"use only the sections {', '.join(SECTIONS)}",
            )
    classes = {
        "task": TaskSection,
        "data": task_cls.data_config,
        "vocab": task_cls.vocab_config,
        "model": task_cls.model_config,
        "train": TrainConfig,
        "log": LogConfig,
    }
    sections = {}
    for section, cls in classes.items():
        value = raw.get(section, {})
        if not isinstance(value, dict):
            raise SeqtkError(f"'{section}' must be a table ([{section}])", fix=f"write it as a [{section}] section")
        sections[section] = build(cls, value, section)
    recipe = Recipe(name=name, **sections)
    given = () if stored else tuple(raw.get("data", {}))
    check_recipe(recipe, task_cls, given, _written_data(written, classes["data"]))
    return recipe if stored else recipe.replace(data=without_unread(recipe.data))


def _written_data(written: dict[str, Any] | None, cls: type) -> Any:
    """The ``[data]`` section of the recipe file alone, or None when there is none or it does not build
    without the overrides."""
    if written is None or not isinstance(written.get("data", {}), dict):
        return None
    try:
        return build(cls, written.get("data", {}), "data")
    except SeqtkError:
        return None


def task_name(raw: dict[str, Any], source: str) -> str:
    task = raw.get("task")
    if not isinstance(task, dict) or not isinstance(task.get("name"), str):
        raise SeqtkError(
            f"{source} does not name its task",
            fix='add a [task] section with name = "TASK"; `seqtk tasks` lists the tasks',
        )
    return task["name"]


def describe_fields(cls: type) -> list[tuple[str, str, str, str]]:
    """(key, type, default, help) for each field of a config dataclass."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        text = f.metadata.get("help", "")
        if f.metadata.get("sources"):
            text += f" [read by: {', '.join(f.metadata['sources'])}]"
        if f.default is not MISSING:
            default = to_plain(f.default)
        elif f.default_factory is not MISSING:
            default = to_plain(f.default_factory())
        else:
            rows.append((f.name, _type_name(hints[f.name]), "(required)", text))
            continue
        rows.append((f.name, _type_name(hints[f.name]), repr(default), text))
    return rows
