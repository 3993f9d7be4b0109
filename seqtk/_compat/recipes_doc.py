"""``seqtk.recipes_doc``, the path before the areas became folders: it is :mod:`seqtk.config.recipes_doc`."""

import sys

from seqtk.config import recipes_doc as _module

sys.modules[__name__] = _module
