"""Checkpoint files: atomic writes, safe loading, clear errors, inference reload, run folders."""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import pytest
import torch
from rich.console import Console

from seqtk.errors import SeqtkError
from seqtk.inference.checkpoint import FORMAT, code_globals, describe, load_checkpoint, save_checkpoint
from seqtk.inference.loading import load_for_inference
from seqtk.training.train import run_training


def payload(step: int = 1) -> dict:
    return {"format": FORMAT, "version": 1, "step": step, "model": {"w": torch.full((4,), float(step))}}


def test_save_and_load_round_trip(tmp_path):
    save_checkpoint(tmp_path / "c" / "last.pt", payload(3))
    loaded = load_checkpoint(tmp_path / "c" / "last.pt")
    assert loaded["step"] == 3 and torch.equal(loaded["model"]["w"], torch.full((4,), 3.0))


@pytest.mark.parametrize("error", [OSError("No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch, error):
    from seqtk.inference import checkpoint

    path = tmp_path / "last.pt"
    save_checkpoint(path, payload(1))

    def half_write(f, data, *args, **kwargs):
        f.write(data[: len(data) // 2])  # killed half-way through the disk write
        raise error

    monkeypatch.setattr(checkpoint, "_write_all", half_write)
    with pytest.raises(type(error)):
        save_checkpoint(path, payload(2))
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temp file left


class _FillsUp(io.RawIOBase):
    """A file on a disk with ``room`` bytes left: writes are cut short there, then fail with ENOSPC."""

    def __init__(self, room: int) -> None:
        self.room = room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        import errno

        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = min(len(data), self.room)
        self.room -= written
        return written


def test_a_disk_that_fills_part_way_raises_the_os_error_the_cli_explains(tmp_path, monkeypatch):
    # torch.save writing straight into this file fails with a bare RuntimeError from its zip writer
    # ("unexpected pos"); the checkpoint is pickled in memory first, so the ENOSPC reaches the CLI.
    import errno

    path = tmp_path / "last.pt"
    save_checkpoint(path, payload(1))
    big = payload(2) | {"model": {"w": torch.randn(200_000)}}  # 800 kB: the disk fills part-way

    def filling(fd, mode):
        os.close(fd)
        return io.BufferedWriter(_FillsUp(300_000))

    monkeypatch.setattr(os, "fdopen", filling)
    with pytest.raises(OSError) as caught:
        save_checkpoint(path, big)
    monkeypatch.undo()
    assert caught.value.errno == errno.ENOSPC
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_a_real_full_disk_raises_enospc_naming_the_checkpoint_and_keeps_the_previous_one(small_disk):
    # torch.save writing onto the disk itself raised a bare RuntimeError from its zip writer here.
    import errno

    disk = small_disk(256)
    path = disk / "last.pt"
    save_checkpoint(path, payload(1) | {"model": {"w": torch.zeros(25_000)}})  # 100 kB of the 256
    with pytest.raises(OSError) as caught:
        save_checkpoint(path, payload(2) | {"model": {"w": torch.zeros(50_000)}})  # 200 kB: no room beside it
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in disk.iterdir()) == ["last.pt"]  # no temp file left


def test_a_disk_that_fills_during_a_run_gives_the_cli_paragraph(small_disk, monkeypatch, capsys):
    # The disk fills (another program, say) after a run's last.pt is written: its best.pt finds no room.
    import seqtk.training.session as session_module
    from seqtk.cli.main import main

    disk = small_disk(1024)
    real_save = session_module.save_checkpoint

    def save_then_fill(path, data):
        real_save(path, data)
        room = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "filler").write_bytes(b"x" * max(room - 16_384, 0))  # 16 kB left: logs fit, a checkpoint not

    monkeypatch.setattr(session_module, "save_checkpoint", save_then_fill)
    run = disk / "run"
    args = ["run", "toy_tiny", "train.max_steps=2", "log.tensorboard=false", "log.progress=false", "--out", str(run)]
    assert main(args) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: no space is left on the device at '{run / 'checkpoints' / 'best.pt'}'" in err, err
    assert "checkpoints already written are intact" in err and "Traceback" not in err
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt"]


def test_refuses_to_save_objects_that_could_not_be_loaded(tmp_path):
    bad = payload() | {"task_state": {"vocab": object()}}
    with pytest.raises(SeqtkError, match=r"checkpoint\['task_state'\]\['vocab'\].*plain data"):
        save_checkpoint(tmp_path / "x.pt", bad)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("keep", [0, 10, 0.5])
def test_truncated_checkpoint(tmp_path, keep):
    path = tmp_path / "last.pt"
    save_checkpoint(path, payload())
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(SeqtkError, match="truncated or corrupt.*cut off while being written.*best.pt"):
        load_checkpoint(path)


class Exploit:
    """Unpickling this would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class ExecExploit:
    """Unpickling this would run Python code through exec."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


EXPLOITS = {
    # torch.save's zip format, its legacy format, and plain pickles of several protocols
    "zip": lambda obj, path: torch.save({"format": FORMAT, "version": 1, "x": obj}, path),
    "legacy": lambda obj, path: torch.save({"x": obj}, path, _use_new_zipfile_serialization=False),
    "pickle5": lambda obj, path: path.write_bytes(pickle.dumps({"x": obj}, protocol=5)),
    "pickle0": lambda obj, path: path.write_bytes(pickle.dumps(obj, protocol=0)),
}


@pytest.mark.parametrize("kind", [Exploit, ExecExploit], ids=["os.system", "exec"])
@pytest.mark.parametrize("write", EXPLOITS.values(), ids=EXPLOITS.keys())
def test_unsafe_pickle_is_refused_and_runs_nothing(tmp_path, kind, write):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    write(kind(marker), path)
    with pytest.raises(SeqtkError, match=r"would run code when loaded \(.*(system|exec).*\); seqtk refuses it.*written by seqtk"):
        load_checkpoint(path)
    assert not marker.exists()


def test_code_globals_reads_without_running(tmp_path):
    marker = tmp_path / "pwned"
    EXPLOITS["zip"](Exploit(marker), tmp_path / "evil.pt")
    assert code_globals(tmp_path / "evil.pt") == ["posix.system" if os.name == "posix" else "nt.system"]
    save_checkpoint(tmp_path / "good.pt", payload())
    assert code_globals(tmp_path / "good.pt") == []
    assert not marker.exists()


def test_a_later_save_removes_temp_files_of_a_killed_writer(tmp_path):
    path = tmp_path / "last.pt"
    stale = tmp_path / ".last.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    other = tmp_path / ".best.pt.abc123.tmp"
    other.write_bytes(b"another file's temp")
    save_checkpoint(path, payload(2))
    assert not stale.exists() and other.exists()
    assert load_checkpoint(path)["step"] == 2


def test_foreign_files_are_named(tmp_path):
    torch.save({"a": 1}, tmp_path / "dict.pt")
    with pytest.raises(SeqtkError, match="not a seqtk checkpoint: it holds a dictionary with the keys 'a'"):
        load_checkpoint(tmp_path / "dict.pt")
    torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "sd.pt")
    with pytest.raises(SeqtkError, match="bare model state_dict"):
        load_checkpoint(tmp_path / "sd.pt")
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(SeqtkError, match="its format is 'other'"):
        load_checkpoint(tmp_path / "other.pt")
    assert describe(torch.zeros(2, 3)) == "a single tensor of shape (2, 3)"


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(SeqtkError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(SeqtkError, match="is a folder.*best.pt"):
        load_checkpoint(tmp_path)


def test_newer_format_version(tmp_path):
    save_checkpoint(tmp_path / "new.pt", payload() | {"version": 99})
    with pytest.raises(SeqtkError, match="version 99.*upgrade seqtk"):
        load_checkpoint(tmp_path / "new.pt")


def test_load_for_inference(toy_task, tmp_path):
    recipe = toy_task.make_recipe(tmp_path, train={"max_steps": 4})
    result = run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
    loaded = load_for_inference(tmp_path / "run/checkpoints/last.pt", device="cpu")
    assert loaded.recipe == recipe and loaded.device == torch.device("cpu")
    assert not loaded.model.training
    assert loaded.task.scale == result.task.scale  # task state restored without any data
    assert not loaded.task.x
    for name, value in result.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], value)


def test_weights_that_do_not_fit_the_model(toy_task, tmp_path):
    recipe = toy_task.make_recipe(tmp_path, train={"max_steps": 2})
    run_training(recipe, out=tmp_path / "run", console=Console(file=io.StringIO()))
    data = load_checkpoint(tmp_path / "run/checkpoints/last.pt")
    data["model"]["head.weight"] = torch.zeros(1, 99)
    save_checkpoint(tmp_path / "bad.pt", data)
    with pytest.raises(SeqtkError, match="do not fit the model.*head.weight"):
        load_for_inference(tmp_path / "bad.pt", device="cpu")


def test_flipped_bytes_in_the_weights_are_caught_by_the_crc(tmp_path):
    # torch.load does not check the zip's CRC-32s: changed weight bytes used to load as garbage
    path = tmp_path / "last.pt"
    save_checkpoint(path, {**payload(), "model": {"w": torch.arange(4096, dtype=torch.float32)}})
    data = bytearray(path.read_bytes())
    start = data.index(torch.arange(4096, dtype=torch.float32).numpy().tobytes()[4000:4064])
    data[start : start + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(SeqtkError, match="fails its CRC-32 check") as exc:
        load_checkpoint(path)
    assert "best.pt" in exc.value.fix


def test_a_damaged_zip_directory_or_odd_version_is_a_clear_error(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, payload())
    data = path.read_bytes()
    path.write_bytes(data[:-30] + bytes(30))  # the end-of-central-directory record
    with pytest.raises(SeqtkError, match="truncated or corrupt"):
        load_checkpoint(path)
    for version in (True, -5, 0):
        save_checkpoint(path, {**payload(), "version": version})
        with pytest.raises(SeqtkError, match="format version"):
            load_checkpoint(path)


def test_a_checkpoint_without_what_inference_reads_says_so(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, payload())
    with pytest.raises(SeqtkError, match="lacks task, recipe_name, recipe, task_state, which loading it for inference"):
        load_for_inference(path)


def test_a_checkpoint_is_as_readable_as_the_runs_other_files(tmp_path):
    # mkstemp's 0600 made last.pt and best.pt unreadable to the other users of a shared machine, while
    # config.toml and metrics.jsonl (seqtk.runtime.files) were 0644
    import stat

    path = tmp_path / "last.pt"
    save_checkpoint(path, payload(1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
