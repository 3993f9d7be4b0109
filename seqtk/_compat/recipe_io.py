"""``seqtk.recipe_io``, the path before the areas became folders: it is :mod:`seqtk.config.recipe_io`."""

import sys

from seqtk.config import recipe_io as _module

sys.modules[__name__] = _module
