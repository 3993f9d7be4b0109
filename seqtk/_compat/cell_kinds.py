"""``seqtk.cell_kinds``, the path before the areas became folders: it is :mod:`seqtk.nn.cell_kinds`."""

import sys

from seqtk.nn import cell_kinds as _module

sys.modules[__name__] = _module
