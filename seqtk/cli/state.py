"""The options given before the command (``seqtk --debug --plugin-dir D COMMAND``), for the commands that
pass them on (``seqtk run --nproc`` starts new ``seqtk`` processes under torchrun)."""

from __future__ import annotations

from pathlib import Path


class _State:
    debug = False
    plugin_dirs: list[Path] = []  # --plugin-dir, passed on to the processes torchrun starts


STATE = _State()
