"""``seqtk export``: a checkpoint as TorchScript or ONNX, with its vocabulary, labels and a README (:mod:`seqtk.inference.export`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console


def export(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint, e.g. runs/<recipe>/<time>/checkpoints/best.pt.")],
    fmt: Annotated[str, typer.Option("--format", help="torchscript (needs torch to run) or onnx (onnxruntime).")],
    out: Annotated[Path, typer.Option(help="The folder to write the model, its JSON files and README.md to.")],
    quantize: Annotated[Optional[str], typer.Option(help="int8: store the ONNX model's matrix weights as int8 (smaller, faster on a CPU; its cost is printed).", show_default=False)] = None,
) -> None:
    """Export a trained model to run without seqtk: TorchScript or ONNX, vocabulary and labels as JSON, a README."""
    from seqtk.inference.export import check_format, export_checkpoint

    check_format(fmt, quantize)  # before the checkpoint is read: the mistake is in the command line
    result = export_checkpoint(checkpoint, fmt, out, quantize)
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"Wrote {result.out}/:")
    for path in result.files:
        console.print(f"  {path.name:<16} {_size(path.stat().st_size)}")
    if result.max_difference is None:
        console.print("Not checked: onnxruntime is not installed (pip install onnxruntime).")
    else:
        console.print(f"Checked: on {result.check_shapes} the {fmt} model's outputs differ from seqtk's by at most "
                      f"{result.max_difference:.1e}.")
    if result.int8_difference is not None:
        console.print(f"Then quantized to int8 weights: on the same inputs its outputs differ from the float32 "
                      f"model's by at most {result.int8_difference:.2g} (docs/performance.md: what int8 costs).")
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
