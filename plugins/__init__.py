"""seqtk's in-repo task plugins (installed as the ``seqtk_plugins`` package).

Each subpackage is one task. They register through the ``seqtk.tasks``
entry-point group in ``pyproject.toml``, exactly like third-party plugins.
"""
