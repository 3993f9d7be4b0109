"""``seqtk export``: a checkpoint as TorchScript or ONNX, with its vocabulary, labels and a README (:mod:`seqtk.inference.export`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def export(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint, e.g. runs/<recipe>/<time>/checkpoints/best.pt.")],
    fmt: Annotated[str, typer.Option("--format", help="torchscript (needs torch to run) or onnx (onnxruntime).")],
    out: Annotated[Path, typer.Option(help="The folder to write the model, its JSON files and README.md to.")],
) -> None:
    """Export a trained model to run without seqtk: TorchScript or ONNX, vocabulary and labels as JSON, a README."""
    from seqtk.inference.export import check_format, export_checkpoint

    check_format(fmt)  # before the checkpoint is read: the mistake is in the command line
    result = export_checkpoint(checkpoint, fmt, out)
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"Wrote {result.out}/:")
    for path in result.files:
        console.print(f"  {path.name:<16} {_size(path.stat().st_size)}")
    if result.max_difference is None:
        console.print("Not checked: onnxruntime is not installed (pip install onnxruntime).")
    else:
        console.print(f"Checked: on {result.check_shapes} the {fmt} model's outputs differ from seqtk's by at most "
                      f"{result.max_difference:.1e}.")
    console.print(f"{result.out}/README.md shows how to run it.")


def _size(n: int) -> str:
    """A file size for people.

    >>> _size(812), _size(123_456), _size(9_876_543)
    ('812 B', '120.6 KiB', '9.4 MiB')
    """
    for unit in ("B", "KiB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} MiB"


def register(app: typer.Typer) -> None:
    app.command()(export)
