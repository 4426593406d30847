"""System health grid: every FoM score as a row, the last 7 UTC days as columns.

A row is a table with one row and a column per day (the table's title names the score);
each cell is that score's average over that UTC calendar day — every point sent that day,
whole day, not a rolling 24 hours — in documented syntax only:

- `.rollup(sum, 86400)` and `.rollup(count, 86400)`: the sum and the number of the score's
  points per interval; rollup intervals are aligned to UNIX time (Datadog's rollup
  documentation, "Rollups in monitors"), so 86,400-second intervals are UTC days, and an
  interval cut by the query's window holds only the points inside it;
- the widget's own time, `live_span: 1d`: the window [now − 24 h, now] meets two UTC days,
  the tail of yesterday and the head of today (today so far);
- per query, the time aggregator `last` (the window's newest interval: the head) or `sum`
  (both intervals); `default_zero()` gives an interval without points the value 0, so `last`
  is always the head — never yesterday's tail standing in for an empty today;
- `timeshift(q, -k*86400)`: the same window k days earlier.

Day −k = its head (window shifted k days, `last`) + its tail (window shifted k − 1 days,
`sum` − `last`): sum of points ÷ number of points, i.e. the day's average; today is its
head alone. A day without points divides 0 by 0, which Datadog drops (its monitor-arithmetic
guide: a division by 0 is dropped), so the cell shows no data, which no colour rule
matches — never green. Summing across series (`sum:`) pools every series of the score (an
upgrade mid-day starts a series with a new `version` tag). tests/dashboards/test_health_grid.py
evaluates the cells on a model of these documented rules against each day's true average.

Colours come from `fom.thresholds`, first matching rule wins, with no gaps:
red < yellow ≤ s < green ≤ s (1.0 included) — the same cut as fom.scores.status.
The rows follow fom.scores: a formula added there appears here. The status page's grid
(each score's running average per UTC day, kept by the poller in its state file from the
values it sends) is the exact reference.
"""

from __future__ import annotations

from dashboards import alerting as a
from dashboards.board import Board
from dashboards.context import Context
from dashboards.layout import Row, grid, group, row
from dashboards.widgets import note, table
from fom.scores import AREA_WEIGHTS, FORMULAS

BOARD = Board(
    "health",
    "orgpulse · System health grid",
    "Every Figure-of-Merit score (0..1) by UTC day: the daily average of each score, each "
    "area's composite, and the overall score, coloured by fom.thresholds.",
)
DAYS = 7
DAY = 86400


def formats(thresholds: dict) -> list[dict]:
    """Conditional formats, evaluated in order: green ≥ green, yellow ≥ yellow, red below."""
    return [
        {"comparator": ">=", "value": thresholds["green"], "palette": "white_on_green"},
        {"comparator": ">=", "value": thresholds["yellow"], "palette": "white_on_yellow"},
        {"comparator": "<", "value": thresholds["yellow"], "palette": "white_on_red"},
    ]


def rows() -> list[tuple[str, list[tuple[str, str]]]]:
    """(area, [(metric, label)]): each area's scores, then its composite; overall last."""
    out = []
    for area in AREA_WEIGHTS:
        scores = [(f"health.{area}.{f.name}.fom", f.name.replace("_", " ")) for f in FORMULAS if f.area == area]
        out.append((area, scores + [(f"health.{area}.fom", f"{area} (composite)")]))
    out.append(("overall", [("health.overall.fom", "overall")]))
    return out


# Per score: the sum (s) and the number (n) of its points per UTC day, each read at the
# window's newest interval (…_head: `last`) and over the whole window (…_all: `sum`).
QUERIES = {"s_head": ("sum", "last"), "s_all": ("sum", "sum"), "n_head": ("count", "last"), "n_all": ("count", "sum")}


def _shifted(name: str, days: int) -> str:
    zeroed = f"default_zero({name})"
    return f"timeshift({zeroed}, -{days * DAY})" if days else zeroed


def _day(of: str, days: int) -> str:
    """The points' sum (of="s") or number (of="n") on the UTC day `days` ago: its head, the
    newest interval of the window shifted `days`; then its tail, the rest of the window
    shifted one day less."""
    head = _shifted(f"{of}_head", days)
    if not days:
        return head
    return f"{head} + {_shifted(f'{of}_all', days - 1)} - {_shifted(f'{of}_head', days - 1)}"


def cell(days: int) -> str:
    """The day's average: its points' sum ÷ their number (0 ÷ 0, no data, on a day without)."""
    return f"({_day('s', days)}) / ({_day('n', days)})"


def score_row(metric: str, label: str, thresholds: dict) -> Row:
    """One table for one score: a single row (no group-by), a column per UTC day."""
    queries = {name: BOARD.q("sum", metric, rollup=(method, DAY)) for name, (method, _) in QUERIES.items()}
    columns = [(cell(d), f"{d} d ago" if d else "today, so far") for d in range(DAYS - 1, -1, -1)]
    return row(
        table(
            f"{label} · {metric}",
            queries,
            columns,
            aggregator={name: agg for name, (_, agg) in QUERIES.items()},
            formats=formats(thresholds),
            time={"live_span": "1d"},
        ),
        height=2,
    )


def dashboard(ctx: Context) -> dict:
    legend = (
        f"A cell: the score's average over that whole UTC day (today: since 00:00). "
        f"Green ≥ {ctx.fom['green']:g}, yellow ≥ {ctx.fom['yellow']:g}, red below; empty: no data."
    )
    groups = [group("How to read this grid", row(note(legend), height=1), color="gray")]
    for area, scores in rows():
        groups.append(group(area, *[score_row(m, label, ctx.fom) for m, label in scores]))
    return BOARD.body(ctx, grid(*groups))


def monitors(ctx: Context) -> dict[str, dict]:
    red, yellow = ctx.fom["yellow"], ctx.fom["green"]
    return a.monitor(
        ctx,
        "fom_overall_red",
        "Overall health score is red",
        f"avg(last_1h):{a.q(ctx, 'avg', 'health.overall.fom')} < {red}",
        what=f"The overall Figure of Merit averaged below {red:g} (red) for an hour.",
        first="open the System health grid: which area's composite turned red, and which of its scores? "
        "Each score's row names its metric.",
        priority=3,
        critical=red,
        warning=yellow if yellow > red else None,
    )
