"""``seqtk.plots``, the path before the areas became folders: it is :mod:`seqtk.runtime.plots`."""

import sys

from seqtk.runtime import plots as _module

sys.modules[__name__] = _module
