"""The vocabulary file: its JSON form, checked on the way in, written atomically.

:class:`seqtk.text.vocab.Vocab` owns the mapping; this module owns the format, so
that a hand-edited, truncated or foreign file is a clear error naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seqtk.errors import SeqtkError
from seqtk.runtime.files import atomic_write_bytes

FORMAT = "seqtk.text.vocab"
FORMAT_VERSION = 1
OOV_HASH = "blake2b-64"
_FIX = "re-create it with Vocab.save() or Vocab.to_dict()"


def check_vocab_data(data: Any, source: str) -> tuple[list[str], list[str], int]:
    """(tokens, specials, num_oov_buckets) of vocabulary data; ``source`` names its origin in errors."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SeqtkError(f"{source} is not a seqtk vocabulary (no \"format\": \"{FORMAT}\")", fix=_FIX)
    if data.get("version") != FORMAT_VERSION or data.get("oov_hash") != OOV_HASH:
        raise SeqtkError(
            f"{source} has version {data.get('version')!r} / OOV hash {data.get('oov_hash')!r}; "
            f"this seqtk reads version {FORMAT_VERSION} / {OOV_HASH}",
            fix="upgrade seqtk or rebuild the vocabulary",
        )
    for key, kind in (("tokens", list), ("specials", list), ("num_oov_buckets", int)):
        if not isinstance(data.get(key), kind):
            raise SeqtkError(f"{source} lacks the {kind.__name__} field {key!r}", fix=_FIX)
    return data["tokens"], data["specials"], data["num_oov_buckets"]


def write_vocab_file(path: Path, data: dict[str, Any]) -> None:
    """Indented, human-readable JSON, written atomically (an old file stays whole)."""
    try:
        encoded = (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (from undecodable bytes) has no UTF-8 form: escape it
        encoded = (json.dumps(data, indent=2, ensure_ascii=True) + "\n").encode("ascii")
    try:
        atomic_write_bytes(path, encoded)
    except OSError as err:
        raise SeqtkError(f"cannot write the vocabulary to '{path}': {err.strerror}", fix="check the path") from None


def read_vocab_file(path: Path) -> Any:
    """The JSON data of a vocabulary file (checked by :func:`check_vocab_data` afterwards)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeqtkError(
            f"the vocabulary file '{path}' does not exist", fix="check the path or build one with Vocab.save()"
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise SeqtkError(f"cannot read the vocabulary file '{path}': {err}", fix="check the path") from None
    except json.JSONDecodeError as err:
        raise SeqtkError(
            f"the vocabulary file '{path}' is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})",
            fix="restore the file or rebuild it with Vocab.save()",
        ) from None
