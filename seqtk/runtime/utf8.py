"""Reading text files as UTF-8, and an error that names the bad byte's line and column.

A byte-order mark is dropped (Windows editors write one). A file that is not
UTF-8 stops with a :class:`~seqtk.errors.SeqtkError` naming where, and how to
re-save it, rather than a ``UnicodeDecodeError`` traceback.
"""

from __future__ import annotations

from pathlib import Path

from seqtk.errors import SeqtkError


def read_utf8(path: Path) -> str:
    """Read ``path`` as UTF-8 (a BOM is dropped), naming line and column of a bad byte."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SeqtkError(f"cannot read '{path}': {exc.strerror}", fix="check the path and its permissions") from None
    return decode_utf8(data, path)


def decode_utf8(data: bytes, path: Path | str) -> str:
    """``data`` (the contents of ``path``) as text; a BOM is dropped.

    >>> decode_utf8(b"\\xef\\xbb\\xbfcaf\\xc3\\xa9", "a.txt")
    'café'
    >>> decode_utf8(b"ok\\ncaf\\xe9", "a.txt")
    Traceback (most recent call last):
    seqtk.errors.SeqtkError: 'a.txt' is not UTF-8 text: byte 6 (line 2, column 4) is 0xe9. Fix: ...
    """
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise not_utf8(Path(path), data, exc.start) from None


def not_utf8(path: Path, data: bytes, pos: int) -> SeqtkError:
    """The error for a file whose byte ``pos`` is not valid UTF-8."""
    line = data.count(b"\n", 0, pos) + 1
    column = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    return SeqtkError(
        f"'{path}' is not UTF-8 text: byte {pos} (line {line}, column {column}) is 0x{data[pos]:02x}",
        fix=f"re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 '{path}' > fixed{path.suffix}",
    )
