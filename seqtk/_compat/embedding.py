"""``seqtk.embedding``, the path before the areas became folders: it is :mod:`seqtk.nn.embedding`."""

import sys

from seqtk.nn import embedding as _module

sys.modules[__name__] = _module
