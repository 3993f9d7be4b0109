"""``seqtk.registry``, the path before the areas became folders: it is :mod:`seqtk.tasks.registry`."""

import sys

from seqtk.tasks import registry as _module

sys.modules[__name__] = _module
