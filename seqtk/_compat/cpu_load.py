"""``seqtk.cpu_load``, the path before the areas became folders: it is :mod:`seqtk.runtime.cpu_load`."""

import sys

from seqtk.runtime import cpu_load as _module

sys.modules[__name__] = _module
