"""JSON every parser reads: NaN and infinities (a diverged model's loss, say) become null.

``seqtk ... --json`` prints it and ``seqtk serve`` answers with it; Python's ``json.dumps`` would write ``NaN``,
which is not JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any


def json_text(obj: Any) -> str:
    """Strict JSON text of ``obj``.

    >>> json_text({"loss": float("nan"), "rates": [1.5, float("inf")]})
    '{"loss": null, "rates": [1.5, null]}'
    """
    return json.dumps(finite(obj), allow_nan=False)


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float (in dicts, lists and tuples) replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: finite(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(value) for value in obj]
    return obj
