"""A held-out split's record in checkpoints, and the check that evaluation rebuilt the same split.

A task that cuts its own splits stores a small record of them in its
``state_dict``: ``{"seed", "sizes", "fingerprint"}`` where the fingerprint is
a hash over the held-out examples (classify, tag, seq2seq), or ``{"sizes",
"fingerprint"}`` over all three texts (textgen). ``seqtk eval`` rebuilds the
split from the data on disk; if the data changed, the scores would be on
other examples than the run's, so :func:`check_same_split` stops it.
``--resume`` checks the same record, so a changed held-out split (and, for
textgen, any changed text) is refused there too.
"""

from __future__ import annotations

from typing import Any

from seqtk.errors import SeqtkError


def check_same_split(restored: dict[str, Any] | None, now: dict[str, Any] | None) -> None:
    """Raise when a checkpoint's split record and the one rebuilt now differ (either None: nothing to check).

    >>> check_same_split({"fingerprint": "ab", "sizes": {"val": 2}}, {"fingerprint": "ab", "sizes": {"val": 2}})
    >>> check_same_split(None, {"fingerprint": "cd", "sizes": {}})
    """
    if restored is None or now is None or restored.get("fingerprint") == now["fingerprint"]:
        return
    raise SeqtkError(
        f"the data rebuilt a different split than the checkpoint was trained on (fingerprint "
        f"{now['fingerprint']}, sizes {now['sizes']}; the checkpoint has {restored.get('fingerprint')}, "
        f"sizes {restored.get('sizes')}), so its scores would not be comparable",
        fix="evaluate or resume with the data and [data] settings the model was trained with (see the run's "
        "config.toml), or start a new run",
    )
