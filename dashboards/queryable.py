"""What a dashboard, monitor or SLO may query, and how each metric may be aggregated.

The catalog (orgpulse/catalog.csv) is the source: a query naming a metric that is
not there, or a tag key its row does not declare, cannot pass `validate` (the old
collectors' dashboards queried metrics nobody emitted). Metrics that orgpulse
does not emit itself sit on EXTERNAL, an explicit allow-list.

Aggregation across series ("space") follows the metric's type and meaning:
counts are summed (and read `.as_count()`), distributions use percentiles,
gauges depend on what they hold — a level (open PRs, dollars, GPUs) is summed
across repositories or regions, a percentile or extreme (a p90, the oldest) is
the worst series (`max`), a ratio, mean or score is averaged or taken at its
min/max, never summed.
"""

from __future__ import annotations

import functools
import re

from orgpulse import metrics as m
from orgpulse.metrics import CONSTANT_TAG_KEYS, CatalogRow

_TELEMETRY_TAGS = frozenset({"client", "client_version", "client_transport"})


def _external(name: str, description: str) -> CatalogRow:
    return CatalogRow(name, m.COUNT, "", description, "datadog", _TELEMETRY_TAGS)


# The DogStatsD client's own telemetry (datadog.dogstatsd.client.*, sent every 10 s
# by the `datadog` package with orgpulse's constant tags; not billed as custom metrics).
EXTERNAL: dict[str, CatalogRow] = {
    row.name: row
    for row in (
        _external("datadog.dogstatsd.client.metrics", "Metrics the client was handed"),
        _external("datadog.dogstatsd.client.packets_sent", "Datagrams sent to the Agent"),
        _external("datadog.dogstatsd.client.packets_dropped", "Datagrams dropped (all causes)"),
        _external("datadog.dogstatsd.client.packets_dropped_queue", "Datagrams dropped: sender queue full"),
        _external("datadog.dogstatsd.client.packets_dropped_writer", "Datagrams dropped: socket write failed"),
        _external("datadog.dogstatsd.client.bytes_dropped", "Bytes dropped (all causes)"),
    )
}

# Gauge meanings, decided from the catalog row: an override, else the first name rule that
# matches, else the first description rule, else a level.
LEVEL, EXTREME, RATIO = "level", "extreme", "ratio"
_OVERRIDES = {
    "wandb.metrics.accuracy_runs_7d": LEVEL,  # "accuracy" in its name, but a count of runs
    "dora.performance_level": RATIO,  # a 1–4 score per repository and key: never summed
    "dora.time_since_deployment_hours": EXTREME,  # the longest silence is the worst series
}
_GAUGE_RULES: tuple[tuple[str, re.Pattern], ...] = (
    (
        RATIO,
        re.compile(
            r"\.fom$|pct|_rate|efficiency|per_day|per_developer|per_pr|passing"
            r"|accuracy|loss|utilization|steps_per_second|success$|last_success"
        ),
    ),
    (EXTREME, re.compile(r"(^|[._])p\d\d($|[._])|[._](max|min)$|oldest")),
    (RATIO, re.compile(r"(^|[._])avg($|[._])")),
)
# Rows whose name alone does not say it (read the description): a p90 named without "p90".
_DESCRIPTION_RULES: tuple[tuple[str, re.Pattern], ...] = (
    (EXTREME, re.compile(r"^(p\d\d|median|longest|shortest|most)\b", re.I)),
    (RATIO, re.compile(r"^(mean|average|1 when)\b", re.I)),  # "1 when …, else 0": a state
)
# An extreme (a p90, the longest, the shortest) is read at the worst series: max, or min for a minimum.
SPACE_AGGREGATORS = {LEVEL: {"sum"}, EXTREME: {"max", "min"}, RATIO: {"avg", "min", "max"}}
PERCENTILE = re.compile(r"^p\d{2,3}$")


@functools.cache
def rows() -> dict[str, CatalogRow]:
    """Every metric a definition may name: the catalog, then the allow-list."""
    return {**m.catalog(), **EXTERNAL}


def gauge_meaning(row: CatalogRow) -> str:
    if row.name in _OVERRIDES:
        return _OVERRIDES[row.name]
    for meaning, pattern in _GAUGE_RULES:
        if pattern.search(row.name):
            return meaning
    for meaning, pattern in _DESCRIPTION_RULES:
        if pattern.search(row.description):
            return meaning
    return LEVEL


def aggregation_problem(row: CatalogRow, space: str, as_count: bool, points: bool = False) -> str | None:
    """Why `space` (the query's aggregator) does not fit the metric, or None. `points`: the query
    sums or counts a gauge's points in time (`.rollup(sum|count, …)`), a level whatever the gauge
    holds: summed across series."""
    if row.type == m.GAUGE and points and not as_count:
        return None if space == "sum" else f"{row.name}: points summed or counted in time: use sum, not {space}"
    if row.type == m.COUNT:
        if space != "sum" or not as_count:
            return f"{row.name} is a count: use sum:…{{…}}.as_count(), not {space}"
        return None
    if row.type == m.DISTRIBUTION:
        if space == "count":  # how many values: an SLO's events
            return None if as_count else f"{row.name}: count:… of a distribution needs .as_count()"
        if as_count or not PERCENTILE.match(space):
            return f"{row.name} is a distribution: use a percentile (p50, p90, p99), not {space}"
        return None
    if as_count:
        return f"{row.name} is a {row.type}: .as_count() is for counts"
    meaning = gauge_meaning(row)
    allowed = SPACE_AGGREGATORS[meaning]
    return (
        None
        if space in allowed
        else (f"{row.name} is a {meaning} gauge: aggregate with {'/'.join(sorted(allowed))}, not {space}")
    )


# Time aggregation of a scalar widget's query (query value, top list, table).
TIME_AGGREGATORS = {m.COUNT: {"sum"}, m.DISTRIBUTION: {"percentile"}, m.GAUGE: {"last", "avg", "min", "max"}}
DEFAULT_TIME_AGGREGATOR = {m.COUNT: "sum", m.DISTRIBUTION: "percentile", m.GAUGE: "last"}
POINTS_TIME_AGGREGATORS = {"sum", "last"}  # a gauge's points summed or counted per interval


def time_aggregators(row: CatalogRow, points: bool = False) -> set[str]:
    return POINTS_TIME_AGGREGATORS if row.type == m.GAUGE and points else TIME_AGGREGATORS[row.type]


def tag_keys(row: CatalogRow) -> frozenset[str]:
    return row.tags | CONSTANT_TAG_KEYS
