"""Extracting named members of downloaded archives (.tar.gz, .tgz, .tar, .zip, .whl).

Members are looked up by exact name and written, each atomically, only to the
paths given, so an archive cannot place files anywhere else. A damaged
archive is a clear error; a damaged *cached download* is also deleted, so the
next run fetches it afresh.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

from seqtk.data.fetch import MARKER_SUFFIX, downloads_dir
from seqtk.errors import SeqtkError
from seqtk.runtime.files import atomic_write_stream, remove_file


def extract_member(archive: Path, member_name: str, dest: Path) -> Path:
    """Extract one member of a .tar.gz/.tgz/.tar/.zip/.whl archive to ``dest`` atomically."""
    extract_members(archive, {member_name: dest})
    return dest


def extract_members(archive: Path, members: Mapping[str, Path]) -> None:
    """Extract several members in one pass (each written atomically).

    Members are looked up by exact name and written only to the paths given,
    so an archive cannot place files anywhere else.
    """
    archive = Path(archive)
    name = archive.name.lower()
    try:
        if name.endswith((".zip", ".whl")):
            _extract_zip(archive, members)
        elif name.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")):
            _extract_tar(archive, members)
        else:
            raise SeqtkError(f"cannot extract '{archive}': unknown archive type", fix="use a .tar.gz, .tgz, .tar, .zip or .whl file")
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError) as exc:
        raise _damaged(archive, exc) from None


def _damaged(archive: Path, exc: Exception) -> SeqtkError:
    """A damaged archive: a cached download is deleted (the next run fetches it afresh); a user's is left."""
    problem = f"the archive '{archive}' is damaged ({type(exc).__name__}: {exc})"
    if archive.resolve().parent == downloads_dir().resolve():
        remove_file(archive)
        remove_file(archive.with_name(archive.name + MARKER_SUFFIX))
        return SeqtkError(f"{problem}; the cached copy was deleted", fix="run the command again to download it afresh")
    return SeqtkError(problem, fix="replace it with a good copy")


def _extract_tar(archive: Path, members: Mapping[str, Path]) -> None:
    todo = dict(members)
    with tarfile.open(archive, "r:*") as tar:
        for info in tar:
            if info.name in todo and info.isfile():
                src = tar.extractfile(info)
                assert src is not None
                atomic_write_stream(todo.pop(info.name), src)
    _check_found(archive, todo)


def _extract_zip(archive: Path, members: Mapping[str, Path]) -> None:
    todo = dict(members)
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.filename in todo and not info.is_dir():
                with zf.open(info) as src:
                    atomic_write_stream(todo.pop(info.filename), src)
    _check_found(archive, todo)


def _check_found(archive: Path, missing: Mapping[str, Path]) -> None:
    if missing:
        first = next(iter(missing))
        raise SeqtkError(
            f"the archive '{archive}' has no file '{first}'" + (f" (and {len(missing) - 1} more missing)" if len(missing) > 1 else ""),
            fix=f"delete '{archive}' so that it is downloaded again",
        )
