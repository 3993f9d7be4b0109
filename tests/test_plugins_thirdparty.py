"""A third-party plugin package, installed from the fixtures, runs through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "plugin_pkg"
RECIPE = """# seqtk run parity.toml
[task]
name = "parity"

[data]
length = 4
examples = 256

[model]
hidden_size = 16

[train]
max_steps = 40
batch_size = 32
lr = 0.02
eval_every = 20
device = "cpu"

[log]
tensorboard = false
progress = false
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """pip-install the fixture package into a private target folder."""
    root = tmp_path_factory.mktemp("plugin")
    src = root / "src"
    shutil.copytree(FIXTURE, src)
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target), str(src)],
        check=True,
    )
    env = dict(os.environ, PYTHONPATH=str(target), COLUMNS="200")
    env.pop("SEQTK_DISABLE_PLUGIN_AUTOLOAD", None)
    return env


def seqtk(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seqtk", *args], env=env, cwd=cwd, capture_output=True, text=True)


def test_installed_plugin_is_listed_with_its_distribution(installed):
    out = seqtk(installed, "tasks")
    assert out.returncode == 0, out.stderr
    assert "parity" in out.stdout and "seqtk-parity 0.1.0" in out.stdout
    assert "textgen" in out.stdout  # the in-repo plugins still load


def test_installed_plugin_trains_and_predicts(installed, tmp_path):
    recipe = tmp_path / "parity.toml"
    recipe.write_text(RECIPE)
    run = seqtk(installed, "run", str(recipe), "--out", str(tmp_path / "run"))
    assert run.returncode == 0, run.stderr + run.stdout
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    assert ckpt.exists()
    pred = seqtk(installed, "predict", str(ckpt), "0110", "1110", "--json")
    assert pred.returncode == 0, pred.stderr
    predictions = json.loads(pred.stdout)["predictions"]
    assert [p["label"] in ("odd", "even") for p in predictions] == [True, True]


def test_plugin_error_is_one_paragraph(installed, tmp_path):
    recipe = tmp_path / "parity.toml"
    recipe.write_text(RECIPE)
    run = seqtk(installed, "run", str(recipe), "--out", str(tmp_path / "r"), "model.hidden_sise=3")
    assert run.returncode == 1
    assert "Did you mean 'model.hidden_size'?" in run.stderr and "Traceback" not in run.stderr


def test_an_installed_plugins_recipe_keys_are_documented_and_validated(installed, tmp_path):
    doc = seqtk(installed, "recipes", "doc", "--task", "parity")
    assert doc.returncode == 0, doc.stderr
    assert "| `length` | int | `6` | Bits per string. |" in doc.stdout
    recipe = tmp_path / "parity.toml"
    recipe.write_text(RECIPE)
    assert seqtk(installed, "recipes", "validate", str(recipe)).returncode == 0


def test_docs_plugins_md_shows_the_tested_example_verbatim():
    source = (FIXTURE / "seqtk_parity" / "__init__.py").read_text(encoding="utf-8")
    doc = (FIXTURE.parents[2] / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert f"```python\n{source}```" in doc, "copy tests/fixtures/plugin_pkg/seqtk_parity/__init__.py into docs/plugins.md"


def test_docs_plugins_md_check_task_example_passes(installed, tmp_path):
    doc = (FIXTURE.parents[2] / "docs" / "plugins.md").read_text(encoding="utf-8")
    example = doc.split("## 4. Test it", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "test_example.py"
    script.write_text(example + "\n\ntest_parity_trains_saves_and_reloads(__import__('pathlib').Path(r'%s'))\n" % (tmp_path / "w"))
    run = subprocess.run([sys.executable, str(script)], env=installed, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
