"""``seqtk.layers``, the path before the areas became folders: it is :mod:`seqtk.nn.layers`."""

import sys

from seqtk.nn import layers as _module

sys.modules[__name__] = _module
