"""``seqtk.device``, the path before the areas became folders: it is :mod:`seqtk.runtime.device`."""

import sys

from seqtk.runtime import device as _module

sys.modules[__name__] = _module
