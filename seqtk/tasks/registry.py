"""The task registry: tasks come from the ``seqtk.tasks`` entry-point group.

Discovery is lazy: nothing is imported until the first lookup. Every entry
point is loaded on its own, so one broken plugin is reported (``seqtk tasks``
shows its error) while the others keep working. The registry records which
distribution supplied each task, and a duplicate name raises, naming both.

Unpackaged plugins: a folder of ``*.py`` files or packages, given by
``--plugin-dir`` or ``SEQTK_PLUGIN_DIR`` (several joined with ``os.pathsep``);
each module that defines Task subclasses with a ``name`` contributes them.
``SEQTK_DISABLE_PLUGIN_AUTOLOAD=1`` turns entry-point discovery off, for
isolated test runs.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import sys
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from seqtk.errors import SeqtkError, suggest
from seqtk.tasks.step import record_source

GROUP = "seqtk.tasks"
ENV_PLUGIN_DIR = "SEQTK_PLUGIN_DIR"
ENV_DISABLE = "SEQTK_DISABLE_PLUGIN_AUTOLOAD"


@dataclass
class TaskEntry:
    name: str
    cls: type
    source: str  # "distribution 1.0 (entry point module:attr)" or a file path


@dataclass
class PluginFailure:
    source: str
    error: str
    detail: str = ""
    name: str = ""  # the entry point's (or plugin file's) name: usually the task's
    fix: str = ""

    @property
    def message(self) -> str:
        return f"{self.error}. Fix: {self.fix}." if self.fix else self.error


@dataclass
class Registry:
    """Known tasks, and plugins that failed to load."""

    tasks: dict[str, TaskEntry] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    plugin_dirs: list[Path] = field(default_factory=list)
    #: entry-point names that differ from the name of the task they load
    aliases: dict[str, str] = field(default_factory=dict)
    _loaded: bool = False

    def register(self, cls: type, source: str) -> None:
        from seqtk.tasks.task import Task

        if not (isinstance(cls, type) and issubclass(cls, Task)):
            raise SeqtkError(f"{source} does not point at a seqtk Task subclass (got {cls!r})", fix="point the entry point at a class that subclasses seqtk.tasks.task.Task")
        name = getattr(cls, "name", "")
        if not name:
            raise SeqtkError(f"the task class {cls.__qualname__} from {source} has no name", fix="set the class attribute name = 'my_task'")
        old = self.tasks.get(name)
        if old is not None and old.cls is not cls:
            raise SeqtkError(
                f"two plugins register the task '{name}': {old.source} and {source}",
                fix="uninstall one of them, or rename one task",
            )
        self.tasks[name] = TaskEntry(name, cls, source)
        record_source(cls, source)

    def load(self) -> Registry:
        """Discover tasks once (entry points, then plugin folders)."""
        if self._loaded:
            return self
        self._loaded = True
        if os.environ.get(ENV_DISABLE, "").lower() not in ("1", "true", "yes"):
            for ep in entry_points(group=GROUP):
                dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "unknown distribution"
                self._load_one(lambda ep=ep: ep.load(), f"{dist} ({ep.name} = {ep.value})", ep.name, entry_point=True)
        for folder in self.plugin_dirs + _env_dirs():
            self._load_dir(folder)
        return self

    def _load_one(self, loader, source: str, name: str, entry_point: bool = False) -> None:
        try:
            obj = loader()
            classes = obj if isinstance(obj, (list, tuple)) else [obj]
            for cls in classes:
                self.register(cls, source)
            if entry_point and len(classes) == 1 and getattr(classes[0], "name", name) != name:
                self.aliases[name] = classes[0].name
        except SeqtkError as exc:
            if "two plugins register" in exc.problem:
                raise
            self.failures.append(PluginFailure(source, exc.problem, name=name, fix=exc.fix or ""))
        except Exception as exc:  # a broken plugin must not break the others
            self.failures.append(PluginFailure(source, f"{type(exc).__name__}: {exc}", traceback.format_exc(), name))

    def _load_dir(self, folder: Path) -> None:
        if folder.exists() and not folder.is_dir():
            raise SeqtkError(
                f"the plugin folder '{folder}' is a file, not a folder",
                fix=f"pass the folder that holds the plugin files to --plugin-dir (or {ENV_PLUGIN_DIR}), "
                f"e.g. --plugin-dir {folder.parent}",
            )
        if not folder.is_dir():
            raise SeqtkError(f"the plugin folder '{folder}' does not exist", fix=f"check --plugin-dir or {ENV_PLUGIN_DIR}")
        for path in sorted(folder.iterdir()):
            if path.name.startswith(("_", ".")):
                continue
            if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()):
                self._load_one(lambda path=path: _task_classes(_import_path(path)), str(path), path.stem)

    def get(self, name: str) -> type:
        self.load()
        if name in self.tasks:
            return self.tasks[name].cls
        for failure in self.failures:
            if failure.name == name:
                raise SeqtkError(
                    f"the task '{name}' is installed, but its plugin {failure.source} failed to load: {failure.error}",
                    fix=failure.fix or "fix the plugin (`seqtk tasks` shows the full error), or reinstall or upgrade it",
                )
        if name in self.aliases:
            real = self.aliases[name]
            raise SeqtkError(
                f"unknown task '{name}': the plugin entry point '{name}' ({self.tasks[real].source}) "
                f"loads a task named '{real}'; recipes and checkpoints use the task's name",
                fix=f"set task.name = '{real}' in the recipe, or give the entry point and the class the same name",
            )
        known = sorted(self.tasks)
        broken = [f"{f.source} ({f.error})" for f in self.failures]
        note = f" Plugins that failed to load: {'; '.join(broken)}." if broken else ""
        raise SeqtkError(
            f"unknown task '{name}'.{suggest(name, known)} Known tasks: {', '.join(known) or '(none)'}.{note}",
            fix="use a name from `seqtk tasks`, or install the plugin that provides it"
            + (" (or fix one that failed to load)" if broken else ""),
        )


def _env_dirs() -> list[Path]:
    value = os.environ.get(ENV_PLUGIN_DIR, "")
    return [Path(p) for p in value.split(os.pathsep) if p]


def _import_path(path: Path):
    name = f"seqtk_local_plugin_{path.stem}"
    target = path / "__init__.py" if path.is_dir() else path
    spec = importlib.util.spec_from_file_location(name, target, submodule_search_locations=[str(path)] if path.is_dir() else None)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _task_classes(module) -> list[type]:
    from seqtk.tasks.task import Task

    found = [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Task) and obj is not Task and obj.__module__ == module.__name__ and getattr(obj, "name", "")
    ]
    if not found:
        raise SeqtkError(f"{module.__file__} defines no Task subclass with a name", fix="define class MyTask(seqtk.tasks.task.Task) with name = 'my_task'")
    return found


_default: Registry | None = None


def default_registry(plugin_dirs: list[Path] | None = None) -> Registry:
    """The process-wide registry, created on first use."""
    global _default
    if _default is None:
        _default = Registry(plugin_dirs=list(plugin_dirs or []))
    elif plugin_dirs:  # a folder loaded already is not imported again: its classes would be new objects
        new = [p for p in dict.fromkeys(plugin_dirs) if p not in _default.plugin_dirs]
        _default.plugin_dirs.extend(new)
        if _default._loaded:
            for p in new:
                _default._load_dir(p)
    return _default


def get_task(name: str) -> type:
    return default_registry().get(name)


def reset() -> None:
    """Forget the process-wide registry (tests)."""
    global _default
    _default = None
