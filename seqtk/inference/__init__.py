"""Using a trained model: the checkpoint file, loading a model back, ``Predictor``, export, hub.

See docs/architecture.md for the areas and the order in which they may import each other."""
