"""The bad-input matrix: every mistake a user can make gets one clear paragraph, listed in docs/bad_inputs.md.

Each CLI case builds its inputs in a temporary folder, runs ``seqtk`` in
process, and asserts: a non-zero exit code, no traceback, a message that says
what went wrong and how to fix it (naming the culprit), and that no file that
existed before was changed. The API cases pass wrong shapes and values to the
public building blocks and expect a ``ValueError`` (:class:`SeqtkValueError`)
that says the same two things.

docs/bad_inputs.md lists every case with what the user did and the message it
gives, generated from the cases here: each case checks that its row there holds
the message it printed just now, and ``test_docs_bad_inputs_md_lists_every_case``
that the page has a row for each case and no other. After changing a case or a
message, write the page again with::

    SEQTK_WRITE_BAD_INPUTS=1 python -m pytest tests/test_bad_inputs.py
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
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

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "bad_inputs.md"
WRITE = os.environ.get("SEQTK_WRITE_BAD_INPUTS", "") not in ("", "0")
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


def finished_toy_run(tmp: Path, name: str = "done") -> Path:
    """A toy run that has finished, with its checkpoints, in tmp/NAME."""
    assert main([*TOY, "run", toy(tmp, name="first.toml"), "--out", str(tmp / name)]) == 0
    registry.reset()  # the case's own run loads the plugins again
    return tmp / name


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


def loose_checkpoint(tmp: Path) -> str:
    """The last.pt of a finished toy run, copied out of its checkpoints/ folder as DIR/model.pt."""
    shutil.copy(finished_toy_run(tmp) / "checkpoints" / "last.pt", tmp / "model.pt")
    return str(tmp / "model.pt")


def folder_of(tmp: Path, name: str, file: str) -> str:
    """The folder tmp/NAME holding one small file."""
    (tmp / name).mkdir()
    (tmp / name / file).write_text("x\n", encoding="utf-8")
    return str(tmp / name)


def bare_folder(tmp: Path, name: str) -> str:
    (tmp / name).mkdir()
    return str(tmp / name)


def write(tmp: Path, name: str, text: str) -> str:
    (tmp / name).write_text(text, encoding="utf-8")
    return str(tmp / name)


def run_on(recipe: str, *overrides: str) -> Callable[[Path], list[str]]:
    """``seqtk run RECIPE OVERRIDES --out DIR/run``."""
    return lambda t: ["run", recipe, *overrides, "--out", str(t / "run")]


def run_file(recipe: str, name: str, text: str, *overrides: str, key: str = "data.path") -> Callable[[Path], list[str]]:
    """``seqtk run RECIPE key=DIR/NAME OVERRIDES``, the file NAME holding ``text``."""
    return lambda t: ["run", recipe, f"{key}={write(t, name, text)}", *overrides, "--out", str(t / "run")]


def classify_file(name: str, text: str, *overrides: str) -> Callable[[Path], list[str]]:
    return run_file("classify_tiny", name, text, "data.source=file", *overrides)


def tag_file(name: str, text: str, *overrides: str) -> Callable[[Path], list[str]]:
    return run_file("tag_tiny", name, text, "data.source=files", "data.tags=stripped", *overrides)


QUESTIONS = "text,label\n" + "".join(f"{w} {i},{label}\n" for i in range(60) for w, label in
                                     [("clock time", "time"), ("rain umbrella", "rain")])
PLAY = "".join(f"{w} to be or not to be, that is the question {i}\n" for i in range(60) for w in ("Ham.", "Oph."))
_MODELS: dict[str, Path] = {}  # "home": where the tiny models are trained, once per session


@pytest.fixture(scope="session", autouse=True)
def _models_home(tmp_path_factory):
    _MODELS["home"] = tmp_path_factory.mktemp("models")


def models(tmp: Path) -> Path:
    """Tiny trained runs, copied into ``tmp`` with their data (read by relative paths, so they are ``tmp``'s
    own): a classifier of q.csv in cl/, a seq2seq addition model in s2s/, a char LM of play.txt in tg/.
    They are trained once per session (a second or so) by the first case that needs them."""
    home = _MODELS["home"]
    if not (home / "tg" / "checkpoints" / "last.pt").exists():
        here = os.getcwd()
        os.chdir(home)
        try:
            (home / "q.csv").write_text(QUESTIONS, encoding="utf-8")
            (home / "play.txt").write_text(PLAY, encoding="utf-8")
            common = ["train.max_steps=1", "train.eval_every=1", "log.progress=false", "log.tensorboard=false"]
            for out, args in (("cl", ["classify_tiny", "data.source=file", "data.path=q.csv"]),
                              ("s2s", ["seq2seq_tiny", "data.addition_count=100"]),
                              ("tg", ["textgen_tiny", "data.path=play.txt", "data.seq_len=16", "train.batch_size=4"])):
                registry.reset()
                assert main(["run", *args, *common, "--out", out]) == 0, out
        finally:
            os.chdir(here)
            registry.reset()
    shutil.copytree(home, tmp, dirs_exist_ok=True)
    return tmp


def model(tmp: Path, name: str) -> str:
    """The last.pt of the tiny trained run ``name`` (cl, s2s or tg), copied into ``tmp``."""
    return str(models(tmp) / name / "checkpoints" / "last.pt")


def changed_questions(tmp: Path) -> list[str]:
    """`seqtk eval` the classifier, whose q.csv has gained rows since: the held-out split they make is another."""
    ckpt = model(tmp, "cl")
    with (tmp / "q.csv").open("a", encoding="utf-8") as rows:
        rows.write("".join(f"snow boots {i},snow\n" for i in range(20)))
    return ["eval", ckpt]


def utf16_file(tmp: Path) -> str:
    (tmp / "inputs.txt").write_text("what time is it\nwill it rain\n", encoding="utf-16")
    return str(tmp / "inputs.txt")


LEGACY = '''

class IntentTaskLegacy(IntentTask):
    """Written against the older docs: prepare() rebuilds the vocabulary and labels, learned is empty, and its
    own state_dict() saves them."""

    name = "intent_legacy"
    learned = ()

    def prepare(self):
        self.rows = read_rows(self.recipe.data.path, self.recipe.data.splits, self.tokenizer)
        self.vocab = Vocab.build([w for w, _ in self.rows["train"]], specials=(PAD,), num_oov_buckets=2)
        self.labels = sorted({label for _, label in self.rows["train"]})

    def state_dict(self):
        return {"vocab": self.vocab.to_dict(), "labels": list(self.labels)}

    def load_state_dict(self, state):
        self.vocab, self.labels = Vocab.from_dict(state["vocab"]), list(state["labels"])
'''


def intent_rows(drop: str | None = None) -> str:
    rows = []
    for label, words in (("time", "what time is it"), ("rain", "will it rain today"), ("alarm", "set an alarm")):
        for i in range(8):
            split = "val" if i % 4 == 0 else "train"
            if not (split == "train" and label == drop):
                rows.append(f"{split}\t{words} {i}\t{label}\n")
    return "".join(rows)


def legacy_plugin_after_a_label_is_dropped(tmp: Path) -> list[str]:
    """A legacy plugin trained on intents.tsv; then the label 'alarm' is dropped from its training rows."""
    flags = plugin(tmp, (FIXTURES / "intent_task.py").read_text() + LEGACY, "intent_legacy.py")
    (tmp / "intents.tsv").write_text(intent_rows(), encoding="utf-8")
    recipe = toy(tmp, '[task]\nname = "intent_legacy"\n[data]\npath = "intents.tsv"\n[train]\nmax_steps = 2\n'
                 'batch_size = 4\ndevice = "cpu"\n[log]\ntensorboard = false\nprogress = false\n', "intent.toml")
    assert main([*flags, "run", recipe, "--out", str(tmp / "intent")]) == 0
    registry.reset()
    (tmp / "intents.tsv").write_text(intent_rows(drop="alarm"), encoding="utf-8")
    return [*flags, "eval", str(tmp / "intent" / "checkpoints" / "last.pt")]


def clashing_plugin(tmp: Path) -> list[str]:
    """A plugin whose task takes the name of a built-in one."""
    source = (FIXTURES / "toy_task.py").read_text().replace('name = "toy_sum"', 'name = "textgen"')
    return [*plugin(tmp, source, "my_textgen.py"), "run", "textgen_tiny", "--out", str(tmp / "run")]


# ---------------------------------------------------------------------------
# The CLI cases: what the user did, the arguments, words the message must hold
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    did: str  # what the user did, as docs/bad_inputs.md says it
    args: Callable[[Path], list[str]]
    expect: tuple[str, ...]
    fix: str = "Fix:"  # click's usage errors point to --help instead
    machine: Callable[[pytest.MonkeyPatch], None] | None = None  # pins what the message says of this machine


def case(did: str, args: Callable[[Path], list[str]], *expect: str, fix: str = "Fix:",
         machine: Callable[[pytest.MonkeyPatch], None] | None = None) -> Case:
    return Case(did, args, expect, fix, machine)


def bf16_kernels(present: bool) -> Callable[[pytest.MonkeyPatch], None]:
    """A CPU with (or without) the bf16 kernels oneDNN needs, whatever this machine has."""
    return lambda mp: mp.setattr("seqtk.runtime.device.cpu_supports_bf16", lambda: present)


CLI_GROUPS: dict[str, dict[str, Case]] = {
    "Recipe files": {
        "toml-unclosed-table": case("a recipe whose first table header is not closed (`[task`)",
            lambda t: run_toy(t, recipe=toy(t, "[task\nname = 'toy_sum'\n")), "not valid TOML", "line 1"),
        "toml-duplicate-key": case("a recipe with two `[train]` tables",
            lambda t: run_toy(t, recipe=toy(t, TOY_RECIPE + "[train]\nlr = 1\n")), "not valid TOML"),
        "toml-bad-value": case("a recipe with `max_steps = four` (a bare word)",
            lambda t: run_toy(t, recipe=toy_with(t, "max_steps = 4", "max_steps = four")), "not valid TOML", "line 6"),
        "recipe-latin1": case("a recipe saved in Latin-1 (`café` in a comment)",
            lambda t: run_toy(t, recipe=raw_file(t, b"# caf\xe9\n[task]\n", "l.toml")), "not UTF-8", "save it as UTF-8"),
        "recipe-missing": case("`seqtk run nope.toml`, a file that is not there",
            lambda t: run_toy(t, recipe=str(t / "nope.toml")), "does not exist", "nope.toml"),
        "recipe-is-folder": case("`seqtk run DIR`, a folder",
            lambda t: run_toy(t, recipe=str(t)), "is a folder"),
        "recipe-unknown-name": case("`seqtk run textgen_tiyn`, a misspelt bundled recipe",
            lambda t: [*TOY, "run", "textgen_tiyn"], "no recipe named 'textgen_tiyn'", "Did you mean 'textgen_tiny'"),
        "recipe-no-task": case("a recipe without a `[task]` section",
            lambda t: run_toy(t, recipe=toy(t, "[train]\nmax_steps = 2\n")), "does not name its task", "[task]"),
        "recipe-is-a-checkpoint": case("`seqtk run RUN/checkpoints/last.pt`: a checkpoint where the recipe goes",
            lambda t: [*TOY, "run", checkpoint(t, toy_payload())], "is a checkpoint (a binary file), not a recipe",
            "/old/config.toml --resume"),
    },
    "Tasks, sections, keys and types": {
        "task-unknown": case('`name = "toy_summ"`, a misspelt task',
            lambda t: run_toy(t, recipe=toy_with(t, '"toy_sum"', '"toy_summ"')), "unknown task 'toy_summ'", "Did you mean 'toy_sum'"),
        "section-unknown": case("a `[trian]` section",
            lambda t: run_toy(t, recipe=toy(t, TOY_RECIPE + "[trian]\nlr = 1\n")), "unknown recipe section [trian]", "Did you mean 'train'"),
        "key-unknown": case("`max_step = 4` in `[train]`",
            lambda t: run_toy(t, recipe=toy_with(t, "max_steps", "max_step")), "unknown recipe key 'train.max_step'", "Did you mean 'train.max_steps'"),
        "key-unknown-model": case("the override `model.hiden=3`",
            lambda t: run_toy(t, "model.hiden=3"), "unknown recipe key 'model.hiden'", "model.hidden"),
        "type-string-for-int": case('`max_steps = "4"` (a string)',
            lambda t: run_toy(t, recipe=toy_with(t, "max_steps = 4", 'max_steps = "4"')), "'train.max_steps' expects int", "'4' (str)"),
        "type-bool-for-float": case("`train.lr=true`",
            lambda t: run_toy(t, "train.lr=true"), "'train.lr' expects float", "True (bool)"),
        "type-float-for-int": case("`train.batch_size=1.5`",
            lambda t: run_toy(t, "train.batch_size=1.5"), "'train.batch_size' expects int"),
        "type-literal": case("`train.optimizer=adamm`",
            lambda t: run_toy(t, "train.optimizer=adamm"), "'train.optimizer' expects one of", "Did you mean 'adam'"),
        "type-section-not-table": case("`model = 3` where `[model]` belongs",
            lambda t: run_toy(t, recipe=toy(t, "model = 3\n" + TOY_RECIPE)), "'model' must be a table", "[model]"),
    },
    "Values": {
        "value-zero-steps": case("`train.max_steps=0`", lambda t: run_toy(t, "train.max_steps=0"), "train.max_steps must be at least 1"),
        "value-negative-lr": case("`train.lr=-0.1`", lambda t: run_toy(t, "train.lr=-0.1"), "train.lr must be positive"),
        "value-nan-lr": case("`train.lr=nan`", lambda t: run_toy(t, "train.lr=nan"), "train.lr must be a finite number, not nan"),
        "value-negative-warmup": case("`train.warmup_steps=-1`", lambda t: run_toy(t, "train.warmup_steps=-1"),
            "train.warmup_steps must be at least 0"),
        "value-negative-clip": case("`train.grad_clip=-1`", lambda t: run_toy(t, "train.grad_clip=-1"), "train.grad_clip must be at least 0"),
        "value-ema-decay": case("`train.ema_decay=1.5`", lambda t: run_toy(t, "train.ema_decay=1.5"),
            "train.ema_decay must be 0 (off) or in (0, 1)"),
        "value-min-lr-ratio": case("`train.min_lr_ratio=2`", lambda t: run_toy(t, "train.min_lr_ratio=2"),
            "train.min_lr_ratio must be in [0, 1]"),
        "value-gamma-zero": case("`train.gamma=0` (the step schedule's factor)", lambda t: run_toy(t, "train.gamma=0"),
            "train.gamma must be in (0, 1]"),
        "value-momentum": case("`train.momentum=2`", lambda t: run_toy(t, "train.momentum=2"), "train.momentum must be in [0, 1)"),
        "value-time-budget-not-a-duration": case("`train.time_budget=abc`", lambda t: run_toy(t, "train.time_budget=abc"),
            "train.time_budget = 'abc' is not a duration", '"1h30m"'),
        "value-unknown-metric": case("`train.metric=nope`, a metric the task does not report (found at the first evaluation)",
            lambda t: run_toy(t, "train.metric=nope"), "the metric 'nope' that picks best.pt is not among the validation metrics",
            "last.pt saved"),
        "value-log-every": case("`log.every=0`", lambda t: run_toy(t, "log.every=0"), "log.every must be at least 1"),
        "device-unknown": case("`--device gpu`", lambda t: run_toy(t, "--device", "gpu"), "unknown device 'gpu'", "cuda"),
        "precision-fp16-cpu": case("`train.precision=fp16` on a CPU with bf16 kernels", lambda t: run_toy(t, "train.precision=fp16"),
            "fp16 training is not supported on the CPU", "bf16", machine=bf16_kernels(True)),
        "precision-fp16-cpu-without-bf16": case("`train.precision=fp16` on a CPU without bf16 kernels (AVX2 only)",
            lambda t: run_toy(t, "train.precision=fp16"), "fp16 training is not supported on the CPU",
            "use train.precision=fp32 (this CPU has no bf16 kernels either", machine=bf16_kernels(False)),
        "precision-bf16-cpu-without-bf16": case("`train.precision=bf16` on a CPU without bf16 kernels (AVX2 only)",
            lambda t: run_toy(t, "train.precision=bf16"), "train.precision = 'bf16' needs a CPU with bf16 kernels",
            machine=bf16_kernels(False)),
        "value-model-dropout": case("`seqtk run textgen_tiny model.dropout=1.5`", run_on("textgen_tiny", "model.dropout=1.5"),
            "model.dropout must be in [0, 1), not 1.5"),
        "value-val-fraction": case("`seqtk run textgen_tiny data.val_fraction=1.5`", run_on("textgen_tiny", "data.val_fraction=1.5"),
            "data.val_fraction (1.5) must be in (0, 1)"),
        "value-held-out-too-much": case("`seqtk run forecast_tiny data.val_fraction=0.6 data.test_fraction=0.6`",
            run_on("forecast_tiny", "data.val_fraction=0.6", "data.test_fraction=0.6"), "holds out more than 80% of the data"),
        "value-addition-count": case("`seqtk run seq2seq_tiny data.addition_count=5`", run_on("seq2seq_tiny", "data.addition_count=5"),
            "data.addition_count must be at least 10"),
        "value-tie-weights": case("`seqtk run music_tiny model.tie_weights=true` (embedding 32, hidden 64)",
            run_on("music_tiny", "model.tie_weights=true"), "model.tie_weights needs embedding_dim = the last layer's hidden_size",
            "model.embedding_dim = 64"),
        "value-unknown-collection": case('`seqtk run music_tiny data.collections=["nope"]`',
            run_on("music_tiny", 'data.collections=["nope"]'), "unknown music21 collection 'nope'", "miscFolk"),
        "data-crop-out-of-range": case("`seqtk run classify_tiny data.crop=1.5`",
            lambda t: ["run", "classify_tiny", "data.crop=1.5", "--out", str(t / "r")], "data.crop must be between 0 and 1"),
    },
    "Data keys the chosen source ignores": {
        "source-classify-path": case(
            "`seqtk run classify_tiny data.path=intents.jsonl data.text_column=text data.label_column=intent`: the "
            'recipe fixes `data.source = "bbc_news"` (it trained on BBC News, exit 0, before issue 29)',
            run_on("classify_tiny", "data.path=intents.jsonl", "data.text_column=text", "data.label_column=intent"),
            "does not read data.path", "silently ignored", "data.source=auto"),
        "source-toy-bits": case("`seqtk run toy_tiny data.bits=4` (the recipe's problem is many_to_one)",
            run_on("toy_tiny", "data.bits=4"), "does not read data.bits", "data.problem=binary_addition"),
        "source-textgen-hf-split": case("`seqtk run textgen_tiny data.hf_split=validation`",
            run_on("textgen_tiny", "data.hf_split=validation"), "does not read data.hf_split", "only hub does"),
        "source-seq2seq-stress": case("`seqtk run seq2seq_tiny data.stress=true` (stress digits are cmudict's)",
            run_on("seq2seq_tiny", "data.stress=true"), "does not read data.stress", "data.source=cmudict"),
        "source-tag-word-column": case("`seqtk run tag_tiny data.word_column=2` (the recipe reads Brown)",
            run_on("tag_tiny", "data.word_column=2"), "does not read data.word_column", "data.word_column=0 (its default)"),
        "source-forecast-value-column": case("`seqtk run forecast_tiny data.value_column=ppm` without a CSV",
            run_on("forecast_tiny", "data.value_column=ppm"), "does not read data.value_column", "data.path=FILE.csv"),
        "source-hub-without-name": case("`seqtk run classify_tiny data.source=hub` without `data.hub_name`",
            run_on("classify_tiny", "data.source=hub"), 'data.source = "hub" needs data.hub_name'),
        "source-separator-single-label": case("`data.label_separator=|` while `data.multi_label` is false",
            classify_file("q.csv", QUESTIONS, "data.label_separator=|"), "cuts a label string into several labels",
            "data.multi_label = true"),
    },
    "Overrides and the command line": {
        "override-no-equals": case("the override `train.max_steps` (no `=`)",
            lambda t: run_toy(t, "train.max_steps"), "cannot read the override 'train.max_steps'", "section.key=value"),
        "override-unknown-section": case("the override `trian.lr=1`",
            lambda t: run_toy(t, "trian.lr=1"), "unknown recipe section 'trian'", "Did you mean 'train'"),
        "override-section-only": case("the override `train=3`",
            lambda t: run_toy(t, "train=3"), "names a section, not a key", "train.KEY=VALUE"),
        "cli-unknown-option": case("`seqtk run ... --epochs 3`", lambda t: run_toy(t, "--epochs", "3"), "No such option", fix="--help"),
        "cli-missing-recipe": case("`seqtk run` with no recipe", lambda t: ["run"], "Missing argument", fix="--help"),
        "cli-unknown-command": case("`seqtk trian`", lambda t: ["trian"], "No such command", fix="--help"),
        "cli-nproc-zero": case("`seqtk run ... --nproc 0`", lambda t: run_toy(t, "--nproc", "0"), "--nproc", fix="--help"),
        "cli-nproc-batch": case("`--nproc 3` with `train.batch_size = 16`",
            lambda t: run_toy(t, "--nproc", "3"), "batch_size 16 is the global batch", "multiple of 3"),
        "cli-plugin-dir-missing": case("`--plugin-dir DIR/nope`, a folder that is not there",
            lambda t: ["--plugin-dir", str(t / "nope"), "run", toy(t)], "plugin folder", "does not exist"),
        "cli-plugin-dir-is-a-file": case("`--plugin-dir DIR/my_task.py`: the plugin file instead of its folder "
            "(said the folder did not exist)",
            lambda t: ["--plugin-dir", write(t, "my_task.py", "X = 1\n"), "run", toy(t)], "is a file, not a folder",
            "pass the folder that holds the plugin files"),
        "cli-predict-no-input": case("`seqtk predict CKPT` with no inputs and no `--file`",
            lambda t: ["predict", checkpoint(t, toy_payload())], "no input"),
    },
    "Resuming": {
        "cli-resume-nothing": case("`seqtk run RECIPE --out DIR/run --resume` where nothing ran yet",
            lambda t: run_toy(t, "--resume"), "the run to resume", "does not exist"),
        "cli-resume-missing-path": case("`--resume=DIR/gone`, a mistyped run folder",
            lambda t: [*TOY, "run", toy(t), f"--resume={t / 'gone'}"], "does not exist", "--resume"),
        "resume-folder-without-checkpoint": case("`--resume DIR/empty`, a folder with no checkpoints/",
            lambda t: [*TOY, "run", toy(t), "--resume", bare_folder(t, "empty")], "holds no checkpoints/last.pt to resume from"),
        "resume-loose-file-without-out": case("`--resume DIR/model.pt`, a checkpoint outside a run's checkpoints/, without `--out`",
            lambda t: [*TOY, "run", toy(t), "train.max_steps=6", "--resume", loose_checkpoint(t)],
            "is not inside a run's checkpoints/ folder", "--out NEW_FOLDER"),
        "resume-into-another-run": case("`--resume RUN/checkpoints/last.pt --out OTHER_RUN`, a folder holding another "
            "run (its checkpoints, config.toml and metrics were overwritten, exit 0)",
            lambda t: [*TOY, "run", toy(t), "train.max_steps=6", f"--resume={finished_toy_run(t, 'a') / 'checkpoints' / 'last.pt'}",
                       "--out", str(finished_toy_run(t, "b"))],
            "already holds another training run", "drop --out"),
        "resume-adds-time-budget": case("`--resume RUN train.time_budget=1m` on a run started without a budget",
            lambda t: [*TOY, "run", toy(t), "train.time_budget=1m", "--resume", str(finished_toy_run(t))],
            "the run being resumed was not started with a time budget", 'train.time_budget=""'),
        "resume-changed-model": case("`--resume RUN model.hidden=8` on a run trained with `hidden = 16` "
            "(textgen's `model.embedding_dim`: tests/training/test_train.py)",
            lambda t: [*TOY, "run", toy(t), "model.hidden=8", "train.max_steps=6", "--resume", str(finished_toy_run(t))],
            "model.hidden is 8 here but 16 in the checkpoint", "model.hidden=16"),
        "ckpt-truncated-resume": case("`--resume` a truncated last.pt",
            lambda t: [*run_toy(t), f"--resume={truncated(t)}"], "truncated or corrupt"),
        "ckpt-other-task-resume": case("`--resume` a textgen checkpoint with the toy_sum recipe",
            lambda t: [*run_toy(t), f"--resume={checkpoint(t, toy_payload(task='textgen'))}"], "written by task 'textgen'", "toy_sum"),
        "ckpt-unsafe-resume": case("`--resume` a .pt whose pickle calls `os.system`",
            lambda t: [*run_toy(t), f"--resume={evil(t)}"], "would run code", "refuses it"),
    },
    "Text files and folders (textgen)": {
        "data-missing": case("`data.path` naming a file that is not there",
            lambda t: run_textgen(t, str(t / "none.txt")), "does not exist", "none.txt"),
        "data-empty": case("an empty text file", lambda t: run_textgen(t, text_file(t, b"")), "is empty"),
        "data-whitespace": case("a text file of blank lines and tabs", lambda t: run_textgen(t, text_file(t, b" \n\n \t\n")), "is empty"),
        "data-binary-nul": case("a file of NUL bytes", lambda t: run_textgen(t, text_file(t, b"\x00" * 4000)), "binary file", "NUL"),
        "data-binary-png": case("a PNG image", lambda t: run_textgen(t, text_file(t, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)), "binary file"),
        "data-bad-utf8-byte": case("UTF-8 text with a stray 0xff byte",
            lambda t: run_textgen(t, text_file(t, b"some text \xff\xfe more" * 300)), "not UTF-8", "0xff"),
        "data-latin1": case("a Latin-1 text", lambda t: run_textgen(t, text_file(t, "caf\xe9 ".encode("latin-1") * 3000)),
            "not UTF-8", "line 1", "iconv"),
        "data-utf16": case("a UTF-16 text", lambda t: run_textgen(t, text_file(t, ("to be or not " * 900).encode("utf-16"))),
            "UTF-16", "iconv -f utf-16"),
        "data-too-short": case("a text of 3 characters", lambda t: run_textgen(t, text_file(t, b"abc")), "split is empty"),
        "data-shorter-than-a-batch": case("a text of 1,848 characters, whose training part is shorter than one batch "
            "(32 windows of 65 characters)",
            lambda t: run_textgen(t, text_file(t, b"to be or not to be, that is the question\n" * 44)),
            "fewer than one batch needs", "lower train.batch_size or data.seq_len"),
        "data-folder-no-txt": case("a folder without .txt files", lambda t: run_textgen(t, str(t)), "has no .txt files"),
        "data-folder-too-deep": case("a folder whose text is 5 sub-folders down",
            lambda t: run_textgen(t, deep_folder(t)), "more than 4 levels deep", "a/b/c/d/e"),
        "data-link-loop": case("`data.path` at a symbolic link loop", lambda t: run_textgen(t, str(link_loop(t))), "does not exist", "loop_a"),
    },
    "Pretrained vectors": {
        "vectors-misspelt-name": case("`model.pretrained_vectors=glove-6b-300d`",
            lambda t: ["run", "classify_tiny", "model.pretrained_vectors=glove-6b-300d", "--out", str(t / "r")],
            "'glove-6b-300d' are neither a file nor a vector set", "did you mean 'glove-6b-100d'"),
        "vectors-wrong-dim": case("`model.pretrained_vectors=glove-6b-100d` with `model.embedding_dim = 32`",
            lambda t: ["run", "classify_tiny", "model.pretrained_vectors=glove-6b-100d", "--out", str(t / "r")],
            "holds 100-dimensional vectors but model.embedding_dim is 32", "set model.embedding_dim = 100"),
        "vectors-missing-file": case("`model.pretrained_vectors=DIR/glove.txt`, a file that is not there",
            lambda t: ["run", "classify_tiny", f"model.pretrained_vectors={t / 'glove.txt'}", "--out", str(t / "r")],
            "the vectors file", "does not exist"),
    },
    "Table files (classify, sentiment, seq2seq)": {
        "table-jsonl-bad-line": case("a JSONL file with junk after the object on line 3",
            lambda t: run_table(t, "x.jsonl", JSONL_LINE_3), "line 3 is not one JSON object (Extra data at column 29)",
            '{"text": "c", "label": "x"} junk', "correct or delete line 3"),
        "table-jsonl-array-line": case("a JSONL file whose line 2 is an array",
            lambda t: run_table(t, "x.jsonl", '{"text": "a", "label": "x"}\n["b", "y"]\n'),
            "line 2 is not one JSON object (it is a JSON array): [\"b\", \"y\"]"),
        "table-json-bad-line": case("a JSON list missing a comma on line 4",
            lambda t: run_table(t, "x.json", JSON_LINE_4), "Expecting ',' delimiter at line 4, column 3", "correct line 4"),
        "table-json-item-not-object": case("a JSON list whose 2nd item is a string",
            lambda t: run_table(t, "x.json", '[{"text": "a", "label": "x"}, "b"]'), "item 2 of the list", "is not a JSON object"),
        "table-csv-header-only": case("a CSV file with a header and no rows",
            lambda t: run_table(t, "x.csv", "text,label\n"), "has a header (text, label) and no rows", "add rows to it"),
        "table-tsv-header-only": case("a TSV file with a header and a blank line",
            lambda t: run_table(t, "x.tsv", "text\tlabel\n\n"), "has a header (text, label) and no rows", "add rows to it"),
        "table-json-empty-list": case("a JSON file holding `[]`", lambda t: run_table(t, "x.json", "[]\n"), "has no records: its list is empty", "add rows"),
        "table-jsonl-empty-objects": case("a JSONL file of `{}` lines",
            lambda t: run_table(t, "x.jsonl", "{}\n{}\n"), "has no records: every line is an empty JSON object", "add rows"),
        "table-parquet-no-rows": case("a parquet file with text and label columns and no rows",
            run_empty_parquet, "has columns (text, label) and no rows", "add rows"),
        "table-unknown-suffix": case("`data.path=DIR/q.xlsx`", classify_file("q.xlsx", "x\n"), "unknown file type '.xlsx'",
            ".csv, .tsv, .jsonl, .json, .parquet"),
        "table-csv-unclosed-quote": case('a CSV file whose first text opens a quote it never closes',
            classify_file("q.csv", 'text,label\n"unclosed,x\nfoo,y\n'), "cannot read", "as CSV", "EOF inside string"),
        "table-no-text-column": case("a CSV file with the columns a and b", classify_file("q.csv", "a,b\n1,2\n3,4\n"),
            "has no text column (looked for text, review", "Columns found: a, b"),
        "table-text-column-missing": case("`data.text_column=body` on a file of text and label",
            classify_file("q.csv", QUESTIONS, "data.text_column=body"), "has no text column 'body'", "Columns found: text, label"),
        "table-row-without-label": case("a CSV row with a text and an empty label", classify_file("q.csv", "text,label\nhello,\nworld,x\n"),
            "row 1 of the file", "has a text but no label"),
        "table-one-class": case("a CSV file whose texts all have the label x",
            classify_file("q.csv", "text,label\nonly one class,x\nanother,x\nthird,x\n"), "is labelled 'x', so there is nothing to learn"),
        "classify-folder-without-labels": case("`data.source=folder` at a folder with no label sub-folders",
            lambda t: ["run", "classify_tiny", "data.source=folder", f"data.path={folder_of(t, 'texts', 'notes.txt')}", "--out", str(t / "run")],
            "has no label subfolders with .txt files in them", "data.path/<label>/<name>.txt"),
        "classify-folder-given-a-file": case("`data.source=folder` at a CSV file", classify_file("q.csv", QUESTIONS, "data.source=folder"),
            "is not a folder", "one subfolder per label"),
        "sentiment-labels-not-binary": case("sentiment on a file labelled maybe, neg and pos",
            run_file("sentiment_tiny", "s.csv", "text,label\ngood,maybe\nbad,neg\nok,pos\n", "data.source=file"),
            "are not binary", "'maybe', 'neg', 'pos'", "map the labels to 0 and 1"),
        "sentiment-which-is-positive": case("sentiment on a file labelled rain and time",
            run_file("sentiment_tiny", "s.csv", QUESTIONS, "data.source=file"), "cannot tell which of the two means positive",
            'positive_label = "time"'),
        "sentiment-positive-label-absent": case("`data.positive_label=nope` on a file labelled rain and time (said to "
            "map the labels to 0 and 1)", run_file("sentiment_tiny", "s.csv", QUESTIONS, "data.source=file", "data.positive_label=nope"),
            "is not one of the labels", "'rain' and 'time'", 'positive_label = "time"'),
        "seq2seq-empty-target": case("a pairs file with an empty target on row 1",
            run_file("seq2seq_tiny", "pairs.csv", "source,target\nabc,\nde,fg\n", "data.source=files"),
            "row 1 of the file", "has an empty source or target", "data.drop_empty = true"),
        "seq2seq-no-header": case("a pairs TSV file without a header row",
            run_file("seq2seq_tiny", "pairs.tsv", "abc\tdef\nxyz\tuvw\n", "data.source=files"),
            "has no source column", "Columns found: abc, def"),
        "seq2seq-every-pair-too-long": case("`seqtk run seq2seq_tiny data.max_source_length=2`, shorter than every "
            "question (an internal error: the batch plan of an epoch is empty)", run_on("seq2seq_tiny", "data.max_source_length=2"),
            "training examples was dropped as too long", "data.max_source_length = 5"),
    },
    "Tagged files (tag)": {
        "tag-brown-tags-on-own-file": case('`tag_tiny` (`data.tags = "universal"`) pointed at a file of the user\'s by '
            "`data.source=files data.path=pos.txt`", tag_own_file, 'data.tags = "universal" converts Brown tags',
            "set data.tags=stripped", 'data.source = "brown"'),
        "tag-conllu-four-fields": case("a .conllu file whose token lines have 4 fields",
            tag_file("bad.conllu", "# sent_id = 1\n1\tThe\tthe\tDET\n2\tdog\tdog\tNOUN\n\n"),
            "line 2 has 4 tab-separated fields", "UPOS tag column is missing"),
        "tag-columns-one-column": case("a file of one column (no tags)", tag_file("words.txt", "The\ndog\nbarks\n"),
            "has 1 column(s), so it has no tag column"),
        "tag-slash-untagged-token": case("a word/TAG file with one untagged token (`The/DET dog barks/VERB`; read as "
            "columns, it said the train split was empty)", tag_file("pos.txt", "The/DET dog barks/VERB ./.\n" * 40),
            "line 1: the token 'dog' has no tag"),
        "tag-plain-text": case("a plain text, one sentence per line, no tags (said the train split was empty)",
            tag_file("plain.txt", "".join(f"This is sentence {i} here.\n" for i in range(40))),
            "is one sentence of 40 tokens: it has no blank line", 'data.format = "slash"'),
        "tag-jsonl-on-text": case("`data.format=jsonl` on a word/TAG file", tag_file("pos.txt", "The/DET dog/NOUN\n", "data.format=jsonl"),
            "line 1 is not valid JSON", "one JSON object per line"),
    },
    "Series, tunes and images (forecast, music, pixel_mnist)": {
        "forecast-not-a-number": case("a CSV series with `abc` among its values",
            run_file("forecast_tiny", "ts.csv", "date,value\n2020-01,1\n2020-02,abc\n"), "line 3: 'abc' in column 'value' is not a number"),
        "forecast-too-short": case("a CSV series of 2 months for windows of 24 and a horizon of 12",
            run_file("forecast_tiny", "ts.csv", "date,value\n2020-01,1\n2020-02,2\n"), "too few for one window of 24 inputs and 12 targets"),
        "music-no-tunes": case("an .abc file without a `K:` line", run_file("music_tiny", "t.abc", "X:1\nT:nothing\n"),
            "no usable tunes", "no tune had an X: line and a K: line"),
        "music-not-abc": case("`data.path` at a CSV file", run_file("music_tiny", "q.csv", QUESTIONS), "is not an .abc or .mid file"),
        "mnist-folder-without-idx": case("`data.path` at a folder of PNG files (not IDX files)",
            lambda t: ["run", "mnist_tiny", f"data.path={folder_of(t, 'images', 'a.png')}", "--out", str(t / "run")],
            "has no train-images-idx3-ubyte[.gz]"),
        "mnist-path-is-a-file": case("`data.path` at a CSV file", run_file("mnist_tiny", "q.csv", QUESTIONS), "is a file, not a folder"),
    },
    "Run folders": {
        "out-under-a-file": case("`--out DIR/afile/run`, under a file",
            lambda t: [*TOY, "run", toy(t), "--out", str(a_file(t) / "run")], "is a file, not a folder"),
        "out-is-a-file": case("`--out DIR/afile`, a file", lambda t: [*TOY, "run", toy(t), "--out", str(a_file(t))], "is a file, not a folder"),
        "out-in-a-link-loop": case("`--out` inside a link loop",
            lambda t: [*TOY, "run", toy(t), "--out", str(link_loop(t) / "run")], "link loop"),
        "out-second-run-same-folder": case("a second `seqtk run` into the `--out` of a finished run",
            lambda t: [*TOY, "run", toy(t), "--out", str(finished_toy_run(t))], "already holds a training run", "--resume"),
        "out-being-trained-now": case("`--out` at a folder another seqtk process is training into",
            lambda t: [*TOY, "run", toy(t), "--out", busy_run_folder(t)], "is being trained into right now by seqtk process 4242",
            "wait for that run to end"),
        "out-holds-user-files": case("`--out` at a folder of the user's own files",
            lambda t: [*TOY, "run", toy(t), "--out", str(a_file(t, "notes.txt").parent)], "already holds files that no seqtk run wrote"),
        "inspect-out-folder": case("`seqtk inspect gradients ... --out DIR/`, a folder",
            lambda t: ["inspect", "gradients", "toy_first_bit", "--out", str(t) + "/"], "is a folder", "grads.png"),
        "inspect-out-not-png": case("`seqtk inspect gradients ... --out g.svg`",
            lambda t: ["inspect", "gradients", "toy_first_bit", "--out", str(t / "g.svg")], "does not end in .png"),
    },
    "Layers": {
        "layer-unknown-modern-cell": case("`model.cell=min_gruu`",
            lambda t: ["run", "textgen_tiny", "model.cell=\"min_gruu\"", "--out", str(t / "r")], "Did you mean 'min_gru'"),
        "layer-proj-on-gru": case("`proj_size = 8` on a GRU layer",
            lambda t: ["run", layers_recipe(t, 'cell = "gru"\nhidden_size = 32\nproj_size = 8'), "--out", str(t / "r")], "proj_size applies to lstm"),
        "layer-weight-drop-on-min-gru": case("`weight_drop = 0.2` on a min_gru layer",
            lambda t: ["run", layers_recipe(t, 'cell = "min_gru"\nhidden_size = 32\nweight_drop = 0.2'), "--out", str(t / "r")],
            "weight_drop applies to the fused cells"),
        "layer-heads-not-dividing": case("an slstm layer of 30 units in 4 heads",
            lambda t: ["run", layers_recipe(t, 'cell = "slstm"\nhidden_size = 30\nheads = 4'), "--out", str(t / "r")],
            "must be divisible by heads"),
    },
    "Checkpoints": {
        "ckpt-missing": case("`seqtk eval DIR/none.pt`", lambda t: ["eval", str(t / "none.pt")], "does not exist"),
        "ckpt-folder": case("`seqtk eval DIR`, a folder", lambda t: ["eval", str(t)], "is a folder"),
        "ckpt-empty": case("an empty .pt file", lambda t: ["eval", raw_file(t, b"")], "truncated or corrupt"),
        "ckpt-truncated": case("a last.pt cut to a third", lambda t: ["eval", truncated(t)], "truncated or corrupt", "best.pt"),
        "ckpt-text-file": case("a text file named model.pt", lambda t: ["eval", raw_file(t, b"just some text\n")],
            "not a PyTorch checkpoint file", "b'just some text"),
        "ckpt-foreign-zip": case("a zip archive named .pt", lambda t: ["eval", not_torch_zip(t)], "zip archive, not a PyTorch checkpoint"),
        "ckpt-foreign-state-dict": case("a bare `state_dict()` saved with torch.save",
            lambda t: ["eval", torch_file(t, torch.nn.Linear(2, 2).state_dict())], "bare model state_dict"),
        "ckpt-foreign-tensor": case("`seqtk generate` a single saved tensor", lambda t: ["generate", torch_file(t, torch.zeros(3))],
            "single tensor of shape (3,)"),
        "ckpt-foreign-lightning": case("a PyTorch Lightning checkpoint",
            lambda t: ["eval", torch_file(t, {"pytorch-lightning_version": "2", "state_dict": {}})], "Lightning"),
        "ckpt-other-format": case("a dict with `format = 'other'`", lambda t: ["eval", torch_file(t, {"format": "other"})], "its format is 'other'"),
        "ckpt-newer-version": case("a checkpoint of format version 99", lambda t: ["eval", checkpoint(t, toy_payload(version=99))],
            "version 99", "upgrade seqtk"),
        "ckpt-unknown-task": case("a checkpoint of a task no installed plugin provides",
            lambda t: [*TOY, "eval", checkpoint(t, toy_payload(task="gone_task"))], "unknown task 'gone_task'"),
        "ckpt-wrong-shapes": case("a checkpoint whose weights do not fit the task's model",
            lambda t: [*TOY, "eval", checkpoint(t, toy_payload(model={"head.weight": torch.zeros(1, 99)}))], "do not fit the model"),
        "ckpt-unsafe-eval": case("`seqtk eval` a .pt whose pickle calls `os.system`", lambda t: ["eval", evil(t)], "would run code", "posix.system"),
    },
    "Using a trained model: predict, generate, eval, export, push": {
        "predict-file-missing": case("`seqtk predict CKPT --file nope.txt`",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--file", str(t / "nope.txt")], "does not exist", "--file"),
        "predict-file-folder": case("`--file DIR/texts`, a folder (said it did not exist)",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--file", bare_folder(t, "texts")], "is a folder"),
        "predict-file-binary": case("`--file` a checkpoint, a binary file (said to convert it from Latin-1)",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--file", checkpoint(t, toy_payload(), "best.pt")],
            "looks like a binary file, not text"),
        "predict-file-utf16": case("`--file` a UTF-16 text (said to convert it from Latin-1)",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--file", utf16_file(t)], "is UTF-16 text", "iconv -f utf-16"),
        "predict-file-empty": case("`--file` a file of blank lines",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--file", write(t, "in.txt", "\n \n")], "has no non-empty inputs"),
        "predict-table-without-column": case("`--file q.csv` without `--column`",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--file", write(t, "q.csv", QUESTIONS)],
            "which column holds the inputs?", "columns: text, label"),
        "predict-column-unknown": case("`--file q.csv --column nope`",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--file", write(t, "q.csv", QUESTIONS), "--column", "nope"],
            "has no column 'nope'", "Columns found: text, label"),
        "predict-column-on-text": case("`--file in.txt --column text`",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--file", write(t, "in.txt", "hi\n"), "--column", "text"],
            "--column reads CSV, TSV or JSONL files"),
        "predict-column-without-file": case("`seqtk predict CKPT --column text hi`",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--column", "text", "hi"], "no --file was given"),
        "predict-out-without-file": case("`seqtk predict CKPT hi --out p.jsonl`",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "hi", "--out", str(t / "p.jsonl")], "--out streams the inputs of --file"),
        "predict-out-is-input": case("`--file in.txt --out in.txt`",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--file", write(t, "in.txt", "1 2\n"), "--out", str(t / "in.txt")],
            "is the input file itself"),
        "predict-out-is-folder": case("`--file in.txt --out DIR`, a folder (an internal error: IsADirectoryError)",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--file", write(t, "in.txt", "1 2\n"), "--out", bare_folder(t, "preds")],
            "is a folder; it must name the JSONL file to write"),
        "predict-option-not-read": case("`seqtk predict CKPT --top-k 3` for a task without top-k",
            lambda t: [*TOY, "predict", checkpoint(t, toy_payload()), "--top-k", "3", "1 2"], "does not read the predict option(s) top_k"),
        "predict-top-k-zero": case("`seqtk predict CLASSIFIER --top-k 0 hi`",
            lambda t: ["predict", model(t, "cl"), "--top-k", "0", "hi"], "--top-k must be at least 1"),
        "predict-empty-text": case('`seqtk predict CLASSIFIER ""`', lambda t: ["predict", model(t, "cl"), ""],
            "input 1 of 1 is empty; there is no text to classify"),
        "predict-source-too-long": case("`seqtk predict S2S 123456789+1`, longer than `data.max_source_length = 8`",
            lambda t: ["predict", model(t, "s2s"), "123456789+1"], "has 11 source tokens, more than the 8"),
        "predict-n-best-above-beam": case("`seqtk predict S2S --beam 2 --n-best 5 1+2`",
            lambda t: ["predict", model(t, "s2s"), "--beam", "2", "--n-best", "5", "1+2"], "n_best must be between 1 and the beam size (2)"),
        "eval-beam-zero": case("`seqtk eval S2S --beam 0`", lambda t: ["eval", model(t, "s2s"), "--beam", "0"],
            "the beam size must be at least 1"),
        "generate-not-generative": case("`seqtk generate` a toy_sum checkpoint",
            lambda t: [*TOY, "generate", checkpoint(t, toy_payload())], "does not generate", "seqtk predict"),
        "generate-negative-temperature": case("`seqtk generate CKPT --temperature -1`",
            lambda t: [*TOY, "generate", checkpoint(t, toy_payload()), "--temperature", "-1"], "--temperature must be 0 (greedy) or positive"),
        "generate-top-p-zero": case("`seqtk generate CKPT --top-p 0`",
            lambda t: [*TOY, "generate", checkpoint(t, toy_payload()), "--top-p", "0"], "--top-p in (0, 1]"),
        "generate-n-zero": case("`seqtk generate CKPT --n 0`",
            lambda t: [*TOY, "generate", checkpoint(t, toy_payload()), "--n", "0"], "--length and --n must be at least 1"),
        "generate-music-option-on-text": case("`seqtk generate CHAR_LM --key G` (a music option)",
            lambda t: ["generate", model(t, "tg"), "--key", "G"], "task 'textgen' does not use --key"),
        "eval-unknown-split": case("`seqtk eval CKPT --split test2`",
            lambda t: [*TOY, "eval", checkpoint(t, toy_payload()), "--split", "test2"], "has no split 'test2'", "use val or test"),
        "eval-beam-on-classifier": case("`seqtk eval CKPT --beam 2` for a task that does not decode",
            lambda t: [*TOY, "eval", checkpoint(t, toy_payload()), "--beam", "2"], "has no model.beam to set at evaluation"),
        "eval-negative-max-batches": case("`seqtk eval CKPT --max-batches -1`",
            lambda t: [*TOY, "eval", checkpoint(t, toy_payload()), "--max-batches", "-1"], "--max-batches must be 0 (all) or more"),
        "eval-data-changed": case("`seqtk eval CLASSIFIER` after rows were added to its data file",
            changed_questions, "the data rebuilt a different split than the checkpoint was trained on", "config.toml"),
        "eval-file-and-split": case("`seqtk eval CKPT --file new.csv --split test`",
            lambda t: [*TOY, "eval", checkpoint(t, toy_payload()), "--file", write(t, "new.csv", QUESTIONS), "--split", "test"],
            "--file and --split test were both given", "drop --split"),
        "eval-file-missing": case("`seqtk eval CKPT --file nope.csv`",
            lambda t: [*TOY, "eval", checkpoint(t, toy_payload()), "--file", str(t / "nope.csv")], "does not exist", "--file"),
        "eval-file-folder": case("`seqtk eval CKPT --file DIR/texts`, a folder",
            lambda t: [*TOY, "eval", checkpoint(t, toy_payload()), "--file", bare_folder(t, "texts")], "is a folder", "one file"),
        "eval-file-blank": case("`seqtk eval CKPT --file` a file of blank lines",
            lambda t: [*TOY, "eval", checkpoint(t, toy_payload()), "--file", write(t, "new.csv", "\n \n")], "is empty (blank lines only)"),
        "eval-file-task-cannot": case("`seqtk eval CKPT --file new.csv` for a task that scores only its splits",
            lambda t: [*TOY, "eval", checkpoint(t, toy_payload()), "--file", write(t, "new.csv", QUESTIONS)],
            "task 'toy_sum' cannot score a file", "seqtk predict CKPT --file F"),
        "eval-file-unknown-label": case("`seqtk eval CLASSIFIER --file new.csv`, a label the model never saw",
            lambda t: ["eval", model(t, "cl"), "--file", write(t, "new.csv", "text,label\nclock 1,time\nsnow 2,snow\n")],
            "has the label(s) 'snow', which the model was never trained on"),
        "eval-file-no-text-column": case("`seqtk eval CLASSIFIER --file new.csv`, without a text column",
            lambda t: ["eval", model(t, "cl"), "--file", write(t, "new.csv", "words,label\nclock 1,time\n")],
            "has no text column", "name the file's columns as the model's recipe reads them"),
        "export-unknown-format": case("`seqtk export CKPT --format tflite`",
            lambda t: ["export", str(t / "missing.pt"), "--format", "tflite", "--out", str(t / "x")], "unknown export format 'tflite'"),
        "export-out-is-a-file": case("`seqtk export CKPT --format onnx --out notes.txt`",
            lambda t: [*TOY, "export", checkpoint(t, toy_payload()), "--format", "onnx", "--out", str(a_file(t, "notes.txt"))],
            "is a file", "name a folder"),
        "export-task-without-export": case("`seqtk export` a task that defines no `export_spec()`",
            lambda t: [*TOY, "export", checkpoint(t, toy_payload()), "--format", "torchscript", "--out", str(t / "x")],
            "does not export its model", "seqtk.load()"),
        "push-dry-run-without-out": case("`seqtk push CKPT user/name --dry-run` without `--out`",
            lambda t: [*TOY, "push", checkpoint(t, toy_payload()), "user/name", "--dry-run"], "needs --out"),
    },
    "Third-party plugins": {
        "plugin-raises-on-import": case("a plugin that raises on import",
            lambda t: plugin_run(t, "raise RuntimeError('no GPU driver')\n", "broken"), "unknown task 'broken'", "no GPU driver"),
        "plugin-syntax-error": case("a plugin with a syntax error", lambda t: plugin_run(t, "def oops(:\n", "broken"), "thirdparty.py", "SyntaxError"),
        "plugin-missing-methods": case("a task class that implements nothing",
            lambda t: plugin_run(t, HALF_TASK, "half"), "task 'half'",
            "does not implement prepare (or its hooks load_data), train_loader, eval_batches, build_model, step"),
        "plugin-no-task-class": case("a plugin file without a Task subclass", lambda t: plugin_run(t, "X = 1\n", "nothing"),
            "defines no Task subclass"),
        "plugin-validate-half": case("`seqtk recipes validate` a recipe of a task class that implements nothing",
            lambda t: [*plugin(t, HALF_TASK), "recipes", "validate", toy(t, PLUGIN_RECIPE.format("half"), "p.toml")],
            "does not implement prepare (or its hooks load_data), train_loader"),
        "plugin-duplicate-name": case("two plugin files with one task name",
            lambda t: [*plugin(t, HALF_TASK, "a.py"), *plugin_run(t, HALF_TASK, "half", "b.py")], "two plugins register the task 'half'"),
        "plugin-clashes-with-built-in": case('a plugin whose task is named "textgen", as a built-in task is',
            clashing_plugin, "two plugins register the task 'textgen'", "rename one task"),
        "plugin-partly-implemented": case("a task class with only `prepare()`",
            lambda t: plugin_run(t, HALF_TASK.replace('name = "half"', 'name = "half"\n        def prepare(self):\n            raise KeyError("labels")'), "half"),
            "does not implement train_loader"),
        "plugin-legacy-prepare-rebuilds-labels": case("a plugin from before `Task.learned`, whose `prepare()` rebuilds "
            "its labels, after a label is dropped from its data file: `seqtk eval` (printed accuracy 0.25 for 0.95, exit 0)",
            legacy_plugin_after_a_label_is_dropped, "prepare() changed the state_dict() 'labels', 'vocab' after seqtk restored them",
            "rebuilt_by_prepare = ('labels', 'vocab')"),
    },
}
CLI_CASES: dict[str, Case] = {name: c for group in CLI_GROUPS.values() for name, c in group.items()}


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


def message_of(err: str, tmp: Path) -> str:
    """What docs/bad_inputs.md shows of a command's standard error: from its first ``error:`` line on (all of
    a usage error), the case's folder as DIR, the lines joined."""
    lines = err.splitlines()
    first = next((i for i, line in enumerate(lines) if line.startswith(("error: ", "internal error: "))), 0)
    return placeholders(" ".join(" ".join(lines[first:]).split()), tmp)


def placeholders(text: str, tmp: Path) -> str:
    return text.replace(str(tmp), "DIR").replace(str(ROOT), "REPO")


@pytest.mark.parametrize("name", CLI_CASES)
def test_cli_bad_input(name, tmp_path, capsys, toy_registry, monkeypatch):
    bad = CLI_CASES[name]
    if bad.machine is not None:
        bad.machine(monkeypatch)
    args = bad.args(tmp_path)
    capsys.readouterr()  # what building the inputs printed (a case that trains a model first)
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
    documented(name, bad.did, message_of(err, tmp_path))


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


@dataclass(frozen=True)
class ApiCase:
    did: str
    build: Callable[[], object]
    expect: tuple[str, ...]


def api(did: str, build: Callable[[], object], *expect: str) -> ApiCase:
    return ApiCase(did, build, expect)


API_CASES: dict[str, ApiCase] = {
    "vocab-build-from-string": api('`Vocab.build("abc")`: one string, not a list of token lists',
        lambda: _vocab().build("abc"), "single string"),
    "vocab-negative-buckets": api("`Vocab([\"a\"], num_oov_buckets=-1)`", lambda: _vocab().__class__(["a"], num_oov_buckets=-1),
        "num_oov_buckets", "-1"),
    "vocab-duplicate-token": api('`Vocab(["a", "a"])`', lambda: _vocab().__class__(["a", "a"]), "'a'", "more than once"),
    "vocab-decode-out-of-range": api("`vocab.decode([0, 99])` with 6 ids", lambda: _vocab().decode([0, 99]), "99"),
    "vocab-bos-missing": api("`vocab.encode([...], add_bos=True)` on a vocabulary without `<bos>`",
        lambda: _vocab().encode(["a"], add_bos=True), "<bos>"),
    "embedding-float-ids": api("`Embedding(...)(torch.zeros(2, 3))`: float ids", lambda: _embedding()(torch.zeros(2, 3)),
        "LongTensor", "torch.float32"),
    "embedding-id-too-large": api("an id of 50 for a table of 6 rows", lambda: _embedding()(torch.tensor([[1, 50]])), "0..5", "50"),
    "embedding-zero-dim": api("`Embedding(5, 0)`", lambda: __import__("seqtk.nn.embedding", fromlist=["Embedding"]).Embedding(5, 0),
        "embedding_dim"),
    "encoder-2d-input": api("a (4, 3) input to an encoder of 3 features", lambda: _encoder()(torch.zeros(4, 3)),
        "(B, T, 3)", "(4, 3)", "unsqueeze"),
    "encoder-wrong-features": api("a (2, 5, 4) input to an encoder of 3 features", lambda: _encoder()(torch.zeros(2, 5, 4)),
        "(B, T, 3)", "input_size=4"),
    "encoder-int-input": api("integer ids to an encoder", lambda: _encoder()(torch.zeros(2, 5, 3, dtype=torch.long)),
        "floating-point", "embedding"),
    "encoder-lengths-shape": api("lengths of shape (1,) for a batch of 2",
        lambda: _encoder()(torch.zeros(2, 5, 3), lengths=torch.tensor([5])), "lengths", "(2,)"),
    "encoder-lengths-too-long": api("a length of 9 in a batch of 5 steps",
        lambda: _encoder()(torch.zeros(2, 5, 3), lengths=torch.tensor([5, 9])), "1..5", "9"),
    "encoder-no-layers": api("`StackedEncoder(3, [])`", lambda: __import__("seqtk.nn.encoders", fromlist=["x"]).StackedEncoder(3, []),
        "no layers"),
    "lm-targets-shape": api("`CharLM` targets of (2, 4) for ids of (2, 5)",
        lambda: _lm()(torch.zeros(2, 5, dtype=torch.long), targets=torch.zeros(2, 4, dtype=torch.long)), "targets", "(2, 5)"),
    "lm-tie-mismatch": api("`CharLM(tie_weights=True)` with embedding 4 and hidden 6", lambda: _lm(tie_weights=True),
        "tie_weights", "hidden_size"),
    "lm-dropout": api("`CharLM(dropout=1.5)`", lambda: _lm(dropout=1.5), "dropout", "1.5"),
    "lm-pad-id-outside": api("`CharLM(pad_id=9)` with 7 ids", lambda: _lm(pad_id=9), "pad_id 9", "0..6"),
    "lm-generate-negative-length": api("`lm.generate(prompt, -1)`", lambda: _lm().generate(torch.tensor([1]), -1),
        "max_new_tokens", "-1"),
    "encoder-not-a-tensor": api("a nested list to an encoder", lambda: _encoder()([[0.0, 1.0, 2.0]]), "expects a tensor", "list"),
    "layer-proj-not-smaller": api("`LayerSpec(cell=\"lstm\", hidden_size=8, proj_size=8)`",
        lambda: _spec(cell="lstm", hidden_size=8, proj_size=8), "proj_size (8)", "smaller than hidden_size"),
    "layer-weight-drop-one": api("`weight_drop=1.0`", lambda: _spec(cell="lstm", weight_drop=1.0), "weight_drop", "[0, 1)"),
    "layer-locked-not-bool": api('`locked_dropout="yes"`', lambda: _spec(cell="gru", locked_dropout="yes"), "locked_dropout", "'yes'"),
    "layer-heads-on-lstm": api("`heads=2` on an LSTM layer", lambda: _spec(cell="lstm", heads=2), "heads applies to the xLSTM cells"),
    "layer-heads-zero": api("`heads=0` on an mLSTM layer", lambda: _spec(cell="mlstm", heads=0), "heads must be an integer >= 1"),
    "layer-proj-reference": api('`proj_size=4` with `kernel="reference"`', lambda: _spec(cell="lstm", proj_size=4, kernel="reference"),
        "fused LSTM only"),
    "min-gru-state-shape": api("a state of (1, 2, 5) for a min_gru layer of 4 units",
        lambda: __import__("seqtk.nn.encoders", fromlist=["x"]).StackedEncoder(3, [{"cell": "min_gru", "hidden_size": 4}])(
            torch.zeros(2, 5, 3), state=[torch.zeros(1, 2, 5)]),
        "state for layer 1", "(1, 2, 4)"),
    "encoder-bad-input-size": api("`StackedEncoder(0, ...)`",
        lambda: __import__("seqtk.nn.encoders", fromlist=["x"]).StackedEncoder(0, [{"cell": "gru"}]), "input_size", "0"),
}


@pytest.mark.parametrize("name", API_CASES)
def test_api_bad_input(name):
    bad = API_CASES[name]
    with pytest.raises(ValueError) as info:
        bad.build()
    assert isinstance(info.value, SeqtkValueError)
    message = str(info.value)
    for words in bad.expect:
        assert words in message, f"{words!r} not in {message!r}"
    assert "Fix:" in message, message
    documented(name, bad.did, " ".join(message.split()))


# ---------------------------------------------------------------------------
# Cases whose set-up needs more than one process in a folder, tested where they point
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Elsewhere:
    """A case tested in ``test`` (path::function), which asserts each of ``checks``. ``message`` makes the
    message as the code that gives it says it now, from the same inputs (cheaply: no second process, no
    small disk, no trained image model), so its row here cannot drift either."""

    did: str
    test: str
    checks: tuple[str, ...]
    message: Callable[[Path], str]


def _disk_full(where: str, training: bool = True) -> Callable[[Path], str]:
    def make(tmp: Path) -> str:
        import errno

        from seqtk.cli.main import _environment_error

        error = OSError(errno.ENOSPC, "No space left on device", str(tmp / where))
        return "error: " + str(_environment_error(error, training=training))
    return make


def _lock_is_a_folder(tmp: Path) -> str:
    from seqtk.errors import SeqtkError
    from seqtk.training.runs import LOCK_NAME, _open_lock

    run = tmp / "run"
    (run / LOCK_NAME).mkdir(parents=True)
    with pytest.raises(SeqtkError) as info:
        _open_lock(run / LOCK_NAME, run)
    return "error: " + info.value.message


def _rank_0_refuses(tmp: Path) -> str:
    import importlib.util
    import sys

    from seqtk.errors import SeqtkError
    from seqtk.text.tokenize import WordTokenizer

    name = "seqtk_tests_intent_task"  # as tests/tasks/test_lifecycle.py imports it
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FIXTURES / "intent_task.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    rows = tmp / "intents.tsv"
    rows.write_text("train\twhat time is it\ttime\nthis line has no tabs\n")
    with pytest.raises(SeqtkError) as info:
        sys.modules[name].read_rows(str(rows), ("train", "val"), WordTokenizer(lowercase=True))
    return "error: " + info.value.message


def _tensor_to_a_tagger(tmp: Path) -> str:
    from seqtk.inference.predictor import unreadable_input
    from seqtk_plugins.tag.task import TagTask

    return unreadable_input(TagTask, "the input given", torch.tensor([1, 2])).message


def _float_image_in_0_255(tmp: Path) -> str:
    from seqtk.errors import SeqtkError
    from seqtk_plugins.pixel_mnist.inputs import image_items

    image = torch.zeros(28, 28)
    image[4:24, 8:11] = 255.0
    with pytest.raises(SeqtkError) as info:
        image_items(image)
    return info.value.message


ELSEWHERE: dict[str, Elsewhere] = {
    "export-torchscript-full-disk": Elsewhere(
        "`seqtk export CHAR_LM --format torchscript --out DIR/export` on a disk with 12 kB free, a real tmpfs "
        "(aborted the process, exit 134, and left half a model.pt)",
        "tests/inference/test_export.py::test_a_full_disk_during_a_torchscript_export_is_one_paragraph_and_leaves_no_half_file",
        ("no space is left on the device",), _disk_full("export/model.pt", training=False)),
    "run-disk-fills-at-a-checkpoint": Elsewhere(
        "`seqtk run toy_tiny ... --out DIR/run` on a disk that fills after last.pt is written, a real tmpfs",
        "tests/training/test_checkpoint.py::test_a_disk_that_fills_during_a_run_gives_the_cli_paragraph",
        ("error: no space is left on the device at '", "checkpoints already written are intact"),
        _disk_full("run/checkpoints/best.pt")),
    "run-disk-full-at-config": Elsewhere(
        "`seqtk run textgen_tiny --out DIR/run` while the disk is full (config.toml, a metrics line or a checkpoint "
        "finds no room)", "tests/cli/test_errors.py::test_a_full_disk_is_one_paragraph_and_keeps_what_was_written",
        ("error: no space is left on the device at", "checkpoints already written are intact", "Fix: free some space"),
        _disk_full("run/config.toml")),
    "torchrun-lock-is-a-folder": Elsewhere(
        "under torchrun (`--nproc 2`), `--out DIR/run` where run/.seqtk-run.lock is a folder: every rank says it "
        "(an internal error)",
        "tests/training/test_distributed.py::test_a_run_folder_lock_rank_0_cannot_open_is_refused_on_every_rank",
        ("by which a run holds its folder cannot be opened", "remove '"), _lock_is_a_folder),
    "torchrun-rank-0-refuses-the-data": Elsewhere(
        "under torchrun, a data file whose line 2 rank 0 refuses while it prepares the data first: every rank says "
        "rank 0's paragraph (the others died on the closed connection, or waited for a timeout)",
        "tests/training/test_distributed.py::test_a_data_file_rank_0_refuses_while_the_others_wait_stops_every_rank_with_its_paragraph",
        (":2 is not 'split<TAB>text<TAB>label'",), _rank_0_refuses),
    "predict-tensor-to-an-image-model": Elsewhere(
        "`seqtk.load(CKPT).predict(image)` on a pixel_mnist model, `image` a 28x28 float tensor of pixels in 0..255 "
        "(any tensor was a TypeError; tensors of uint8 0..255 or float 0..1 pixels are read)",
        "plugins/pixel_mnist/tests/test_pixel_mnist_predict_inputs.py::test_a_float_image_in_0_255_is_refused_with_the_fix",
        ("reads float pixels in 0..1, and these run from 0 to 255", "Fix: divide a 0..255 image by 255"),
        _float_image_in_0_255),
    "predict-tensor-to-a-text-model": Elsewhere(
        "`seqtk.load(CKPT).predict(torch.tensor([1, 2]))` on a tag model (tagged the words `tensor(1)` and "
        "`tensor(2)`)",
        "plugins/tag/tests/test_tag_predict_inputs.py::test_a_tensor_given_to_a_text_task_is_refused_not_tagged_as_its_printed_form",
        ("task 'tag' predict() takes a text (a string) or a list of tokens (a list of strings",
         "the input given is a torch.Tensor of shape (2,)"),
        _tensor_to_a_tagger),
}


@pytest.mark.parametrize("name", ELSEWHERE)
def test_a_case_tested_elsewhere_is_asserted_there_and_documented(name, tmp_path):
    case_ = ELSEWHERE[name]
    path, _, function = case_.test.partition("::")
    source = (ROOT / path).read_text(encoding="utf-8")
    assert f"def {function}(" in source, case_.test
    message = placeholders(" ".join(case_.message(tmp_path).split()), tmp_path)
    for words in case_.checks:
        assert words in source, f"{case_.test} no longer asserts {words!r}"
        assert words in message, f"{words!r} not in {message!r}"
    assert "Fix:" in message, message
    documented(name, case_.did, message, case_.test)


def all_cases() -> int:
    return len(CLI_CASES) + len(API_CASES) + len(ELSEWHERE)


def test_the_matrix_is_large_enough():
    assert all_cases() >= 150


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


# ---------------------------------------------------------------------------
# docs/bad_inputs.md: a row for every case, with the message it gives
# ---------------------------------------------------------------------------

INTRO = """\
# Bad inputs and the messages they give

<!-- Generated from the cases of tests/test_bad_inputs.py, which checks it; after changing a case or a message,
write it again with `SEQTK_WRITE_BAD_INPUTS=1 python -m pytest tests/test_bad_inputs.py`. Do not edit by hand. -->

Every mistake below gets one paragraph that says what went wrong and how to fix it, and no traceback
([reliability.md](reliability.md#bad-input-one-paragraph-never-a-traceback)). {total} cases:
{cli} commands, each run in process by `test_cli_bad_input[CASE]` of `tests/test_bad_inputs.py`; {api}
calls of the Python API, by `test_api_bad_input[CASE]`; and {elsewhere} cases whose set-up needs more (several
processes, a real full disk, a trained image model), tested where the last table says.

A command's message is its standard error from the `error:` line on (a usage error: all of it), with its lines
joined; `DIR` stands for the folder the case works in, which holds its files, runs and checkpoints. A command
exits with code 1, or 2 after a usage error (`Usage: ...`). Where *what the user did* ends with an old
behaviour in parentheses, the case was a bug, fixed when it was added here. A case whose message changes, or a
new case without its row, fails its test until this page is written again.
"""

HEADER = ["| case | what the user did | message |", "|---|---|---|"]
ELSEWHERE_HEADER = ["| case | what the user did | message | test |", "|---|---|---|---|"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str) -> str:
    """``text`` as a code span in a table cell (backticks inside: a double-backtick span)."""
    text = _cell(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def row(name: str, did: str, message: str, test: str | None = None) -> str:
    cells = [f"`{name}`", _cell(did), _code(message)] + ([f"`{test}`"] if test else [])
    return "| " + " | ".join(cells) + " |"


def page(rows: dict[str, str]) -> str:
    """docs/bad_inputs.md with ``rows`` (case -> its table row)."""
    out = [INTRO.format(total=all_cases(), cli=len(CLI_CASES), api=len(API_CASES), elsewhere=len(ELSEWHERE))]
    sections = [(title, list(group), HEADER) for title, group in CLI_GROUPS.items()]
    sections += [("The Python API", list(API_CASES), HEADER), ("Tested elsewhere", list(ELSEWHERE), ELSEWHERE_HEADER)]
    for title, names, header in sections:
        out += [f"## {title}", "", *header, *(rows[name] for name in names), ""]
    return "\n".join(out).rstrip() + "\n"


_ROW = re.compile(r"^\| `([^`]+)` \|")


def doc_rows() -> dict[str, str]:
    """The rows of docs/bad_inputs.md as it is, by case."""
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    return {m.group(1): line for line in text.splitlines() if (m := _ROW.match(line))}


_WRITTEN: dict[str, str] = {}  # with SEQTK_WRITE_BAD_INPUTS: the rows of the cases run, written at the end


def documented(name: str, did: str, message: str, test: str | None = None) -> None:
    """The case's row in docs/bad_inputs.md must say what it printed just now (or, writing, it will)."""
    line = row(name, did, message, test)
    if WRITE:
        _WRITTEN[name] = line
        return
    assert doc_rows().get(name) == line, (
        f"docs/bad_inputs.md does not show case {name!r} as it is now:\n  {line}\n"
        "write it again: SEQTK_WRITE_BAD_INPUTS=1 python -m pytest tests/test_bad_inputs.py"
    )


@pytest.fixture(scope="module", autouse=True)
def _write_the_page():
    yield
    if WRITE and _WRITTEN:
        rows = doc_rows() | _WRITTEN
        names = [*CLI_CASES, *API_CASES, *ELSEWHERE]
        rows = {name: rows.get(name, row(name, "(not run yet)", "")) for name in names}
        DOC.write_text(page(rows), encoding="utf-8")


def test_docs_bad_inputs_md_lists_every_case_and_no_other():
    if WRITE:
        pytest.skip("the page is being written")
    rows = doc_rows()
    names = [*CLI_CASES, *API_CASES, *ELSEWHERE]
    missing = [name for name in names if name not in rows]
    assert not missing, f"docs/bad_inputs.md has no row for {missing}: SEQTK_WRITE_BAD_INPUTS=1 python -m pytest tests/test_bad_inputs.py"
    assert DOC.read_text(encoding="utf-8") == page(rows), (
        "docs/bad_inputs.md is not the page the cases make (a row of no case, rows out of order, or its text "
        "edited): SEQTK_WRITE_BAD_INPUTS=1 python -m pytest tests/test_bad_inputs.py"
    )


def test_docs_reliability_md_gives_the_count():
    text = " ".join((ROOT / "docs" / "reliability.md").read_text(encoding="utf-8").split())
    said = (f"The matrix has {all_cases()} cases ([docs/bad_inputs.md](bad_inputs.md) lists each with its message): "
            f"{len(CLI_CASES)} commands that `tests/test_bad_inputs.py` runs in process, {len(API_CASES)} calls of the "
            f"Python API, and {len(ELSEWHERE)} cases whose set-up needs")
    assert said in text, f"docs/reliability.md should say: {said}"
