"""``seqtk.xlstm``, the path before the areas became folders: it is :mod:`seqtk.nn.xlstm`."""

import sys

from seqtk.nn import xlstm as _module

sys.modules[__name__] = _module
