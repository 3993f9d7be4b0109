"""``seqtk.fetch``, the path before the areas became folders: it is :mod:`seqtk.data.fetch`."""

import sys

from seqtk.data import fetch as _module

sys.modules[__name__] = _module
