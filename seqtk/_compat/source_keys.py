"""``seqtk.source_keys``, the path before the areas became folders: it is :mod:`seqtk.config.source_keys`."""

import sys

from seqtk.config import source_keys as _module

sys.modules[__name__] = _module
