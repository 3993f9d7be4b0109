"""``seqtk.contract``, the path before the areas became folders: it is :mod:`seqtk.tasks.contract`."""

import sys

from seqtk.tasks import contract as _module

sys.modules[__name__] = _module
