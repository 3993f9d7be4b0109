"""``seqtk.loggers``, the path before the areas became folders: it is :mod:`seqtk.runtime.loggers`."""

import sys

from seqtk.runtime import loggers as _module

sys.modules[__name__] = _module
