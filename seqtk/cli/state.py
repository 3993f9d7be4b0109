"""The options given before the command (``seqtk --debug --plugin-dir D COMMAND``), for the commands that
pass them on (``seqtk run --nproc`` starts new ``seqtk`` processes under torchrun)."""

from __future__ import annotations

from pathlib import Path


class _State:
    debug = False
    plugin_dirs: list[Path] = []  # --plugin-dir, passed on to the processes torchrun starts


STATE = _State()


class Stopped(Exception):
    """A command that stopped on purpose (a training run saved on Ctrl-C or SIGTERM): its message is
    printed as it is and the process exits with ``exit_code``. Not a KeyboardInterrupt, which click would
    turn into a plain abort."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message, self.exit_code = message, exit_code
