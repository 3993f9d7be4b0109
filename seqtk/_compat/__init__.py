"""The module paths of seqtk before its areas became folders (``seqtk.vocab``, ``seqtk.encoders``, ...).

``seqtk/__init__.py`` adds this folder to the package's ``__path__``, so ``import seqtk.vocab`` finds
``_compat/vocab.py``, which puts the module that now holds the code in its place: ``seqtk.vocab`` *is*
``seqtk.text.vocab``, the same object, so third-party plugins written against older docs import, patch and
subclass exactly what seqtk uses. Code inside seqtk never imports through these paths
(tests/test_layers.py); tests/test_old_paths.py checks that every one still resolves.
"""
