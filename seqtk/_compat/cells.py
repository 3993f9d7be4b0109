"""``seqtk.cells``, the path before the areas became folders: it is :mod:`seqtk.nn.cells`."""

import sys

from seqtk.nn import cells as _module

sys.modules[__name__] = _module
