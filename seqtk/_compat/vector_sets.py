"""``seqtk.vector_sets``, the path before the areas became folders: it is :mod:`seqtk.text.vector_sets`."""

import sys

from seqtk.text import vector_sets as _module

sys.modules[__name__] = _module
