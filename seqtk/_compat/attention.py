"""``seqtk.attention``, the path before the areas became folders: it is :mod:`seqtk.nn.attention`."""

import sys

from seqtk.nn import attention as _module

sys.modules[__name__] = _module
