"""``seqtk.lifecycle``, the path before the areas became folders: it is :mod:`seqtk.tasks.lifecycle`."""

import sys

from seqtk.tasks import lifecycle as _module

sys.modules[__name__] = _module
