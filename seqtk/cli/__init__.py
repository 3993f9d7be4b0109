"""The ``seqtk`` command-line interface (see :mod:`seqtk.cli.main`)."""
