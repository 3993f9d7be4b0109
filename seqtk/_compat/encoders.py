"""``seqtk.encoders``, the path before the areas became folders: it is :mod:`seqtk.nn.encoders`."""

import sys

from seqtk.nn import encoders as _module

sys.modules[__name__] = _module
