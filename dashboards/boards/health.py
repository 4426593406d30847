"""System health grid: every FoM score as a row, the last 7 UTC days as columns.

A row is a table with one row and a column per day (the table's title names the
score); each cell is that score's daily average for that day, in documented syntax only:
the query `avg:<score>{$env}.rollup(avg, 86400)` gives one point per UTC day
(Datadog aligns a rollup's buckets to multiples of its interval since the epoch,
so 86400-second buckets start at 00:00 UTC); the formula `timeshift(s, -k*86400)`
moves day -k into the widget's own one-day window (per-widget time `1d`), and the
time aggregator `last` takes that day's bucket. A day without points has no bucket:
the cell shows no data, which no colour rule matches — never green.

Colours come from `fom.thresholds`, first matching rule wins, with no gaps:
red < yellow ≤ s < green ≤ s (1.0 included) — the same cut as fom.scores.status.
The rows follow fom.scores: a formula added there appears here.
"""
from __future__ import annotations

from dashboards import alerting as a
from dashboards.board import Board
from dashboards.context import Context
from dashboards.layout import Row, group, grid, row
from dashboards.widgets import note, table
from fom.scores import AREA_WEIGHTS, FORMULAS

BOARD = Board("health", "orgpulse · System health grid",
              "Every Figure-of-Merit score (0..1) by UTC day: the daily average of each score, each "
              "area's composite, and the overall score, coloured by fom.thresholds.")
DAYS = 7
DAY = 86400


def formats(thresholds: dict) -> list[dict]:
    """Conditional formats, evaluated in order: green ≥ green, yellow ≥ yellow, red below."""
    return [{"comparator": ">=", "value": thresholds["green"], "palette": "white_on_green"},
            {"comparator": ">=", "value": thresholds["yellow"], "palette": "white_on_yellow"},
            {"comparator": "<", "value": thresholds["yellow"], "palette": "white_on_red"}]


def rows() -> list[tuple[str, list[tuple[str, str]]]]:
    """(area, [(metric, label)]): each area's scores, then its composite; overall last."""
    out = []
    for area in AREA_WEIGHTS:
        scores = [(f"health.{area}.{f.name}.fom", f.name.replace("_", " "))
                  for f in FORMULAS if f.area == area]
        out.append((area, scores + [(f"health.{area}.fom", f"{area} (composite)")]))
    out.append(("overall", [("health.overall.fom", "overall")]))
    return out


def score_row(metric: str, label: str, thresholds: dict) -> Row:
    """One table for one score: a single row (no group-by), a column per day, each column
    the same daily-average query shifted back that many days."""
    columns = [(f"timeshift(s, -{d * DAY})" if d else "s", f"{d} d ago" if d else "today")
               for d in range(DAYS - 1, -1, -1)]
    return row(table(f"{label} · {metric}", {"s": BOARD.q("avg", metric, rollup=("avg", DAY))}, columns,
                     aggregator="last", formats=formats(thresholds), time={"live_span": "1d"}), height=2)


def dashboard(ctx: Context) -> dict:
    legend = (f"Daily average per UTC day. Green ≥ {ctx.fom['green']:g}, yellow ≥ {ctx.fom['yellow']:g}, "
              f"red below (fom.thresholds); an empty cell is a day without data.")
    groups = [group("How to read this grid", row(note(legend), height=1), color="gray")]
    for area, scores in rows():
        groups.append(group(area, *[score_row(m, label, ctx.fom) for m, label in scores]))
    return BOARD.body(ctx, grid(*groups))


def monitors(ctx: Context) -> dict[str, dict]:
    red, yellow = ctx.fom["yellow"], ctx.fom["green"]
    return a.monitor(
        ctx, "fom_overall_red", "Overall health score is red",
        f"avg(last_1h):{a.q(ctx, 'avg', 'health.overall.fom')} < {red}",
        what=f"The overall Figure of Merit averaged below {red:g} (red) for an hour.",
        first="open the System health grid: which area's composite turned red, and which of its scores? "
              "Each score's row names its metric.",
        priority=3, critical=red, warning=yellow if yellow > red else None)
