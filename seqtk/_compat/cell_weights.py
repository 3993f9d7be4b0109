"""``seqtk.cell_weights``, the path before the areas became folders: it is :mod:`seqtk.nn.cell_weights`."""

import sys

from seqtk.nn import cell_weights as _module

sys.modules[__name__] = _module
