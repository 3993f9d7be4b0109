"""``seqtk.summary``, the path before the areas became folders: it is :mod:`seqtk.runtime.summary`."""

import sys

from seqtk.runtime import summary as _module

sys.modules[__name__] = _module
