"""The poller's memory of the latest value of every series it (or the informer) emitted.

FoM scores read their inputs here — never back from Datadog (a query that lags or fails
would score stale or missing data as current). A value
older than `max_age` is not an input: a collector that stopped succeeding makes
its scores disappear instead of freezing them at an old, healthy-looking value.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from orgpulse import metrics as m

AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "sum": sum,
    "min": min,
    "max": max,
    "avg": lambda v: sum(v) / len(v),
}
# "weighted_by:<metric>": a mean of per-series means, each weighted by the same-tagged series
# of <metric> (a project's mean run duration by its finished runs), not one vote per series.
WEIGHTED = "weighted_by:"


class ValueStore:
    def __init__(self, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._latest: dict[tuple[str, tuple], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def record(self, metrics: Iterable[m.Metric]) -> None:
        now = self.clock()
        with self._lock:
            for x in metrics:
                if x.type == m.GAUGE:  # point-in-time values only; counts are not levels
                    self._latest[(x.name, x.tags)] = (x.value, now)

    def snapshot(self) -> list[tuple[str, tuple, float, float]]:
        """Every series' latest (name, tags, value, measured at), fresh or not (the state file)."""
        with self._lock:
            return [(n, tags, v, at) for (n, tags), (v, at) in self._latest.items()]

    def get(
        self, name: str, max_age: float, aggregate: str = "sum", where: dict[str, str] | None = None
    ) -> float | None:
        """The fresh series of `name` combined across tags, or None when there is none.
        `where` keeps only the series carrying every one of these tags (author_type:human)."""
        if aggregate.startswith(WEIGHTED):
            return self.weighted_mean(name, aggregate[len(WEIGHTED) :], max_age, where)
        fresh = list(self._series(name, max_age, where).values())
        return AGGREGATES[aggregate](fresh) if fresh else None

    def _series(self, name: str, max_age: float, where: dict[str, str] | None = None) -> dict[tuple, float]:
        now = self.clock()
        wanted = set((where or {}).items())
        with self._lock:
            return {
                tags: v
                for (n, tags), (v, at) in self._latest.items()
                if n == name and now - at <= max_age and wanted <= set(tags)
            }

    def weighted_mean(
        self, name: str, weight: str, max_age: float, where: dict[str, str] | None = None
    ) -> float | None:
        """Σ value × weight / Σ weight over the series of `name` whose tags have a fresh,
        positive `weight` series; None when none has."""
        values, weights = self._series(name, max_age, where), self._series(weight, max_age, where)
        pairs = [(v, weights[tags]) for tags, v in values.items() if weights.get(tags, 0) > 0]
        total = sum(w for _, w in pairs)
        return sum(v * w for v, w in pairs) / total if total else None
