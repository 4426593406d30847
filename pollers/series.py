"""Tagged gauges whose key vanishes: 0 after a clean measurement, never a stale last value.

A gauge per accelerator, region or status stops being sent when that key is
gone (no GPUs of a kind left, a region emptied). Datadog then keeps showing the
last value it got, so a "last value" widget reads a stale number. When a part
measured cleanly and a key it sent last time is truly gone, it is sent once
as 0. When the part failed, nothing is filled — absence then means "unknown",
and the keys are kept so the next clean measurement can fill them.

What "failed" covers, from the part's own `orgpulse.collector.errors` this cycle:
- the part raised (`clean=False`), or it counted an error with no `region` tag:
  nothing of the part is filled;
- it counted errors only with `region` tags: only series with one of those
  regions are held; every other series is filled as usual.
So a region that fails every cycle (down, CloudWatch or Pricing refused) holds
back its own series only; a GPU type gone from a healthy region still reads 0.

Only levels are filled: gauges that count or sum things (instances, GPUs,
jobs, dollars of what runs). Statistics and scores (durations, percentages,
averages, FoMs: units below) and values withheld on purpose (an hourly cost
with something unpriced) are unknown when absent, never 0.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from orgpulse import metrics as m

STATISTIC_UNITS = frozenset({"", "second", "minute", "hour", "day", "percent", "fraction"})
# Levels by unit that are absent on purpose when they cannot be measured right.
WITHHELD = frozenset(
    {
        "ec2.cost.running_hourly_estimate",  # absent while an instance is unpriced
        "github.commits.per_developer_7d",  # a ratio: absent with no developers
        "github.prs.avg_comments_per_pr",  # a mean: absent with no merged PR
    }
)

Key = tuple[str, tuple[tuple[str, str], ...]]
ERRORS = "orgpulse.collector.errors"


def failed_regions(metrics: Iterable[m.Metric]) -> set[str] | None:
    """The regions whose errors this cycle hold their series back; None: an error without
    a region holds back everything."""
    regions: set[str] = set()
    for x in metrics:
        if x.name == ERRORS:
            region = x.tag("region")
            if region is None:
                return None
            regions.add(region)
    return regions


def is_level(name: str) -> bool:
    row = m.catalog().get(name)
    return (
        row is not None
        and row.type == m.GAUGE
        and bool(row.tags)
        and row.unit not in STATISTIC_UNITS
        and name not in WITHHELD
    )


class VanishedSeries:
    """Per scope (a collector, an informer part): the level series sent last time."""

    def __init__(self) -> None:
        self._previous: dict[str, set[Key]] = {}
        self._lock = threading.Lock()

    def fill(self, scope: str, metrics: Iterable[m.Metric], clean: bool) -> list[m.Metric]:
        """Zeros for the level series of `scope` sent last time and absent now.
        `clean`: the scope did not fail as a whole; its error counts in `metrics`
        narrow what is filled further (module docstring)."""
        metrics = list(metrics)
        held_regions = failed_regions(metrics) if clean else None
        current = {(x.name, x.tags) for x in metrics if x.type == m.GAUGE and is_level(x.name)}
        with self._lock:
            gone = self._previous.get(scope, set()) - current
            # Absent from a failed region may mean unknown: fill nothing there, forget nothing.
            held = {key for key in gone if held_regions is None or dict(key[1]).get("region") in held_regions}
            self._previous[scope] = current | held
        return [m.Metric(name, m.GAUGE, 0.0, tags) for name, tags in sorted(gone - held)]
