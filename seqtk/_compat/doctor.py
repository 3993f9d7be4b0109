"""``seqtk.doctor``, the path before the areas became folders: it is :mod:`seqtk.cli.doctor`."""

import sys

from seqtk.cli import doctor as _module

sys.modules[__name__] = _module
