"""Fixtures of the core's tests: the ``toy_task`` plugin and a ``small_disk``. (The settings every test
shares, the plugins' own included, are the repository's conftest.py.)"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

TOY_TASK = Path(__file__).parent / "fixtures" / "toy_task.py"


def _toy_module() -> ModuleType:
    name = "seqtk_tests_toy_task"
    if name not in sys.modules:  # import once: the class must stay the same object
        spec = importlib.util.spec_from_file_location(name, TOY_TASK)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def toy_task(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The fixtures/toy_task.py module, its ``toy_sum`` task registered in a fresh
    registry without entry-point plugins."""
    from seqtk.tasks import registry

    monkeypatch.setenv(registry.ENV_DISABLE, "1")
    monkeypatch.delenv(registry.ENV_PLUGIN_DIR, raising=False)
    registry.reset()
    module = _toy_module()
    registry.default_registry().register(module.ToySumTask, str(TOY_TASK))
    yield module
    registry.reset()


@pytest.fixture
def small_disk(tmp_path):
    """Mounts a real file system of a given size (a tmpfs): its ENOSPC comes from the kernel, at whatever
    write the disk runs out, as on a user's full disk. Needs Linux and root; skipped where it cannot mount."""
    import subprocess

    mounted: list[Path] = []

    def mount(kilobytes: int) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        command = ["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(folder)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"no small tmpfs can be mounted here: {exc}")
        if done.returncode != 0:
            pytest.skip(f"no small tmpfs can be mounted here (needs Linux and root): {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)
