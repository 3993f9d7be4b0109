"""seqtk's version, in a module of its own so that every layer may name it (the package root imports
the public classes, which import most of seqtk)."""

__version__ = "0.1.0"
