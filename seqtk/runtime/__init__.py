"""The process seqtk runs in and what it writes: devices, files, loggers, plots, model summaries.

See docs/architecture.md for the areas and the order in which they may import each other."""
