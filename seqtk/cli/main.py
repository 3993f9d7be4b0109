"""The ``seqtk`` command: one Typer app, one module per group of commands.

Errors the user can fix (:class:`~seqtk.errors.SeqtkError`) print as one
paragraph and exit 1; anything else is reported as an internal error and exits
2. A traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Annotated, Optional

import click
import typer
from rich.console import Console
from rich.text import Text

from seqtk.cli.state import STATE, Stopped
from seqtk.errors import SeqtkError
from seqtk.version import __version__

app = typer.Typer(
    name="seqtk",
    help="Train and use recurrent sequence models (RNN, LSTM, GRU) from TOML recipes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)




def _version(value: bool) -> None:
    if value:
        print(f"seqtk {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    plugin_dir: Annotated[
        Optional[list[Path]],
        typer.Option("--plugin-dir", help="Extra folder of unpackaged task plugins (also $SEQTK_PLUGIN_DIR)."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """seqtk: recurrent sequence models with recipes, task plugins and a CLI."""
    STATE.debug = debug
    STATE.plugin_dirs = list(plugin_dir or [])
    if plugin_dir:
        from seqtk.tasks.registry import default_registry

        default_registry(list(plugin_dir))


def _register_commands() -> None:
    from seqtk.cli import catalog, doctor_cmd, export_cmd, infer, inspect_cmd, push_cmd, serve_cmd, train_cmd

    train_cmd.register(app)
    infer.register(app)
    export_cmd.register(app)
    push_cmd.register(app)
    serve_cmd.register(app)
    catalog.register(app)
    inspect_cmd.register(app)
    doctor_cmd.register(app)


_register_commands()


def _normalise_resume(argv: list[str]) -> list[str]:
    """Let ``--resume`` take an optional value: a bare ``--resume`` means the latest run."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == "--resume":
            nxt = out[i + 1] if i + 1 < len(out) else None
            if nxt is None or nxt.startswith("-") or "=" in nxt or nxt.endswith(".toml") or not _looks_like_run(nxt):
                out.insert(i + 1, "latest")
            break
    return out


def _looks_like_run(arg: str) -> bool:
    """An existing path, or one that reads as a path (has a slash or ends in .pt): a run to resume,
    so that a mistyped one is reported as missing rather than as a strange override."""
    return Path(arg).exists() or "/" in arg or arg.endswith(".pt")


# Typer 0.29 vendors click as typer._click; older releases use click itself.
_USAGE_ERRORS: tuple[type[Exception], ...] = tuple(
    {click.ClickException, getattr(getattr(typer, "_click", None), "exceptions", click.exceptions).ClickException}
)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``seqtk`` script; returns the exit code."""
    args = _normalise_resume(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        code = app(args=args, prog_name="seqtk", standalone_mode=False)
        if code == 130 and type(code) is int:  # typer turns Ctrl-C into Exit(130), which click returns here
            raise KeyboardInterrupt
        return 0
    except Stopped as stop:
        err.print(stop.message)
        return stop.exit_code
    except SeqtkError as exc:
        if debug:
            raise
        err.print(Text.assemble(("error: ", "bold red"), exc.message))
        return 1
    except (typer.Exit, click.exceptions.Exit) as exc:
        return exc.exit_code
    except _USAGE_ERRORS as exc:  # bad options or arguments: click's own message and usage line
        exc.show()
        return exc.exit_code
    except (typer.Abort, click.exceptions.Abort, KeyboardInterrupt):
        err.print("Interrupted. A run can be continued with `seqtk run RECIPE --resume`.")
        return 130
    except OSError as exc:
        if debug:
            raise
        known = _environment_error(exc, training=_command_of(args) == "run")
        if known is None:
            err.print(_internal_error(exc))
            return 2
        err.print(Text.assemble(("error: ", "bold red"), known))
        return 1
    except Exception as exc:  # a bug in seqtk or a plugin: still one paragraph
        if debug:
            raise
        err.print(_internal_error(exc))
        return 2


#: errors of the machine, not of seqtk: what went wrong and what to do
_ENVIRONMENT = {
    errno.ENOSPC: ("no space is left on the device", "free some space or write to another disk (--out, $SEQTK_DATA_DIR)"),
    errno.EDQUOT: ("the disk quota is used up", "free some space or write to another disk (--out, $SEQTK_DATA_DIR)"),
    errno.EROFS: ("the file system is read-only", "write to a writable folder (--out, $SEQTK_DATA_DIR)"),
    errno.EACCES: ("permission was denied", "write to a folder you own (--out, $SEQTK_DATA_DIR), or fix its permissions"),
}


def _environment_error(exc: OSError, training: bool = True) -> str | None:
    """One paragraph for an OSError the machine caused (a full disk, say); None for anything else.

    A checkpoint is written to a temporary file and renamed, so the checkpoint written before is intact;
    ``training`` (a ``seqtk run``) says so, which would mislead after ``seqtk export`` or ``predict``.
    """
    if exc.errno not in _ENVIRONMENT:
        return None
    what, fix = _ENVIRONMENT[exc.errno]
    where = f" at '{exc.filename}'" if exc.filename else ""
    kept = (" A run's checkpoints already written are intact (each is written whole, then renamed): a run can "
            "continue from its last.pt with --resume.") if training else ""
    return f"{what}{where}.{kept} Fix: {fix}."


def _command_of(args: list[str]) -> str:
    """The command in ``args`` (``run``, ``export``, ...), past the options that come before it."""
    words = iter(args)
    for word in words:
        if word == "--plugin-dir":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return ""


def _internal_error(exc: Exception) -> Text:
    where, culprit = _raised_at(exc)
    return Text.assemble(
        ("internal error: ", "bold red"),
        f"{type(exc).__name__}: {exc} (raised at {where}). This is not a problem with your input that "
        f"seqtk recognises. Fix: rerun with --debug for the traceback, and report it to {culprit}.",
    )


def _raised_at(exc: BaseException) -> tuple[str, str]:
    """Where ``exc`` was raised ("file:line in function"), and whose code that is.

    The innermost frame outside torch and the standard library names the
    culprit: seqtk itself, or the plugin whose file it is.
    """
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "an unknown place", "the seqtk developers"
    package = Path(__file__).resolve().parent.parent
    ours = [f for f in frames if "site-packages" not in f.filename and "/lib/python" not in f.filename] or frames
    frame = ours[-1]
    where = f"{frame.filename}:{frame.lineno} in {frame.name}"
    inside = Path(frame.filename).resolve().is_relative_to(package)
    return where, "the seqtk developers" if inside else f"the authors of {frame.filename}"


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
