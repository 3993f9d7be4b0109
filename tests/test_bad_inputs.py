"""The bad-input matrix: every mistake a user can make gets one clear paragraph.

Each CLI case builds its inputs in a temporary folder, runs ``seqtk`` in
process, and asserts: a non-zero exit code, no traceback, a message that says
what went wrong and how to fix it (naming the culprit), and that no file that
existed before was changed. The API cases pass wrong shapes and values to the
public building blocks and expect a ``ValueError`` (:class:`SeqtkValueError`)
that says the same two things.
"""

from __future__ import annotations

import hashlib
import os
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from seqtk.cli.main import main
from seqtk.errors import SeqtkValueError
from seqtk.inference.checkpoint import FORMAT, save_checkpoint
from seqtk.tasks import registry

FIXTURES = Path(__file__).parent / "fixtures"
TOY = ["--plugin-dir", str(FIXTURES)]

TOY_RECIPE = textwrap.dedent(
    """\
    # seqtk --plugin-dir tests/fixtures run toy.toml
    [task]
    name = "toy_sum"

    [train]
    max_steps = 4
    batch_size = 16
    eval_every = 2
    device = "cpu"

    [log]
    tensorboard = false
    progress = false
    """
)


# ---------------------------------------------------------------------------
# Building inputs
# ---------------------------------------------------------------------------


def toy(tmp: Path, text: str = TOY_RECIPE, name: str = "toy.toml") -> str:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def toy_with(tmp: Path, old: str, new: str) -> str:
    assert old in TOY_RECIPE
    return toy(tmp, TOY_RECIPE.replace(old, new, 1))


def run_toy(tmp: Path, *extra: str, recipe: str | None = None) -> list[str]:
    return [*TOY, "run", recipe or toy(tmp), *extra, "--out", str(tmp / "run")]


def text_file(tmp: Path, data: bytes, name: str = "corpus.txt") -> str:
    (tmp / name).write_bytes(data)
    return str(tmp / name)


def run_textgen(tmp: Path, path: str) -> list[str]:
    return ["run", "textgen_tiny", f"data.path={path}", "--out", str(tmp / "run")]


def toy_payload(**changes: object) -> dict:
    """A complete toy_sum checkpoint, built without training."""
    import seqtk_tests_toy_task as toy_module  # registered by the toy_registry fixture

    recipe = toy_module.make_recipe("runs")
    payload = {
        "format": FORMAT, "version": 1, "seqtk_version": "0", "task": "toy_sum", "recipe_name": "toy",
        "recipe": recipe.to_dict(), "model": toy_module.SumNet(recipe.model).state_dict(),
        "task_state": {"scale": 1.0}, "step": 2, "rng": {}, "data": {"epoch": 0, "index": 2},
    }
    return payload | changes


def checkpoint(tmp: Path, payload: dict, name: str = "last.pt") -> str:
    folder = tmp / "old" / "checkpoints"
    save_checkpoint(folder / name, payload)
    return str(folder / name)


def raw_file(tmp: Path, data: bytes, name: str = "model.pt") -> str:
    (tmp / name).write_bytes(data)
    return str(tmp / name)


def truncated(tmp: Path) -> str:
    path = checkpoint(tmp, toy_payload())
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) // 3])
    return path


def torch_file(tmp: Path, obj: object, name: str = "foreign.pt") -> str:
    torch.save(obj, tmp / name)
    return str(tmp / name)


def not_torch_zip(tmp: Path) -> str:
    with zipfile.ZipFile(tmp / "archive.pt", "w") as archive:
        archive.writestr("readme.txt", "not a checkpoint")
    return str(tmp / "archive.pt")


class Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def evil(tmp: Path) -> str:
    folder = tmp / "old" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save({"format": FORMAT, "version": 1, "task": "toy_sum", "x": Exploit(tmp / "pwned")}, folder / "last.pt")
    return str(folder / "last.pt")


def a_file(tmp: Path, name: str = "afile") -> Path:
    (tmp / name).write_text("not a folder\n", encoding="utf-8")
    return tmp / name


def link_loop(tmp: Path) -> Path:
    os.symlink(tmp / "loop_b", tmp / "loop_a")
    os.symlink(tmp / "loop_a", tmp / "loop_b")
    return tmp / "loop_a"


def finished_toy_run(tmp: Path) -> Path:
    """A toy run that has finished, with its checkpoints, in tmp/done."""
    assert main([*TOY, "run", toy(tmp, name="first.toml"), "--out", str(tmp / "done")]) == 0
    registry.reset()  # the case's own run loads the plugins again
    return tmp / "done"


_HELD: list = []  # lock files held open by a case, as a run training into the folder holds its own


def busy_run_folder(tmp: Path) -> str:
    """A folder another process is training into right now (its run lock is held)."""
    import fcntl

    run = tmp / "busy"
    run.mkdir()
    handle = open(run / ".seqtk-run.lock", "a+")
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.write("seqtk process 4242\n")
    handle.flush()
    _HELD.append(handle)
    return str(run)


def deep_folder(tmp: Path) -> str:
    deep = tmp / "texts" / "a" / "b" / "c" / "d" / "e"
    deep.mkdir(parents=True)
    (deep / "play.txt").write_text("to be or not to be\n" * 400, encoding="utf-8")
    return str(tmp / "texts")


def layers_recipe(tmp: Path, layer: str) -> str:
    """textgen_tiny's recipe with its layers given as one [[model.layers]] table."""
    from seqtk.config.recipes import locate

    text = locate("textgen_tiny").read_text(encoding="utf-8")
    kept = [ln for ln in text.splitlines() if not ln.startswith(("cell ", "num_layers ", "hidden_size ", "nonlinearity "))]
    return toy(tmp, "\n".join(kept) + "\n\n[[model.layers]]\n" + layer + "\n", "layers.toml")


TABLE_RECIPE = '[task]\nname = "classify"\n[data]\nsource = "file"\npath = "{}"\n[train]\nmax_steps = 2\ndevice = "cpu"\n'


def run_table(tmp: Path, name: str, text: str) -> list[str]:
    """classify trained on the table file ``name`` holding ``text``: its rows are read through ``datasets``."""
    (tmp / name).write_text(text, encoding="utf-8")
    return ["run", toy(tmp, TABLE_RECIPE.format(tmp / name), "table.toml"), "--out", str(tmp / "run")]


def run_empty_parquet(tmp: Path) -> list[str]:
    """classify trained on a parquet file with text and label columns and no rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": pa.array([], pa.string()), "label": pa.array([], pa.string())}), tmp / "t.parquet")
    return ["run", toy(tmp, TABLE_RECIPE.format(tmp / "t.parquet"), "table.toml"), "--out", str(tmp / "run")]


JSONL_LINE_3 = '{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n{"text": "c", "label": "x"} junk\n{"text": "d", "label": "y"}\n'
JSON_LINE_4 = '[\n  {"text": "a", "label": "x"},\n  {"text": "b", "label": "y"}\n  {"text": "c", "label": "x"}\n]\n'


def tag_own_file(tmp: Path) -> list[str]:
    """tag_tiny (which sets data.tags = "universal" for Brown) pointed at a file of the user's, by overrides only."""
    (tmp / "pos.txt").write_text("The/DET dog/NOUN barks/VERB ./.\n", encoding="utf-8")
    return ["run", "tag_tiny", "data.source=files", f"data.path={tmp / 'pos.txt'}", "--out", str(tmp / "run")]


def plugin(tmp: Path, source: str, name: str = "thirdparty.py") -> list[str]:
    folder = tmp / "plugins"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(textwrap.dedent(source))
    return ["--plugin-dir", str(folder)]


HALF_TASK = """\
    from seqtk.tasks.task import Task

    class HalfTask(Task):
        name = "half"
"""

PLUGIN_RECIPE = '[task]\nname = "{}"\n[train]\nmax_steps = 2\ndevice = "cpu"\n[log]\ntensorboard = false\n'


def plugin_run(tmp: Path, source: str, task: str, name: str = "thirdparty.py") -> list[str]:
    return [*plugin(tmp, source, name), "run", toy(tmp, PLUGIN_RECIPE.format(task), "p.toml"), "--out", str(tmp / "run")]


# ---------------------------------------------------------------------------
# The CLI cases: (build the arguments, words the message must hold)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    args: Callable[[Path], list[str]]
    expect: tuple[str, ...]
    fix: str = "Fix:"  # click's usage errors point to --help instead


def case(args: Callable[[Path], list[str]], *expect: str, fix: str = "Fix:") -> Case:
    return Case(args, expect, fix)


CLI_CASES: dict[str, Case] = {
    # -- recipe files ---------------------------------------------------------------
    "toml-unclosed-table": case(lambda t: run_toy(t, recipe=toy(t, "[task\nname = 'toy_sum'\n")), "not valid TOML", "line 1"),
    "toml-duplicate-key": case(lambda t: run_toy(t, recipe=toy(t, TOY_RECIPE + "[train]\nlr = 1\n")), "not valid TOML"),
    "toml-bad-value": case(lambda t: run_toy(t, recipe=toy_with(t, "max_steps = 4", "max_steps = four")), "not valid TOML", "line 6"),
    "recipe-latin1": case(lambda t: run_toy(t, recipe=raw_file(t, b"# caf\xe9\n[task]\n", "l.toml")), "not UTF-8", "save it as UTF-8"),
    "recipe-missing": case(lambda t: run_toy(t, recipe=str(t / "nope.toml")), "does not exist", "nope.toml"),
    "recipe-is-folder": case(lambda t: run_toy(t, recipe=str(t)), "is a folder"),
    "recipe-unknown-name": case(lambda t: [*TOY, "run", "textgen_tiyn"], "no recipe named 'textgen_tiyn'", "Did you mean 'textgen_tiny'"),
    "recipe-no-task": case(lambda t: run_toy(t, recipe=toy(t, "[train]\nmax_steps = 2\n")), "does not name its task", "[task]"),
    "task-unknown": case(lambda t: run_toy(t, recipe=toy_with(t, '"toy_sum"', '"toy_summ"')), "unknown task 'toy_summ'", "Did you mean 'toy_sum'"),
    "section-unknown": case(lambda t: run_toy(t, recipe=toy(t, TOY_RECIPE + "[trian]\nlr = 1\n")), "unknown recipe section [trian]", "Did you mean 'train'"),
    "key-unknown": case(lambda t: run_toy(t, recipe=toy_with(t, "max_steps", "max_step")), "unknown recipe key 'train.max_step'", "Did you mean 'train.max_steps'"),
    "key-unknown-model": case(lambda t: run_toy(t, "model.hiden=3"), "unknown recipe key 'model.hiden'", "model.hidden"),
    "type-string-for-int": case(lambda t: run_toy(t, recipe=toy_with(t, "max_steps = 4", 'max_steps = "4"')), "'train.max_steps' expects int", "'4' (str)"),
    "type-bool-for-float": case(lambda t: run_toy(t, "train.lr=true"), "'train.lr' expects float", "True (bool)"),
    "type-float-for-int": case(lambda t: run_toy(t, "train.batch_size=1.5"), "'train.batch_size' expects int"),
    "type-literal": case(lambda t: run_toy(t, "train.optimizer=adamm"), "'train.optimizer' expects one of", "Did you mean 'adam'"),
    "type-section-not-table": case(lambda t: run_toy(t, recipe=toy(t, "model = 3\n" + TOY_RECIPE)), "'model' must be a table", "[model]"),
    "value-zero-steps": case(lambda t: run_toy(t, "train.max_steps=0"), "train.max_steps must be at least 1"),
    "value-negative-lr": case(lambda t: run_toy(t, "train.lr=-0.1"), "train.lr must be positive"),
    "value-negative-clip": case(lambda t: run_toy(t, "train.grad_clip=-1"), "train.grad_clip must be at least 0"),
    "value-log-every": case(lambda t: run_toy(t, "log.every=0"), "log.every must be at least 1"),
    "device-unknown": case(lambda t: run_toy(t, "--device", "gpu"), "unknown device 'gpu'", "cuda"),
    "precision-fp16-cpu": case(lambda t: run_toy(t, "train.precision=fp16"), "fp16 training is not supported on the CPU", "bf16"),
    # -- overrides and other CLI misuse -----------------------------------------------
    "override-no-equals": case(lambda t: run_toy(t, "train.max_steps"), "cannot read the override 'train.max_steps'", "section.key=value"),
    "override-unknown-section": case(lambda t: run_toy(t, "trian.lr=1"), "unknown recipe section 'trian'", "Did you mean 'train'"),
    "override-section-only": case(lambda t: run_toy(t, "train=3"), "names a section, not a key", "train.KEY=VALUE"),
    "cli-unknown-option": case(lambda t: run_toy(t, "--epochs", "3"), "No such option", fix="--help"),
    "cli-missing-recipe": case(lambda t: ["run"], "Missing argument", fix="--help"),
    "cli-unknown-command": case(lambda t: ["trian"], "No such command", fix="--help"),
    "cli-nproc-zero": case(lambda t: run_toy(t, "--nproc", "0"), "--nproc", fix="--help"),
    "cli-nproc-batch": case(lambda t: run_toy(t, "--nproc", "3"), "batch_size 16 is the global batch", "multiple of 3"),
    "cli-plugin-dir-missing": case(lambda t: ["--plugin-dir", str(t / "nope"), "run", toy(t)], "plugin folder", "does not exist"),
    "cli-resume-nothing": case(lambda t: run_toy(t, "--resume"), "the run to resume", "does not exist"),
    "cli-resume-missing-path": case(lambda t: [*TOY, "run", toy(t), f"--resume={t / 'gone'}"], "does not exist", "--resume"),
    "cli-predict-no-input": case(lambda t: ["predict", checkpoint(t, toy_payload())], "no input"),
    # -- data files -------------------------------------------------------------------
    "data-missing": case(lambda t: run_textgen(t, str(t / "none.txt")), "does not exist", "none.txt"),
    "data-empty": case(lambda t: run_textgen(t, text_file(t, b"")), "is empty"),
    "data-whitespace": case(lambda t: run_textgen(t, text_file(t, b" \n\n \t\n")), "is empty"),
    "data-binary-nul": case(lambda t: run_textgen(t, text_file(t, b"\x00" * 4000)), "binary file", "NUL"),
    "data-binary-png": case(lambda t: run_textgen(t, text_file(t, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)), "binary file"),
    "data-bad-utf8-byte": case(lambda t: run_textgen(t, text_file(t, b"some text \xff\xfe more" * 300)), "not UTF-8", "0xff"),
    "data-latin1": case(lambda t: run_textgen(t, text_file(t, "caf\xe9 ".encode("latin-1") * 3000)), "not UTF-8", "line 1", "iconv"),
    "data-utf16": case(lambda t: run_textgen(t, text_file(t, ("to be or not " * 900).encode("utf-16"))), "UTF-16", "iconv -f utf-16"),
    "data-too-short": case(lambda t: run_textgen(t, text_file(t, b"abc")), "split is empty"),
    "data-folder-no-txt": case(lambda t: run_textgen(t, str(t)), "has no .txt files"),
    "data-folder-too-deep": case(lambda t: run_textgen(t, deep_folder(t)), "more than 4 levels deep", "a/b/c/d/e"),
    "data-link-loop": case(lambda t: run_textgen(t, str(link_loop(t))), "does not exist", "loop_a"),
    "vectors-misspelt-name": case(
        lambda t: ["run", "classify_tiny", "model.pretrained_vectors=glove-6b-300d", "--out", str(t / "r")],
        "'glove-6b-300d' are neither a file nor a vector set", "did you mean 'glove-6b-100d'",
    ),
    "vectors-wrong-dim": case(
        lambda t: ["run", "classify_tiny", "model.pretrained_vectors=glove-6b-100d", "--out", str(t / "r")],
        "holds 100-dimensional vectors but model.embedding_dim is 32", "set model.embedding_dim = 100",
    ),
    "vectors-missing-file": case(
        lambda t: ["run", "classify_tiny", f"model.pretrained_vectors={t / 'glove.txt'}", "--out", str(t / "r")],
        "the vectors file", "does not exist",
    ),
    "table-jsonl-bad-line": case(
        lambda t: run_table(t, "x.jsonl", JSONL_LINE_3), "line 3 is not one JSON object (Extra data at column 29)",
        '{"text": "c", "label": "x"} junk', "correct or delete line 3",
    ),
    "table-jsonl-array-line": case(
        lambda t: run_table(t, "x.jsonl", '{"text": "a", "label": "x"}\n["b", "y"]\n'),
        "line 2 is not one JSON object (it is a JSON array): [\"b\", \"y\"]",
    ),
    "table-json-bad-line": case(
        lambda t: run_table(t, "x.json", JSON_LINE_4), "Expecting ',' delimiter at line 4, column 3", "correct line 4"
    ),
    "table-json-item-not-object": case(
        lambda t: run_table(t, "x.json", '[{"text": "a", "label": "x"}, "b"]'), "item 2 of the list", "is not a JSON object"
    ),
    "table-csv-header-only": case(
        lambda t: run_table(t, "x.csv", "text,label\n"), "has a header (text, label) and no rows", "add rows to it"
    ),
    "table-tsv-header-only": case(
        lambda t: run_table(t, "x.tsv", "text\tlabel\n\n"), "has a header (text, label) and no rows", "add rows to it"
    ),
    "table-json-empty-list": case(lambda t: run_table(t, "x.json", "[]\n"), "has no records: its list is empty", "add rows"),
    "table-jsonl-empty-objects": case(
        lambda t: run_table(t, "x.jsonl", "{}\n{}\n"), "has no records: every line is an empty JSON object", "add rows"
    ),
    "table-parquet-no-rows": case(run_empty_parquet, "has columns (text, label) and no rows", "add rows"),
    "tag-brown-tags-on-own-file": case(tag_own_file, 'data.tags = "universal" converts Brown tags', "set data.tags=stripped", 'data.source = "brown"'),
    "data-crop-out-of-range": case(lambda t: ["run", "classify_tiny", "data.crop=1.5", "--out", str(t / "r")], "data.crop must be between 0 and 1"),
    # -- run folders --------------------------------------------------------------------
    "out-under-a-file": case(lambda t: [*TOY, "run", toy(t), "--out", str(a_file(t) / "run")], "is a file, not a folder"),
    "out-is-a-file": case(lambda t: [*TOY, "run", toy(t), "--out", str(a_file(t))], "is a file, not a folder"),
    "out-in-a-link-loop": case(lambda t: [*TOY, "run", toy(t), "--out", str(link_loop(t) / "run")], "link loop"),
    "out-second-run-same-folder": case(
        lambda t: [*TOY, "run", toy(t), "--out", str(finished_toy_run(t))], "already holds a training run", "--resume"
    ),
    "out-being-trained-now": case(
        lambda t: [*TOY, "run", toy(t), "--out", busy_run_folder(t)], "is being trained into right now by seqtk process 4242",
        "wait for that run to end",
    ),
    "out-holds-user-files": case(
        lambda t: [*TOY, "run", toy(t), "--out", str(a_file(t, "notes.txt").parent)], "already holds files that no seqtk run wrote"
    ),
    "inspect-out-folder": case(lambda t: ["inspect", "gradients", "toy_first_bit", "--out", str(t) + "/"], "is a folder", "grads.png"),
    "inspect-out-not-png": case(lambda t: ["inspect", "gradients", "toy_first_bit", "--out", str(t / "g.svg")], "does not end in .png"),
    # -- layers -------------------------------------------------------------------------
    "layer-unknown-modern-cell": case(lambda t: ["run", "textgen_tiny", "model.cell=\"min_gruu\"", "--out", str(t / "r")], "Did you mean 'min_gru'"),
    "layer-proj-on-gru": case(
        lambda t: ["run", layers_recipe(t, 'cell = "gru"\nhidden_size = 32\nproj_size = 8'), "--out", str(t / "r")], "proj_size applies to lstm"
    ),
    "layer-weight-drop-on-min-gru": case(
        lambda t: ["run", layers_recipe(t, 'cell = "min_gru"\nhidden_size = 32\nweight_drop = 0.2'), "--out", str(t / "r")],
        "weight_drop applies to the fused cells",
    ),
    "layer-heads-not-dividing": case(
        lambda t: ["run", layers_recipe(t, 'cell = "slstm"\nhidden_size = 30\nheads = 4'), "--out", str(t / "r")],
        "must be divisible by heads",
    ),
    # -- checkpoints --------------------------------------------------------------------
    "ckpt-missing": case(lambda t: ["eval", str(t / "none.pt")], "does not exist"),
    "ckpt-folder": case(lambda t: ["eval", str(t)], "is a folder"),
    "ckpt-empty": case(lambda t: ["eval", raw_file(t, b"")], "truncated or corrupt"),
    "ckpt-truncated": case(lambda t: ["eval", truncated(t)], "truncated or corrupt", "best.pt"),
    "ckpt-truncated-resume": case(lambda t: [*run_toy(t), f"--resume={truncated(t)}"], "truncated or corrupt"),
    "ckpt-text-file": case(lambda t: ["eval", raw_file(t, b"just some text\n")], "not a PyTorch checkpoint file", "b'just some text"),
    "ckpt-foreign-zip": case(lambda t: ["eval", not_torch_zip(t)], "zip archive, not a PyTorch checkpoint"),
    "ckpt-foreign-state-dict": case(lambda t: ["eval", torch_file(t, torch.nn.Linear(2, 2).state_dict())], "bare model state_dict"),
    "ckpt-foreign-tensor": case(lambda t: ["generate", torch_file(t, torch.zeros(3))], "single tensor of shape (3,)"),
    "ckpt-foreign-lightning": case(lambda t: ["eval", torch_file(t, {"pytorch-lightning_version": "2", "state_dict": {}})], "Lightning"),
    "ckpt-other-format": case(lambda t: ["eval", torch_file(t, {"format": "other"})], "its format is 'other'"),
    "ckpt-newer-version": case(lambda t: ["eval", checkpoint(t, toy_payload(version=99))], "version 99", "upgrade seqtk"),
    "ckpt-other-task-resume": case(
        lambda t: [*run_toy(t), f"--resume={checkpoint(t, toy_payload(task='textgen'))}"], "written by task 'textgen'", "toy_sum"
    ),
    "ckpt-unknown-task": case(lambda t: [*TOY, "eval", checkpoint(t, toy_payload(task="gone_task"))], "unknown task 'gone_task'"),
    "ckpt-wrong-shapes": case(
        lambda t: [*TOY, "eval", checkpoint(t, toy_payload(model={"head.weight": torch.zeros(1, 99)}))], "do not fit the model"
    ),
    "ckpt-unsafe-eval": case(lambda t: ["eval", evil(t)], "would run code", "posix.system"),
    "ckpt-unsafe-resume": case(lambda t: [*run_toy(t), f"--resume={evil(t)}"], "would run code", "refuses it"),
    # -- third-party plugins ---------------------------------------------------------------
    "plugin-raises-on-import": case(
        lambda t: plugin_run(t, "raise RuntimeError('no GPU driver')\n", "broken"), "unknown task 'broken'", "no GPU driver"
    ),
    "plugin-syntax-error": case(lambda t: plugin_run(t, "def oops(:\n", "broken"), "thirdparty.py", "SyntaxError"),
    "plugin-missing-methods": case(
        lambda t: plugin_run(t, HALF_TASK, "half"), "task 'half'", "does not implement prepare (or its hooks load_data), train_loader, eval_batches, build_model, step"
    ),
    "plugin-no-task-class": case(lambda t: plugin_run(t, "X = 1\n", "nothing"), "defines no Task subclass"),
    "plugin-validate-half": case(
        lambda t: [*plugin(t, HALF_TASK), "recipes", "validate", toy(t, PLUGIN_RECIPE.format("half"), "p.toml")],
        "does not implement prepare (or its hooks load_data), train_loader",
    ),
    "plugin-duplicate-name": case(
        lambda t: [*plugin(t, HALF_TASK, "a.py"), *plugin_run(t, HALF_TASK, "half", "b.py")], "two plugins register the task 'half'"
    ),
    "plugin-partly-implemented": case(
        lambda t: plugin_run(t, HALF_TASK.replace('name = "half"', 'name = "half"\n        def prepare(self):\n            raise KeyError("labels")'), "half"),
        "does not implement train_loader",
    ),
}


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def toy_registry(monkeypatch, tmp_path):
    """A fresh registry per case (tasks from entry points and --plugin-dir), run from tmp_path."""
    from conftest import _toy_module

    _toy_module()  # makes `seqtk_tests_toy_task` importable for toy_payload
    monkeypatch.delenv(registry.ENV_PLUGIN_DIR, raising=False)
    monkeypatch.chdir(tmp_path)
    registry.reset()
    yield
    registry.reset()


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_bad_input(name, tmp_path, capsys, toy_registry):
    bad = CLI_CASES[name]
    args = bad.args(tmp_path)
    before = snapshot(tmp_path)
    code = main(args)
    out, err = capsys.readouterr()
    assert code != 0, out + err
    assert "Traceback" not in out + err and "internal error" not in err, err
    message = " ".join(err.split())  # rich wraps long lines
    for words in (*bad.expect, bad.fix):
        assert words in message, f"{words!r} not in {message!r}"
    after = snapshot(tmp_path)
    assert {k: after.get(k) for k in before} == before, "an existing file was changed"
    assert not (tmp_path / "pwned").exists()


# ---------------------------------------------------------------------------
# Wrong shapes and values passed to the public API
# ---------------------------------------------------------------------------


def _vocab():
    from seqtk.text.vocab import Vocab

    return Vocab.build([["a", "b", "c"]], num_oov_buckets=2)


def _embedding():
    from seqtk.nn.embedding import Embedding

    return Embedding(_vocab(), 4)


def _encoder():
    from seqtk.nn.encoders import LayerSpec, StackedEncoder

    return StackedEncoder(3, [LayerSpec("gru", 5)])


def _spec(**fields):
    from seqtk.nn.encoders import LayerSpec

    return LayerSpec.from_any(fields)


def _lm(**kwargs):
    from seqtk.nn.encoders import LayerSpec
    from seqtk.nn.lm import CharLM

    return CharLM(vocab_size=7, embedding_dim=4, layers=[LayerSpec("gru", 6)], **kwargs)


API_CASES: dict[str, tuple[Callable[[], object], tuple[str, ...]]] = {
    "vocab-build-from-string": (lambda: _vocab().build("abc"), ("single string",)),
    "vocab-negative-buckets": (lambda: _vocab().__class__(["a"], num_oov_buckets=-1), ("num_oov_buckets", "-1")),
    "vocab-duplicate-token": (lambda: _vocab().__class__(["a", "a"]), ("'a'", "more than once")),
    "vocab-decode-out-of-range": (lambda: _vocab().decode([0, 99]), ("99",)),
    "vocab-bos-missing": (lambda: _vocab().encode(["a"], add_bos=True), ("<bos>",)),
    "embedding-float-ids": (lambda: _embedding()(torch.zeros(2, 3)), ("LongTensor", "torch.float32")),
    "embedding-id-too-large": (lambda: _embedding()(torch.tensor([[1, 50]])), ("0..5", "50")),
    "embedding-zero-dim": (lambda: __import__("seqtk.nn.embedding", fromlist=["Embedding"]).Embedding(5, 0), ("embedding_dim",)),
    "encoder-2d-input": (lambda: _encoder()(torch.zeros(4, 3)), ("(B, T, 3)", "(4, 3)", "unsqueeze")),
    "encoder-wrong-features": (lambda: _encoder()(torch.zeros(2, 5, 4)), ("(B, T, 3)", "input_size=4")),
    "encoder-int-input": (lambda: _encoder()(torch.zeros(2, 5, 3, dtype=torch.long)), ("floating-point", "embedding")),
    "encoder-lengths-shape": (lambda: _encoder()(torch.zeros(2, 5, 3), lengths=torch.tensor([5])), ("lengths", "(2,)")),
    "encoder-lengths-too-long": (lambda: _encoder()(torch.zeros(2, 5, 3), lengths=torch.tensor([5, 9])), ("1..5", "9")),
    "encoder-no-layers": (lambda: __import__("seqtk.nn.encoders", fromlist=["x"]).StackedEncoder(3, []), ("no layers",)),
    "lm-targets-shape": (lambda: _lm()(torch.zeros(2, 5, dtype=torch.long), targets=torch.zeros(2, 4, dtype=torch.long)), ("targets", "(2, 5)")),
    "lm-tie-mismatch": (lambda: _lm(tie_weights=True), ("tie_weights", "hidden_size")),
    "lm-dropout": (lambda: _lm(dropout=1.5), ("dropout", "1.5")),
    "lm-pad-id-outside": (lambda: _lm(pad_id=9), ("pad_id 9", "0..6")),
    "lm-generate-negative-length": (lambda: _lm().generate(torch.tensor([1]), -1), ("max_new_tokens", "-1")),
    "encoder-not-a-tensor": (lambda: _encoder()([[0.0, 1.0, 2.0]]), ("expects a tensor", "list")),
    "layer-proj-not-smaller": (lambda: _spec(cell="lstm", hidden_size=8, proj_size=8), ("proj_size (8)", "smaller than hidden_size")),
    "layer-weight-drop-one": (lambda: _spec(cell="lstm", weight_drop=1.0), ("weight_drop", "[0, 1)")),
    "layer-locked-not-bool": (lambda: _spec(cell="gru", locked_dropout="yes"), ("locked_dropout", "'yes'")),
    "layer-heads-on-lstm": (lambda: _spec(cell="lstm", heads=2), ("heads applies to the xLSTM cells",)),
    "layer-heads-zero": (lambda: _spec(cell="mlstm", heads=0), ("heads must be an integer >= 1",)),
    "layer-proj-reference": (lambda: _spec(cell="lstm", proj_size=4, kernel="reference"), ("fused LSTM only",)),
    "min-gru-state-shape": (
        lambda: __import__("seqtk.nn.encoders", fromlist=["x"]).StackedEncoder(3, [{"cell": "min_gru", "hidden_size": 4}])(
            torch.zeros(2, 5, 3), state=[torch.zeros(1, 2, 5)]),
        ("state for layer 1", "(1, 2, 4)"),
    ),
    "encoder-bad-input-size": (lambda: __import__("seqtk.nn.encoders", fromlist=["x"]).StackedEncoder(0, [{"cell": "gru"}]), ("input_size", "0")),
}


@pytest.mark.parametrize("name", API_CASES)
def test_api_bad_input(name):
    build, expect = API_CASES[name]
    with pytest.raises(ValueError) as info:
        build()
    assert isinstance(info.value, SeqtkValueError)
    message = str(info.value)
    for words in expect:
        assert words in message, f"{words!r} not in {message!r}"
    assert "Fix:" in message, message


def test_the_matrix_is_large_enough():
    assert len(CLI_CASES) + len(API_CASES) >= 100


def test_a_plugin_bug_is_an_internal_error_that_names_the_plugin(tmp_path, capsys, toy_registry):
    source = (FIXTURES / "toy_task.py").read_text().replace('name = "toy_sum"', 'name = "buggy"')
    source = source.replace("    def prepare(self) -> None:\n", "    def prepare(self) -> None:\n        raise KeyError('labels')\n")
    args = plugin_run(tmp_path, source, "buggy", "buggy_task.py")
    before = snapshot(tmp_path)
    code = main(args)
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "Traceback" not in err
    assert "internal error: KeyError: 'labels' (raised at" in err and "buggy_task.py" in err
    assert "report it to the authors of" in err and "buggy_task.py" in err.split("report it to")[1]
    assert snapshot(tmp_path) == before
