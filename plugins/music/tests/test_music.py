"""The music plugin on small ABC files written here (no network; music21 from the test extra)."""

from __future__ import annotations

import io
import json
import sys

import pytest
import torch

from seqtk.config.conversion import resolve
from seqtk.errors import SeqtkError
from seqtk.tasks.task import GenerateRequest

pytest.importorskip("music21")

from seqtk_plugins.music.codec import AbcCodec  # noqa: E402
from seqtk_plugins.music.config import MusicData  # noqa: E402
from seqtk_plugins.music.corpus import Tune, load_tunes, split_tunes_by_title  # noqa: E402
from seqtk_plugins.music.task import MusicTask  # noqa: E402
from seqtk_plugins.music.tunes import Skip, normalise, split_tunes  # noqa: E402

MESSY = """\
% A collection header, with a comment
%%scale 0.8

X: 12
T: The Test Jig
T: Another Title
R: Jig, double
C: Trad.
M: 6/8
L: 1/16
Q: 3/8=120
K: G major   % the key
"G"G4 {a}B2 !trill!d4 | (e2f2g2) "D"a4 % a comment
w: some lyrics here
P:B
|: .g2f2e2 ~d6 :|

X: 13
T: Two voices
M: 4/4
L: 1/8
K: D
V:1
DEFG ABcd|
"""

JIG_BARS = ["GAB c2d", "edc BAG", "FGA d2c", "BAG A3", "GAB c2d", "efg a2g", "fed cBA", "G3 G2"]


ENDINGS = ["G3 G2", "G3 z3", "G6", "B3 G3"]


def jig(title: str, shift: int = 0, ending: int = 0) -> str:
    """One of 32 distinct 8-bar jigs in G: the bars rotated by ``shift``, the last one of four endings."""
    bars = JIG_BARS[:7] + [ENDINGS[ending % 4]]
    bars = bars[shift % 8 :] + bars[: shift % 8]
    return f"X:1\nT:{title}\nM:6/8\nL:1/8\nK:G\n" + "|".join(bars[:4]) + "|\n" + "|".join(bars[4:]) + "|]\n\n"


def write_tunes(folder, count=32):
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(4):
        text = "".join(jig(f"Tune {f}-{i}", shift=i, ending=f) for i in range(count // 4))
        (folder / f"book{f}.abc").write_text(text, encoding="utf-8")
    return folder


# -- normalisation --------------------------------------------------------------------


def test_normalise_keeps_musical_headers_and_drops_the_rest():
    tune, two_voices = split_tunes(MESSY)
    assert tune.title == "The Test Jig"
    text = normalise(tune, keep_rhythm=True)
    assert text == "R:jig\nM:6/8\nL:1/8\nK:G\nG2 B d2 | efg a2\n|: gfe d3 :|\n"
    assert normalise(tune).startswith("M:6/8\nL:1/8\nK:G\n")  # no R: unless asked
    kept = normalise(tune, unit_length="keep", simplify=False)
    assert kept.startswith("M:6/8\nL:1/16\nK:G\n") and '"G"G4 {a}B2' in kept and "!trill!" in kept
    assert all(word not in kept for word in ("lyrics", "comment", "Trad", "Another", "X:", "T:", "P:B"))
    with pytest.raises(Skip, match="several voices"):
        normalise(two_voices)


def test_normalise_skips_tunes_without_a_metre_unless_allowed():
    [tune] = split_tunes("X:1\nT:Free\nK:Ador\nABc|]\n")
    with pytest.raises(Skip, match="no metre"):
        normalise(tune)
    assert normalise(tune, require_meter=False) == "M:none\nL:1/8\nK:Ador\nABc|]\n"


def test_note_lengths_are_rewritten_for_an_eighth_unit():
    [tune] = split_tunes("X:1\nM:2/4\nL:1/16\nK:D\nD2 F/ A3 [DF]4 z8 | d// e>f [L:1/4] g |]\n")
    assert normalise(tune).split("\n")[3] == "D F/4 A3/2 [DF]2 z4 | d/8 e/2>f/2 g2 |]"


def test_abc_tokens_keep_notes_with_their_lengths():
    text = "M:6/8\nL:1/8\nK:G\n|:G2B d/2c/2B|[1A3 z3:|[2 (3ABc d2|]\n"
    tokens = AbcCodec().tokens(text)
    assert tokens[:4] == ["M:6/8", "L:1/8", "K:G", "|:"]
    assert {"G2", "d/2", "[1", ":|", "[2", "(3", "|]"} <= set(tokens)
    assert AbcCodec().text(tokens) == "M:6/8\nL:1/8\nK:G\n|:G2Bd/2c/2B|[1A3z3:|[2(3ABcd2|]\n"


# -- corpus and split -------------------------------------------------------------------


def test_split_is_by_tune_and_keeps_titles_together():
    tunes = [Tune(f"M:4/4\nL:1/8\nK:C\nC{i}|]\n", f"Tune {i // 2}", "x.abc") for i in range(200)]
    splits = split_tunes_by_title(tunes, 0.1, 0.1)
    parts = {name: getattr(splits, name) for name in ("train", "val", "test")}
    assert sorted(t.text for p in parts.values() for t in p) == sorted(t.text for t in tunes)  # each tune once, whole
    titles = {name: {t.title for t in p} for name, p in parts.items()}
    assert not (titles["train"] & titles["val"] or titles["train"] & titles["test"] or titles["val"] & titles["test"])
    assert 18 <= len(parts["val"]) <= 22 and 18 <= len(parts["test"]) <= 22
    assert split_tunes_by_title(tunes, 0.1, 0.1) == splits  # the same split every run


def test_load_tunes_from_a_folder_drops_duplicates(tmp_path):
    folder = write_tunes(tmp_path / "abc", count=8)
    (folder / "copy.abc").write_text(jig("Tune 0-0"), encoding="utf-8")
    found = load_tunes(MusicData(path=str(folder)))
    assert len(found.tunes) == 8 and found.skipped["duplicate"] == 1 and found.files == 5


def test_the_corpus_table_counts_the_transposed_training_copies(tmp_path):
    from rich.console import Console

    from seqtk_plugins.music.corpus import describe, split_tunes_by_title
    from seqtk_plugins.music.transpose import transpose_tunes

    found = load_tunes(MusicData(path=str(write_tunes(tmp_path / "abc", count=40))))
    splits = split_tunes_by_title(found.tunes, 0.1, 0.1)
    used = {name: transpose_tunes(getattr(splits, name), "augment", [-2, 2] if name == "train" else [])
            for name in ("train", "val", "test")}
    out = io.StringIO()
    describe(found, splits, Console(file=out, width=200), used)
    n = len(splits.train)
    assert f"{3 * n:,} ({n:,} + {2 * n:,} transposed copies)" in out.getvalue()
    assert f"{sum(len(t.text) for t in used['train']):,}" in out.getvalue()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: p / "missing", "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "has no .abc or .mid files"),
        (lambda p: (p / "x.abc").write_text("just words, no tune\n") and p / "x.abc", "no usable tunes"),
        (lambda p: (p / "notes.txt").write_text("X:1\n") and p / "notes.txt", "is not an .abc or .mid file"),
    ],
)
def test_bad_data_paths_say_what_is_wrong(tmp_path, setup, message):
    with pytest.raises(SeqtkError, match=message) as info:
        load_tunes(MusicData(path=str(setup(tmp_path))))
    assert info.value.fix


def test_missing_music21_says_how_to_install_it(monkeypatch):
    from seqtk_plugins.music import m21

    monkeypatch.setitem(sys.modules, "music21", None)  # import music21 now raises ImportError
    with pytest.raises(SeqtkError, match=r'pip install "seqtk\[music\]"'):
        m21.music21()


def test_recipe_checks_reject_an_unknown_collection():
    with pytest.raises(SeqtkError, match="Did you mean 'oneills1850'"):
        make_recipe(None, data={"path": None, "collections": ["oneills"]})


def test_the_music21_collections_are_found():
    found = load_tunes(MusicData(collections=["miscFolk"]))
    assert len(found.tunes) > 150 and all(t.text.startswith("M:") for t in found.tunes)


# -- validation -----------------------------------------------------------------------------


# -- MIDI ---------------------------------------------------------------------------------------


# -- transposition ---------------------------------------------------------------------------------


# -- the task through the trainer ---------------------------------------------------------------------


def make_recipe(path, data=None, vocab=None, train=None, model=None):
    raw = {
        "task": {"name": "music"},
        "data": {"path": str(path) if path else None, "seq_len": 32, "val_fraction": 0.1, "test_fraction": 0.1,
                 "sample_tunes": 2, "max_tune_tokens": 120, **(data or {})},
        "vocab": {**(vocab or {})},
        "model": {"num_layers": 1, "hidden_size": 48, "embedding_dim": 16, "dropout": 0.0, **(model or {})},
        "train": {"batch_size": 8, "seed": 0, "device": "cpu", "lr": 0.02, "max_steps": 60, "eval_every": 60, **(train or {})},
        "log": {"progress": False, "tensorboard": False},
    }  # fmt: skip
    return resolve(raw, "music_test", MusicTask)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A char LM trained on 32 tiny jigs (60 steps), loaded back from its checkpoint."""
    from rich.console import Console

    from seqtk.inference.loading import load_for_inference
    from seqtk.training.train import run_training

    tmp = tmp_path_factory.mktemp("music")
    recipe = make_recipe(write_tunes(tmp / "abc"))
    result = run_training(recipe, out=tmp / "run", console=Console(file=io.StringIO(), width=100))
    return result, load_for_inference(result.run_dir / "checkpoints" / "best.pt", device="cpu"), tmp


def test_training_reports_rates_and_a_sample(trained):
    result, _, _ = trained
    assert result.step == 60 and result.metrics["loss"] < 1.5
    assert {"parse_rate", "bar_fill_rate", "finished_rate", "bits_per_token"} <= set(result.metrics)
    assert result.report.startswith("100 sampled tunes") and "parse rate" in result.report


def test_generate_writes_files_and_conditions_on_key_and_meter(trained):
    _, loaded, tmp = trained
    request = GenerateRequest(n=3, seed=1, length=200, extra={"out": str(tmp / "tunes"), "key": "G", "meter": "6/8"})
    tunes = loaded.task.generate(loaded.model, request, loaded.device)
    assert len(tunes) == 3 and all(t.startswith("M:6/8\nL:") and "\nK:G\n" in t for t in tunes)
    assert {"tunes", "parse_rate", "bar_fill_rate"} <= set(request.report)
    assert request.report["parse_rate"] > 0.5  # 60 steps on 32 variants of one jig: they parse
    assert sorted(p.name for p in (tmp / "tunes").iterdir())[:2] == ["tune_001.abc", "tune_001.mid"]
    again = loaded.task.generate(loaded.model, GenerateRequest(n=3, seed=1, length=200, extra={"key": "G", "meter": "6/8"}), loaded.device)
    assert again == tunes  # --seed reproduces


def test_generate_rejects_a_key_the_model_never_saw(trained):
    _, loaded, _ = trained
    with pytest.raises(SeqtkError, match="not a key of the training tunes") as info:
        loaded.task.generate(loaded.model, GenerateRequest(extra={"key": "F#m"}), loaded.device)
    assert "G" in info.value.fix


def test_cli_generate_json(trained, capsys):
    from seqtk.cli.main import main

    result, _, tmp = trained
    ckpt = result.run_dir / "checkpoints" / "best.pt"
    assert main(["generate", str(ckpt), "--n", "2", "--seed", "3", "--out", str(tmp / "cli"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["tunes"]) == 2 and 0 <= report["parse_rate"] <= 1
    assert all(t["abc"].startswith("M:") and "\nK:" in t["abc"] for t in report["tunes"])  # headers are always sampled whole
    assert report["tunes"][0]["abc"] == report["samples"][0] and (tmp / "cli" / "tune_002.abc").exists()
    first = (tmp / "cli" / "tune_001.abc").read_text()
    assert main(["generate", str(ckpt), "--n", "1", "--seed", "4", "--out", str(tmp / "cli"), "--json"]) == 0
    capsys.readouterr()
    assert (tmp / "cli" / "tune_001.abc").read_text() == first and (tmp / "cli" / "tune_003.abc").exists()  # appended
    (tmp / "afile").write_text("x")
    assert main(["generate", str(ckpt), "--out", str(tmp / "afile")]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err


def test_cli_generate_shows_a_prompt_once_and_textgen_refuses_music_options(trained, capsys, tmp_path):
    from seqtk.cli.main import main

    result, _, _ = trained
    ckpt = str(result.run_dir / "checkpoints" / "best.pt")
    prompt = "M:6/8\nL:1/8\nK:G\n"
    assert main(["generate", ckpt, "--prompt", prompt, "--seed", "1"]) == 0
    assert capsys.readouterr().out.count("K:G") == 1
    assert main(["run", "textgen_tiny", "--out", str(tmp_path / "tg"), "train.max_steps=2", "train.eval_every=2"]) == 0
    capsys.readouterr()
    assert main(["generate", str(tmp_path / "tg" / "checkpoints" / "last.pt"), "--key", "G"]) == 1
    assert "task 'textgen' does not use --key" in capsys.readouterr().err


def test_abc_tokens_train_too(tmp_path):
    task = MusicTask(make_recipe(write_tunes(tmp_path / "abc", count=16), vocab={"tokens": "abc"}))
    from rich.console import Console

    task.console = Console(file=io.StringIO())
    task.prepare()
    assert "K:G" in task.vocab and "c2d" not in task.vocab and "c2" in task.vocab
    torch.manual_seed(0)
    model = task.build_model()
    x, y = next(iter(task.train_loader()))
    assert x.shape == (8, 32) and torch.equal(x[:, 1:], y[:, :-1])
    assert task.step(model, (x, y), train=True).loss.requires_grad


def test_dropout_is_not_applied_twice_before_the_head(tmp_path):
    task = MusicTask(make_recipe(write_tunes(tmp_path / "abc", count=16), model={"num_layers": 2, "dropout": 0.3}))
    from rich.console import Console

    task.console = Console(file=io.StringIO())
    task.prepare()
    assert [spec.dropout for spec in task.build_model().encoder.specs] == [0.3, 0.0]


def test_abc_text_reads_back_as_the_same_tokens():
    # a generated token sequence may put "|" before "|1" or "d/2" before "2"; joined bare they re-read
    # as "||" "1" and "d/22" (another length), so the tune text would not be what the model sampled
    codec = AbcCodec()
    pieces = ["|", "|1", "|2", ":|", "2", "d/2", "d", "/", "3", "[", "]", "c'", ",", "(3", ">", "z", "-", "::", "|:"]
    gen = torch.Generator().manual_seed(0)
    for _ in range(300):
        body = [pieces[i] for i in torch.randint(0, len(pieces), (12,), generator=gen).tolist()]
        tokens = ["M:4/4", "L:1/8", "K:G", *body]
        assert codec.tokens(codec.text(tokens)) == tokens, codec.text(tokens)


