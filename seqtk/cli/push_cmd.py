"""``seqtk push``: a checkpoint, its recipe and a model card to the Hugging Face Hub (:mod:`seqtk.inference.hub`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from seqtk.errors import SeqtkError


def push(
    checkpoint: Annotated[Path, typer.Argument(help="A checkpoint, e.g. runs/<recipe>/<time>/checkpoints/best.pt.")],
    repo_id: Annotated[str, typer.Argument(help="The model's id on the Hub: user/name or organisation/name.")],
    private: Annotated[bool, typer.Option(help="Create the repository as private.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write the folder that would be uploaded to --out; send nothing.")] = False,
    out: Annotated[Optional[Path], typer.Option(help="With --dry-run: the folder to write.")] = None,
) -> None:
    """Share a trained model on the Hugging Face Hub: model.pt, recipe.toml and a model card (README.md)."""
    from seqtk.cli.export_cmd import _size
    from seqtk.inference.hub import push as push_to_hub
    from seqtk.inference.hub import write_folder

    console = Console(highlight=False, soft_wrap=True)
    if out is not None and not dry_run:
        raise SeqtkError("--out is for --dry-run: a push uploads a temporary folder", fix="add --dry-run, or drop --out")
    if dry_run:
        if out is None:
            raise SeqtkError("--dry-run writes the folder it would upload, and needs --out", fix="add --out DIR")
        files = write_folder(checkpoint, repo_id, out)
        console.print(f"Wrote {out}/ (what `seqtk push` would upload to {repo_id}):")
        for path in files:
            console.print(f"  {path.name:<12} {_size(path.stat().st_size)}")
        console.print(f"Upload it later with `seqtk push {checkpoint} {repo_id}`.")
        return
    url = push_to_hub(checkpoint, repo_id, private=private)
    console.print(f"Pushed {checkpoint} to {url}")
    console.print(f'Load it with seqtk.load("hf://{repo_id}").')


def register(app: typer.Typer) -> None:
    app.command()(push)
