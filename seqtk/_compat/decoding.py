"""``seqtk.decoding``, the path before the areas became folders: it is :mod:`seqtk.nn.decoding`."""

import sys

from seqtk.nn import decoding as _module

sys.modules[__name__] = _module
