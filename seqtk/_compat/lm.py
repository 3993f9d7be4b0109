"""``seqtk.lm``, the path before the areas became folders: it is :mod:`seqtk.nn.lm`."""

import sys

from seqtk.nn import lm as _module

sys.modules[__name__] = _module
