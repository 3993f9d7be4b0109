"""``seqtk.model_config``, the path before the areas became folders: it is :mod:`seqtk.config.model_config`."""

import sys

from seqtk.config import model_config as _module

sys.modules[__name__] = _module
