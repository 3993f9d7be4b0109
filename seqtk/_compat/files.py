"""``seqtk.files``, the path before the areas became folders: it is :mod:`seqtk.runtime.files`."""

import sys

from seqtk.runtime import files as _module

sys.modules[__name__] = _module
