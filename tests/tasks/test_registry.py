"""The task registry: discovery, duplicates, suggestions and broken plugins."""

from __future__ import annotations

import textwrap
from importlib.metadata import EntryPoint

import pytest

import seqtk.tasks.registry as registry
from seqtk.errors import SeqtkError
from seqtk.tasks.registry import Registry
from seqtk.tasks.task import Task

TASK_SRC = """
from seqtk.tasks.task import Task

class {cls}(Task):
    name = "{name}"
    description = "a test task"
"""


def write_plugin(folder, module, name, cls="MyTask"):
    folder.mkdir(exist_ok=True)
    (folder / f"{module}.py").write_text(TASK_SRC.format(name=name, cls=cls))


@pytest.fixture
def no_autoload(monkeypatch):
    monkeypatch.setenv(registry.ENV_DISABLE, "1")
    monkeypatch.delenv(registry.ENV_PLUGIN_DIR, raising=False)


def test_plugin_dir_tasks_are_found(tmp_path, no_autoload):
    write_plugin(tmp_path / "p", "alpha", "alpha_task")
    reg = Registry(plugin_dirs=[tmp_path / "p"]).load()
    assert reg.get("alpha_task").name == "alpha_task"
    assert reg.tasks["alpha_task"].source.endswith("alpha.py")


def test_the_same_plugin_folder_given_again_in_one_process_is_not_loaded_twice(tmp_path, no_autoload):
    # seqtk.cli.main.main(["--plugin-dir", D, "run", ...]) then main(["--plugin-dir", D, "eval", ...]) in one
    # process imported D again, and its new class clashed with the first: "two plugins register the task
    # 'gamma_task': D/gamma.py and D/gamma.py"
    write_plugin(tmp_path / "p", "gamma", "gamma_task")
    registry.reset()
    try:
        first = registry.default_registry([tmp_path / "p"]).get("gamma_task")
        assert registry.default_registry([tmp_path / "p"]).get("gamma_task") is first
    finally:
        registry.reset()


def test_env_plugin_dir(tmp_path, monkeypatch, no_autoload):
    write_plugin(tmp_path / "p", "beta", "beta_task")
    monkeypatch.setenv(registry.ENV_PLUGIN_DIR, str(tmp_path / "p"))
    assert Registry().load().get("beta_task").name == "beta_task"


def test_unknown_name_lists_known_and_suggests(tmp_path, no_autoload):
    write_plugin(tmp_path / "p", "alpha", "sentiment")
    reg = Registry(plugin_dirs=[tmp_path / "p"])
    with pytest.raises(SeqtkError) as exc:
        reg.get("sentimnt")
    assert "Did you mean 'sentiment'?" in exc.value.message and "Known tasks: sentiment" in exc.value.message


def test_duplicate_name_raises_naming_both_sources(tmp_path, no_autoload):
    write_plugin(tmp_path / "p", "one", "same", cls="A")
    write_plugin(tmp_path / "p", "two", "same", cls="B")
    with pytest.raises(SeqtkError) as exc:
        Registry(plugin_dirs=[tmp_path / "p"]).load()
    assert "one.py" in exc.value.message and "two.py" in exc.value.message


def test_broken_plugin_is_reported_and_others_work(tmp_path, no_autoload):
    write_plugin(tmp_path / "p", "good", "good_task")
    (tmp_path / "p" / "broken.py").write_text("import no_such_module_xyz\n")
    reg = Registry(plugin_dirs=[tmp_path / "p"]).load()
    assert reg.get("good_task").name == "good_task"
    assert len(reg.failures) == 1 and "no_such_module_xyz" in reg.failures[0].error
    with pytest.raises(SeqtkError, match="failed to load: .*broken.py"):
        reg.get("missing")


def test_entry_points_are_loaded_lazily_and_record_distribution(monkeypatch):
    class EpTask(Task):
        name = "ep_task"

    calls = []

    class FakeDist:
        name, version = "fake-dist", "9.9"

    class FakeEP:
        name, value = "ep_task", "fake:EpTask"
        dist = FakeDist()

        def load(self):
            calls.append(1)
            return EpTask

    monkeypatch.delenv(registry.ENV_DISABLE, raising=False)
    monkeypatch.setattr(registry, "entry_points", lambda group: [FakeEP()] if group == registry.GROUP else [])
    reg = Registry()
    assert calls == []  # nothing is imported before the first lookup
    assert reg.get("ep_task") is EpTask
    assert reg.tasks["ep_task"].source == "fake-dist 9.9 (ep_task = fake:EpTask)"


def test_autoload_can_be_disabled(monkeypatch):
    monkeypatch.setenv(registry.ENV_DISABLE, "1")
    monkeypatch.setattr(registry, "entry_points", lambda group: pytest.fail("entry points were read"))
    assert Registry().load().tasks == {}


def test_entry_point_to_non_task_is_a_failure(monkeypatch):
    ep = EntryPoint(name="x", value="os:path", group=registry.GROUP)
    monkeypatch.delenv(registry.ENV_DISABLE, raising=False)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep])
    reg = Registry().load()
    assert reg.failures and "does not point at a seqtk Task subclass" in reg.failures[0].error


def test_in_repo_plugins_register_through_entry_points():
    eps = {ep.name: ep.value for ep in registry.entry_points(group=registry.GROUP)}
    assert eps.get("textgen") == "seqtk_plugins.textgen.task:TextGenTask"


def test_import_seqtk_has_no_side_effects():
    import subprocess
    import sys

    code = textwrap.dedent(
        """
        import sys, seqtk
        assert "torch" not in sys.modules, "import seqtk imported torch"
        assert not any(m.startswith("seqtk_plugins") for m in sys.modules)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_task_whose_plugin_failed_to_load_is_named_as_installed_but_broken(monkeypatch):
    ep = EntryPoint(name="broken", value="seqtk_no_such_module_xyz:BrokenTask", group=registry.GROUP)
    monkeypatch.delenv(registry.ENV_DISABLE, raising=False)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep])
    with pytest.raises(SeqtkError) as exc:
        Registry().get("broken")
    assert "the task 'broken' is installed, but its plugin" in exc.value.problem
    assert "seqtk_no_such_module_xyz" in exc.value.problem and "fix the plugin" in exc.value.fix


def test_an_entry_point_named_unlike_its_task_says_which_name_counts(monkeypatch):
    class Balanced(Task):
        name = "balanced"

    class FakeEP:
        name, value, dist = "paren", "pkg:Balanced", None

        def load(self):
            return Balanced

    monkeypatch.delenv(registry.ENV_DISABLE, raising=False)
    monkeypatch.setattr(registry, "entry_points", lambda group: [FakeEP()])
    reg = Registry()
    assert reg.get("balanced") is Balanced
    with pytest.raises(SeqtkError, match="entry point 'paren' .* loads a task named 'balanced'") as exc:
        reg.get("paren")
    assert "task.name = 'balanced'" in exc.value.fix


def test_a_plugin_file_named_unlike_its_task_is_no_alias_and_fixes_are_not_doubled(tmp_path, no_autoload):
    write_plugin(tmp_path / "p", "my_tasks", "good_task")
    (tmp_path / "p" / "empty.py").write_text("X = 1\n")
    reg = Registry(plugin_dirs=[tmp_path / "p"]).load()
    assert reg.get("good_task").name == "good_task" and reg.aliases == {}
    with pytest.raises(SeqtkError) as exc:
        reg.get("empty")
    assert exc.value.message.count("Fix:") == 1 and "defines no Task subclass" in exc.value.problem
