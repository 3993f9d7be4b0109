"""The server's counters in Prometheus' text format (``GET /metrics``): requests, latency, batch sizes, queues.

Written here rather than with ``prometheus_client``: four metric families in one process need ~80 lines, and
the server then needs nothing beyond its ASGI stack.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

#: latency buckets in seconds, and batch-size buckets in inputs
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

Labels = tuple[tuple[str, str], ...]


class Histogram:
    """Cumulative buckets, a sum and a count, per label set."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts: dict[Labels, list[int]] = defaultdict(lambda: [0] * (len(buckets) + 1))
        self.sums: dict[Labels, float] = defaultdict(float)

    def observe(self, labels: Labels, value: float) -> None:
        counts = self.counts[labels]
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
        counts[-1] += 1  # +Inf
        self.sums[labels] += value

    def lines(self, name: str) -> list[str]:
        out = []
        for labels, counts in sorted(self.counts.items()):
            for bound, count in zip((*self.buckets, "+Inf"), counts):
                out.append(f"{name}_bucket{_labels(labels + (('le', str(bound)),))} {count}")
            out.append(f"{name}_sum{_labels(labels)} {self.sums[labels]:.6f}")
            out.append(f"{name}_count{_labels(labels)} {counts[-1]}")
        return out


class Metrics:
    """What ``/metrics`` reports; updated from the event loop and the batchers' threads alike."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[Labels, int] = defaultdict(int)
        self.latency = Histogram(LATENCY_BUCKETS)
        self.batch_sizes = Histogram(BATCH_BUCKETS)
        #: model -> a function giving its queue's depth now
        self.queues: dict[str, Callable[[], int]] = {}

    def request(self, model: str, endpoint: str, status: int, seconds: float) -> None:
        labels = (("model", model), ("endpoint", endpoint))
        with self._lock:
            self.requests[labels + (("status", str(status)),)] += 1
            self.latency.observe(labels, seconds)

    def batch(self, model: str, endpoint: str, size: int) -> None:
        with self._lock:
            self.batch_sizes.observe((("model", model), ("endpoint", endpoint)), size)

    def text(self) -> str:
        """The Prometheus exposition text."""
        with self._lock:
            lines = ["# HELP seqtk_requests_total Requests answered, by model, endpoint and HTTP status.",
                     "# TYPE seqtk_requests_total counter"]
            lines += [f"seqtk_requests_total{_labels(k)} {v}" for k, v in sorted(self.requests.items())]
            lines += ["# HELP seqtk_request_seconds Time from a request's arrival to its last byte.",
                      "# TYPE seqtk_request_seconds histogram", *self.latency.lines("seqtk_request_seconds")]
            lines += ["# HELP seqtk_batch_size Inputs (predict) or streams (generate) run together: per batch, or for a rolling generate batch per run of steps.",
                      "# TYPE seqtk_batch_size histogram", *self.batch_sizes.lines("seqtk_batch_size")]
            lines += ["# HELP seqtk_queue_depth Requests waiting for a batch, by model.",
                      "# TYPE seqtk_queue_depth gauge"]
            lines += [f"seqtk_queue_depth{_labels((('model', m),))} {depth()}" for m, depth in sorted(self.queues.items())]
        return "\n".join(lines) + "\n"


def _labels(labels: Labels) -> str:
    """``{a="1",b="2"}``, values escaped as the format asks.

    >>> _labels((("model", 'a"b'), ("le", "0.5")))
    '{model="a\\\\"b",le="0.5"}'
    """
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels) + "}"
