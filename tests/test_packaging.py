"""Packaging: every plugin folder ships, every in-repo task is an entry point."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_plugin_folder_is_packaged():
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    for folder in (ROOT / "plugins").iterdir():
        if (folder / "__init__.py").exists():
            assert f"seqtk_plugins.{folder.name}" in packages, f"add seqtk_plugins.{folder.name} to pyproject.toml"


def test_every_core_subpackage_is_packaged():
    packages = set(PYPROJECT["tool"]["setuptools"]["packages"])
    for init in (ROOT / "seqtk").rglob("__init__.py"):
        name = ".".join(init.parent.relative_to(ROOT).parts)
        assert name in packages, f"add {name} to pyproject.toml"


def test_torch_requirement_admits_the_cpu_wheel_and_user_builds():
    torch_req = [d for d in PYPROJECT["project"]["dependencies"] if d.startswith("torch")]
    assert torch_req == ["torch>=2.2"], "a pin would replace a user's own GPU build of torch"


def test_console_script_and_entry_point_group():
    assert PYPROJECT["project"]["scripts"]["seqtk"] == "seqtk.cli.main:entry"
    assert "seqtk.tasks" in PYPROJECT["project"]["entry-points"]


def test_no_plugin_imports_another_plugin():
    # a plugin is one folder that can be copied out as a third-party package: what two share belongs in seqtk
    import re

    for folder in (ROOT / "plugins").iterdir():
        for source in folder.glob("*.py"):
            for other in re.findall(r"seqtk_plugins\.(\w+)", source.read_text(encoding="utf-8")):
                assert other == folder.name, f"{source.relative_to(ROOT)} imports the {other} plugin; move the shared code into seqtk"
