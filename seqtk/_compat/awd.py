"""``seqtk.awd``, the path before the areas became folders: it is :mod:`seqtk.nn.awd`."""

import sys

from seqtk.nn import awd as _module

sys.modules[__name__] = _module
