"""``python -m seqtk`` (and ``torchrun -m seqtk``) runs the CLI."""

if __name__ == "__main__":
    from seqtk.cli.main import entry

    entry()
