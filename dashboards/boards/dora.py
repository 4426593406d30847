"""DORA: the four keys per repository and their levels — the dashboard, and the monitors on
change failure rate and on a repository that stopped deploying (the figures:
pollers/dora/figures.py)."""

from __future__ import annotations

from dashboards import alerting as a
from dashboards.board import Board
from dashboards.context import Context
from dashboards.layout import grid, group, row, span
from dashboards.widgets import note, table, timeseries, toplist, value
from fom.delivery import BANDS, LEVELS

BOARD = Board(
    "dora",
    "orgpulse · DORA: the four keys",
    "Deployment frequency, lead time for changes, change failure rate and time to restore "
    "service per repository, their DORA levels (2023 Accelerate State of DevOps bands, 30 "
    "days) and the delivery FoM.",
    ("repo",),
)
THRESHOLDS = {
    "dora_change_failure_rate_pct": 15.0,  # critical: 30-day rate past the medium band
    "dora_change_failure_rate_pct_warning": 10.0,  # past the high band
    "dora_days_without_deployment": 7.0,  # a repository that deploys, silent this long
}
KEYS = tuple(BANDS)
# Conditional formats of a level (4 elite … 1 low), first matching rule wins, no gaps.
LEVEL_FORMATS = [
    {"comparator": ">=", "value": LEVELS["high"], "palette": "white_on_green"},
    {"comparator": ">=", "value": LEVELS["medium"], "palette": "white_on_yellow"},
    {"comparator": "<", "value": LEVELS["medium"], "palette": "white_on_red"},
]
HOURS = [("p50 / 3600", "p50"), ("p90 / 3600", "p90")]


def _levels(q, ctx: Context) -> list:
    elite, high, medium = BANDS["deployment_frequency"][2]
    legend = (
        "Levels from 30 days: 4 elite, 3 high, 2 medium, 1 low. Bands (fom/delivery.py): "
        f"deployments ≥ {elite} / ≥ {high} / ≥ {medium} in 30 days (only repositories that deploy); "
        "lead time p50 < 1 day / 1 week / 1 month; "
        "change failure rate ≤ 5 / 10 / 15 %; time to restore p50 < 1 hour / 1 day / 1 week."
    )
    fom = [
        {"comparator": ">=", "value": ctx.fom["green"], "palette": "white_on_green"},
        {"comparator": ">=", "value": ctx.fom["yellow"], "palette": "white_on_yellow"},
        {"comparator": "<", "value": ctx.fom["yellow"], "palette": "white_on_red"},
    ]
    return [
        row(
            span(note(legend), 4),
            span(
                table(
                    "Level by repository",
                    {key: q("min", "dora.performance_level", by=("repo",), where=(f"key:{key}",)) for key in KEYS},
                    formats=LEVEL_FORMATS,
                ),
                8,
            ),
            height=4,
        ),
        row(
            *[
                value(
                    key.replace("_", " ") + " (FoM)",
                    {"s": q("avg", f"health.delivery.{key}.fom")},
                    precision=2,
                    formats=fom,
                )
                for key in KEYS
            ],
            value("delivery (FoM)", {"s": q("avg", "health.delivery.fom")}, precision=2, formats=fom),
            height=2,
        ),
    ]


def _frequency(q) -> list:
    return [
        row(
            span(
                timeseries(
                    "Production deployments (as they happen)",
                    {"deployments": q("sum", "dora.deployments", by=("repo", "environment"))},
                    display="bars",
                ),
                6,
            ),
            table(
                "Successful production deployments",
                {
                    "days_7": q("sum", "dora.deployments_7d", by=("repo",)),
                    "days_30": q("sum", "dora.deployments_30d", by=("repo",)),
                },
            ),
            toplist(
                "Hours since the last production deployment",
                {"hours": q("max", "dora.time_since_deployment_hours", by=("repo",))},
            ),
        ),
        row(
            value("Production deployments (7 d)", {"n": q("sum", "dora.deployments_7d")}, precision=0),
            value("Production deployments (30 d)", {"n": q("sum", "dora.deployments_30d")}, precision=0),
            value("Longest since a deployment (h)", {"h": q("max", "dora.time_since_deployment_hours")}),
            height=2,
        ),
    ]


def _lead_time(q) -> list:
    return [
        row(
            timeseries(
                "Lead time for changes, hours (commit → production)",
                {"p50": q("p50", "dora.lead_time"), "p90": q("p90", "dora.lead_time")},
                HOURS,
            ),
            table(
                "Lead time by repository, hours",
                {
                    "p50_7d": q("max", "dora.lead_time_p50_hours", by=("repo",)),
                    "p90_7d": q("max", "dora.lead_time_p90_hours", by=("repo",)),
                    "p50_30d": q("max", "dora.lead_time_p50_hours_30d", by=("repo",)),
                    "p90_30d": q("max", "dora.lead_time_p90_hours_30d", by=("repo",)),
                },
            ),
        )
    ]


def _failures(q) -> list:
    return [
        row(
            timeseries(
                "Change failure rate, %",
                {
                    "days_7": q("avg", "dora.change_failure_rate_7d", by=("repo",)),
                    "days_30": q("avg", "dora.change_failure_rate_30d", by=("repo",)),
                },
            ),
            timeseries(
                "Deployments marked failed (7 d), by signal",
                {"failed": q("sum", "dora.change_failures_7d", by=("signal",))},
                display="bars",
            ),
            table(
                "Change failure rate by repository, %",
                {
                    "days_7": q("avg", "dora.change_failure_rate_7d", by=("repo",)),
                    "days_30": q("avg", "dora.change_failure_rate_30d", by=("repo",)),
                },
            ),
        )
    ]


def _restore(q) -> list:
    return [
        row(
            timeseries(
                "Time to restore, hours, by source",
                {
                    "p50": q("p50", "dora.time_to_restore", by=("source",)),
                    "p90": q("p90", "dora.time_to_restore", by=("source",)),
                },
                HOURS,
            ),
            table(
                "Time to restore by repository and source, hours",
                {
                    "p50_7d": q("max", "dora.time_to_restore_p50_hours", by=("repo", "source")),
                    "p90_7d": q("max", "dora.time_to_restore_p90_hours", by=("repo", "source")),
                    "p50_30d": q("max", "dora.time_to_restore_p50_hours_30d", by=("repo", "source")),
                    "p90_30d": q("max", "dora.time_to_restore_p90_hours_30d", by=("repo", "source")),
                },
            ),
            timeseries(
                "Incidents opened and resolved",
                {
                    "opened": q("sum", "dora.incidents.opened", by=("source",)),
                    "resolved": q("sum", "dora.incidents.resolved", by=("source",)),
                },
                display="bars",
            ),
        ),
        row(
            value("Open incidents", {"n": q("sum", "dora.incidents.open")}, precision=0),
            span(
                toplist(
                    "Open incidents by repository and source",
                    {"open": q("sum", "dora.incidents.open", by=("repo", "source"))},
                ),
                8,
            ),
            height=2,
        ),
    ]


def dashboard(ctx: Context) -> dict:
    q = BOARD.q
    return BOARD.body(
        ctx,
        grid(
            group("Levels and the delivery FoM", *_levels(q, ctx)),
            group("Deployment frequency", *_frequency(q), color="vivid_green"),
            group("Lead time for changes", *_lead_time(q)),
            group("Change failure rate", *_failures(q), color="vivid_orange"),
            group("Time to restore service", *_restore(q), color="vivid_orange"),
        ),
    )


def monitors(ctx: Context) -> dict[str, dict]:
    if not ctx.on("dora"):  # no such monitor where the source is off (monitors.sources)
        return {}
    rate = ctx.threshold("dora_change_failure_rate_pct")
    warning = ctx.threshold("dora_change_failure_rate_pct_warning")
    days = ctx.threshold("dora_days_without_deployment")
    return {
        **a.monitor(
            ctx,
            "dora_change_failure_rate",
            f"Change failure rate over {rate:g} %: {{{{repo.name}}}}",
            f"avg(last_1h):{a.q(ctx, 'max', 'dora.change_failure_rate_30d', by=('repo',))} > {rate:g}",
            what="Over 30 days, this share of the repository's production deployments failed or were "
            "followed by a rollback, revert, hotfix or incident within the failure window.",
            first="open the DORA dashboard's Change failure rate group: which signal marks them "
            "(dora.change_failures_7d by signal)? Read the latest reverts, hotfixes and incidents.",
            priority=3,
            critical=rate,
            warning=warning,
        ),
        **a.monitor(
            ctx,
            "dora_no_deployment",
            f"No production deployment in {days:g} days: {{{{repo.name}}}}",
            f"max(last_1h):{a.q(ctx, 'max', 'dora.time_since_deployment_hours', by=('repo',))} > {days * 24:g}",
            what="A repository that deploys to production (it has before) has had no successful "
            "production deployment for this long.",
            first="is the deploy pipeline failing (dora.change_failures_7d, signal deployment_failure) "
            "or blocked on an approval? Check the repository's latest deployments or deploy runs.",
            priority=4,
            critical=days * 24,
        ),
    }
