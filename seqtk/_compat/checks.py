"""``seqtk.checks``, the path before the areas became folders: it is :mod:`seqtk.config.checks`."""

import sys

from seqtk.config import checks as _module

sys.modules[__name__] = _module
