"""``seqtk.utf8``, the path before the areas became folders: it is :mod:`seqtk.runtime.utf8`."""

import sys

from seqtk.runtime import utf8 as _module

sys.modules[__name__] = _module
