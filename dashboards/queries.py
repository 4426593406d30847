"""Metric query strings: built in one place, parsed back in one place.

A query is `<space>:<metric>{<filters>} by {<tags>}` plus functions
(`.as_count()`, `.rollup(avg, 86400)`), the form Datadog documents for
dashboards, monitors and SLOs alike. `Scope` decides the filters every query
gets: a dashboard's template variables (`$env`, `$repo`, … — only those whose
tag the metric carries, since filtering by a tag a metric lacks returns no
data), or a monitor's fixed `env:<name>`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dashboards import queryable as known
from orgpulse import metrics as m

# One metric reference inside any query string (monitor queries wrap it in
# `avg(last_5m):…`, SLO numerators combine several).
_REF = re.compile(
    r"(?P<space>[a-z][a-z0-9]*):(?P<metric>[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)"
    r"\{(?P<filters>[^}]*)\}(?:\s*by\s*\{(?P<by>[^}]*)\})?(?P<functions>(?:\.[a-z_]+\([^)]*\))*)"
)


_POINTS = re.compile(r"\.rollup\((sum|count)\s*,")


class QueryError(ValueError):
    """Not a single-metric query of a known metric."""


@dataclass(frozen=True)
class Scope:
    variables: tuple[str, ...] = ()  # dashboard template variables: tag keys, `env` first
    env: str | None = None  # monitors and SLOs: one environment

    def filters(self, row: m.CatalogRow | None) -> list[str]:
        if self.env is not None:
            return [f"env:{self.env}"]
        keys = known.tag_keys(row) if row else {"env"}
        return [f"${v}" for v in self.variables if v in keys]


@dataclass(frozen=True)
class Ref:
    space: str
    metric: str
    filters: tuple[str, ...]
    by: tuple[str, ...]
    functions: str

    @property
    def as_count(self) -> bool:
        return ".as_count()" in self.functions

    @property
    def points(self) -> bool:
        """`.rollup(sum, …)` or `.rollup(count, …)`: the sum or the number of the points in each
        interval — a level, whatever the metric holds (the health grid's daily averages)."""
        return bool(_POINTS.search(self.functions))

    def tag_keys(self) -> set[str]:
        """Every tag key the reference filters or groups by (`$repo` is the key repo)."""
        keys = set(self.by)
        for f in self.filters:
            f = f.lstrip("!")
            keys.add(f[1:] if f.startswith("$") else f.split(":", 1)[0])
        keys.discard("*")
        return keys


def query(
    scope: Scope,
    space: str,
    metric: str,
    *,
    by: tuple[str, ...] | list[str] = (),
    where: tuple[str, ...] | list[str] = (),
    rollup: tuple[str, int] | None = None,
) -> str:
    """`space:metric{scope filters, where…} by {by…}`, with .as_count() for counts (and for
    `count:` of a distribution: the number of values, what an SLO counts). A metric the catalog
    lacks is built all the same: `validate` names every such query at once."""
    row = known.rows().get(metric)
    filters = scope.filters(row) + list(where)
    text = f"{space}:{metric}{{{','.join(filters) or '*'}}}"
    if by:
        text += f" by {{{','.join(by)}}}"
    if (row and row.type == m.COUNT) or space == "count":  # events, or how many values a distribution got
        text += ".as_count()"
    if rollup:
        text += f".rollup({rollup[0]}, {rollup[1]})"
    return text


def parse(text: str) -> list[Ref]:
    """Every metric reference in a query string."""
    refs = []
    for match in _REF.finditer(text):
        filters = tuple(f.strip() for f in match["filters"].split(",") if f.strip())
        by = tuple(b.strip() for b in (match["by"] or "").split(",") if b.strip())
        refs.append(Ref(match["space"], match["metric"], filters, by, match["functions"]))
    return refs


def metric_of(text: str) -> m.CatalogRow | None:
    """The catalog row of a single-metric query (scalar widgets pick their time aggregator by
    it); None for a metric the catalog lacks (validate reports it)."""
    refs = parse(text)
    if len(refs) != 1:
        raise QueryError(f"not a single metric query: {text!r}")
    return known.rows().get(refs[0].metric)
