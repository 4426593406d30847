"""The health grid's cells against each UTC day's true average, evaluated on a model of how
Datadog computes a scalar widget — built only from its documentation (no live org here):

- rollup intervals are aligned to UNIX time, and an interval cut by the query's window holds
  only the points inside it ("Rollup" page, "Rollups in monitors": "The start and end of rollup
  intervals are aligned to UNIX time … may evaluate an incomplete rollup interval");
- an interval without points has no value ("Interpolation", default_zero's example: "there is a
  single timestamp, because only one of the query's rollup intervals has a point"), and
  `default_zero()` gives it 0; functions apply to the intervals after time (rollup) and space
  aggregation, before the widget's time aggregator reduces the query to one value;
- `timeshift(q, -s)`: the query over the window s seconds earlier ("Timeshift");
- time aggregators: `last` (the newest interval with a value), `sum`, `avg`;
- a division by 0 is dropped (the monitor guide "Monitor arithmetic and sparse metrics").
"""

from __future__ import annotations

import ast
import operator
import re
from datetime import UTC, datetime, timedelta

import pytest

from dashboards import registry
from dashboards.queries import parse
from orgpulse import config

DAY = 86400
ROLLUP = re.compile(r"\.rollup\((\w+),\s*(\d+)\)")
TIME = {"sum": sum, "count": len, "avg": lambda v: sum(v) / len(v)}
SPACE = {"sum": sum, "avg": lambda v: sum(v) / len(v)}


class Model:
    def __init__(self, points: list[tuple[str, float, float]], now: float, span: float):
        self.points, self.now, self.span = points, now, span  # (series, unix time, value)

    def query(self, text: str, aggregator: str, shift: float, zero: bool) -> float | None:
        (ref,) = parse(text)
        method, interval = ROLLUP.search(ref.functions).groups()
        interval = int(interval)
        start, end = self.now - shift - self.span, self.now - shift
        per_series: dict[tuple[str, int], list[float]] = {}
        for series, t, v in self.points:
            if start <= t < end:
                per_series.setdefault((series, int(t // interval * interval)), []).append(v)
        buckets: dict[int, list[float]] = {}
        for (_, bucket), values in per_series.items():
            buckets.setdefault(bucket, []).append(TIME[method](values))
        values = {b: SPACE[ref.space](v) for b, v in buckets.items()}
        if zero:
            for b in range(int(start // interval * interval), int(end), interval):
                values.setdefault(b, 0.0)
        if not values:
            return None
        ordered = [values[b] for b in sorted(values)]
        return {"last": ordered[-1], "sum": sum(ordered), "avg": sum(ordered) / len(ordered)}[aggregator]

    def formula(self, text: str, queries: dict[str, dict]) -> float | None:
        def ev(node, shift=0.0, zero=False):
            if isinstance(node, ast.Name):
                q = queries[node.id]
                return self.query(q["query"], q["aggregator"], shift, zero)
            if isinstance(node, ast.Constant):
                return float(node.value)
            if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
                inner = ev(node.operand, shift, zero)
                return None if inner is None else -inner
            if isinstance(node, ast.Call) and node.func.id == "timeshift":
                return ev(node.args[0], shift - ev(node.args[1]), zero)
            if isinstance(node, ast.Call) and node.func.id == "default_zero":
                return ev(node.args[0], shift, True)
            a, b = ev(node.left, shift, zero), ev(node.right, shift, zero)
            if a is None or b is None or (isinstance(node.op, ast.Div) and b == 0):
                return None  # no value, or a division by 0: dropped
            ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
            return ops[type(node.op)](a, b)

        return ev(ast.parse(text, mode="eval").body)


def grid_row(metric: str) -> dict:
    body = registry.definitions(registry.context(config.load({}), None)).dashboards["health"]
    tables = [
        w["definition"]
        for g in body["widgets"]
        for w in g["definition"]["widgets"]
        if w["definition"]["type"] == "query_table"
    ]
    return next(t for t in tables if parse(t["requests"][0]["queries"][0]["query"])[0].metric == metric)


TODAY = datetime(2026, 11, 26, tzinfo=UTC)


def history(now: datetime) -> list[tuple[str, float, float]]:
    """A score sent every 15 minutes (7 minutes past) for nine days, varying through each day;
    no point at all 3 days ago, only the morning 2 days ago, a new series (an upgrade: another
    `version` tag) from noon yesterday."""
    out = []
    for day in range(-8, 1):
        start = TODAY + timedelta(days=day)
        for i in range(96):
            t = start + timedelta(minutes=15 * i + 7)
            if t >= now or day == -3 or (day == -2 and t.hour >= 6):
                continue
            series = "version:2" if (day, t.hour >= 12) in ((-1, True), (0, False), (0, True)) else "version:1"
            out.append((series, t.timestamp(), round(((day + 9) * 0.07 + i / 96 * 0.5) % 1.0, 4)))
    return out


def truth(points, day: int) -> float | None:
    start = (TODAY + timedelta(days=day)).timestamp()
    values = [v for _, t, v in points if start <= t < start + DAY]
    return sum(values) / len(values) if values else None


@pytest.mark.parametrize(
    "now", [TODAY + timedelta(hours=14, minutes=37, seconds=13), TODAY + timedelta(minutes=5, seconds=2)]
)  # just past midnight
def test_each_cell_is_that_utc_days_average_and_a_day_without_points_has_none(now):
    table = grid_row("health.overall.fom")
    request = table["requests"][0]
    queries = {q["name"]: q for q in request["queries"]}
    span = {"1d": DAY}[table["time"]["live_span"]]
    points = history(now)
    model = Model(points, now.timestamp(), span)
    cells = [model.formula(f["formula"], queries) for f in request["formulas"]]
    expected = [truth(points, -d) for d in range(6, -1, -1)]
    # the scenario: nothing 3 days ago; just past midnight, nothing yet today
    assert [e is None for e in expected] == [False, False, False, True, False, False, now.hour == 0]
    assert [None if c is None else round(c, 9) for c in cells] == [None if e is None else round(e, 9) for e in expected]
    assert [f["alias"] for f in request["formulas"]] == [f"{d} d ago" for d in range(6, 0, -1)] + ["today, so far"]
