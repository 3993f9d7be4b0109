"""Writing files so that a reader never sees half of one: a temporary file, then a rename.

Used for cached downloads and their extracted members, hash markers and
saved vocabularies; an interrupted write leaves the old file (or none).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_CHUNK = 1 << 20


def atomic_write_stream(dest: Path, src: IO[bytes]) -> None:
    """Copy ``src`` to ``dest`` through a temporary file and ``os.replace``."""
    with atomic_writer(dest, "wb") as out:
        shutil.copyfileobj(src, out, _CHUNK)


@contextlib.contextmanager
def atomic_writer(dest: Path, mode: str = "wb", **options: Any) -> Iterator[IO[Any]]:
    """A file opened with ``mode`` (and ``open``'s ``options``) whose contents become ``dest`` only when the
    block ends without an error.

    It is a temporary file beside ``dest``: flushed and fsynced (so a power cut cannot leave an empty
    ``dest``), made readable like any other file (``mkstemp`` makes 0600), then renamed over ``dest``. On
    any failure it is removed and ``dest`` is untouched; an OSError names ``dest`` (a full disk raises ENOSPC
    naming no file, and the CLI's paragraph should say which file found it full).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, mode, **options) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except OSError as exc:
        remove_file(Path(tmp))
        raise _naming(exc, dest) from None
    except BaseException:
        remove_file(Path(tmp))
        raise


def atomic_write_bytes(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` atomically.

    >>> import tempfile; folder = Path(tempfile.mkdtemp())
    >>> atomic_write_bytes(folder / "a.txt", b"hi"); (folder / "a.txt").read_bytes(), sorted(folder.iterdir()) == [folder / "a.txt"]
    (b'hi', True)
    """
    atomic_write_stream(dest, io.BytesIO(data))


def remove_stale_temps(dest: Path, age_s: float = 0.0) -> None:
    """Delete the temporary files (``.<name>.*.tmp``) that killed atomic writes of ``dest`` left behind.

    With ``age_s``, only those untouched for that long: another process may be
    writing ``dest`` right now. Without it, the caller is the only writer.

    >>> import tempfile; folder = Path(tempfile.mkdtemp())
    >>> (folder / ".a.txt.x1.tmp").write_text("half"); (folder / ".b.txt.x2.tmp").write_text("other")
    4
    5
    >>> remove_stale_temps(folder / "a.txt"); sorted(p.name for p in folder.iterdir())
    ['.b.txt.x2.tmp']
    """
    now = time.time()
    for stale in dest.parent.glob(f".{dest.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if not age_s or now - stale.stat().st_mtime > age_s:
                stale.unlink()


def remove_file(path: Path) -> None:
    """Delete ``path`` if it is there."""
    try:
        path.unlink()
    except FileNotFoundError:
        pass


@contextlib.contextmanager
def atomic_text_writer(dest: Path) -> Iterator[IO[str]]:
    """A UTF-8 text stream whose contents become ``dest`` only when the block ends without an error.

    >>> import tempfile; folder = Path(tempfile.mkdtemp())
    >>> with atomic_text_writer(folder / "p.jsonl") as out:
    ...     _ = out.write("{}\\n")
    >>> (folder / "p.jsonl").read_text(), len(list(folder.iterdir()))
    ('{}\\n', 1)
    """
    with atomic_writer(dest, "w", encoding="utf-8", newline="\n") as out:
        yield out


def _naming(exc: OSError, dest: Path) -> OSError:
    """``exc``, naming ``dest`` when it names no file: a write to a full disk raises ENOSPC without one, and
    the CLI's paragraph should say which file found the disk full.

    >>> str(_naming(OSError(28, "No space left on device"), Path("out/model.pt")))
    "[Errno 28] No space left on device: 'out/model.pt'"
    """
    if exc.filename is not None or exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror, str(dest))
