"""GitHub: PR flow and CI/CD — the dashboard, and the monitors on CI and PR speed."""

from __future__ import annotations

from dashboards import alerting as a
from dashboards.board import Board
from dashboards.boards.github_ci import ci_rows
from dashboards.context import Context
from dashboards.layout import Row, grid, group, row, span
from dashboards.widgets import table, timeseries, toplist, value
from orgpulse import definitions

BOARD = Board(
    "github",
    "orgpulse · GitHub: PR flow and CI/CD",
    "Pull requests from open to merged, review coverage and size, CI runs, their time and "
    "failures, flaky checks, tests on main, reverts, hotfixes, force pushes, deployments.",
    ("repo", "workflow"),
)
THRESHOLDS = {
    "pr_cycle_time_p90_hours": 72.0,  # critical: p90 first commit → merge, 7 days
    "pr_cycle_time_p90_hours_warning": 48.0,
    "ci_failure_anomaly_deviations": 3.0,  # bounds of the anomaly monitor on CI failure rate
}
# Count-like gauges carry author_type (human|bot): summed over it they are all PRs or commits.
HUMANS, BOTS = ("author_type:human",), ("author_type:bot",)


def _pull_requests(q) -> list:
    return [
        row(
            *BOARD.counts(
                ("Open PRs", "github.prs.open"),
                ("Merged (7 d)", "github.prs.merged_7d"),
                ("Closed unmerged (7 d)", "github.prs.closed_without_merge_7d"),
                ("Bot PRs merged (7 d)", "github.prs.merged_7d", BOTS),
                ("Stale > 14 d (human)", "github.prs.stale_count_14d", HUMANS),
                ("Active branches", "github.branches.active"),
            ),
            height=2,
        ),
        row(
            span(
                timeseries(
                    "Opened, merged, closed, reopened",
                    {
                        "opened": q("sum", "github.prs.opened"),
                        "merged": q("sum", "github.prs.merged"),
                        "closed": q("sum", "github.prs.closed_without_merge"),
                        "reopened": q("sum", "github.prs.reopened"),
                        "ready_for_review": q("sum", "github.prs.ready_for_review"),
                    },
                    display="bars",
                ),
                8,
            ),
            toplist(
                "Open PRs by repository and author type",
                {"open": q("sum", "github.prs.open", by=("repo", "author_type"))},
            ),
        ),
    ]


def _speed(q) -> list:
    per_hour = [("p50 / 3600", "p50"), ("p90 / 3600", "p90")]
    return [
        row(
            timeseries(
                "Time to merge, hours (created → merged)",
                {"p50": q("p50", "github.prs.time_to_merge"), "p90": q("p90", "github.prs.time_to_merge")},
                per_hour,
            ),
            timeseries(
                "Cycle time, 7 days, hours (first commit → merge)",
                {"p50": q("max", "github.prs.cycle_time_p50_hours"), "p90": q("max", "github.prs.cycle_time_hours")},
            ),
            timeseries(
                "Pickup time, hours (created → first review)",
                {
                    "p50": q("p50", "github.prs.time_to_first_review"),
                    "p90": q("p90", "github.prs.time_to_first_review"),
                },
                per_hour,
            ),
        ),
        row(
            value("Time to merge p50 (7 d, h)", {"h": q("max", "github.prs.time_to_merge_p50_hours")}),
            value("Time to merge p90 (7 d, h)", {"h": q("max", "github.prs.time_to_merge_p90_hours")}),
            value("Mean time to merge (7 d, h)", {"h": q("avg", "github.prs.avg_time_to_merge_hours")}),
            value("Cycle time p90 (7 d, h)", {"h": q("max", "github.prs.cycle_time_hours")}),
            height=2,
        ),
        _legs(q),
    ]


# The PR cycle leg by leg (orgpulse.definitions.LEGS), in the order a PR goes through them.
LEGS = tuple(definitions.LEGS)
WEEK = 7 * 86400


def _legs(q) -> Row:
    """Which leg grew: each leg's median (the poller's 7-day gauge), one bar a week, stacked."""
    return row(
        span(
            timeseries(
                "PR cycle by leg, stacked: weekly median, hours",
                {leg: q("max", f"github.prs.{leg}_time_p50_hours", rollup=("avg", WEEK)) for leg in LEGS},
                display="bars",
            ),
            6,
        ),
        timeseries(
            "PR cycle legs p90 (7 d), hours", {leg: q("max", f"github.prs.{leg}_time_p90_hours") for leg in LEGS}
        ),
        timeseries(
            "Review and deploy legs as they happen, p50, hours",
            {"review": q("p50", "github.prs.review_time"), "deploy": q("p50", "github.prs.deploy_time")},
            [("review / 3600", "review (first review → merge)"), ("deploy / 3600", "deploy (merge → production)")],
        ),
    )


def _reviews_and_size(q) -> list:
    return [
        row(
            value("Review coverage (7 d)", {"pct": q("avg", "github.prs.review_coverage_pct")}, unit="%"),
            value("Comments per merged PR (7 d)", {"c": q("avg", "github.prs.avg_comments_per_pr")}),
            span(
                timeseries(
                    "Reviews by state", {"reviews": q("sum", "github.prs.reviews", by=("state",))}, display="bars"
                ),
                6,
            ),
        ),
        row(
            timeseries(
                "Lines changed by merged PRs",
                {"added": q("sum", "github.prs.lines_added"), "deleted": q("sum", "github.prs.lines_deleted")},
                [("added", "added"), ("-1 * deleted", "deleted")],
                display="bars",
            ),
            timeseries("Files changed by merged PRs", {"files": q("sum", "github.prs.files_changed")}, display="bars"),
            table(
                "PR size, 7 days, by repository",
                {
                    "lines_added": q("sum", "github.code.lines_added_7d", by=("repo",)),
                    "lines_deleted": q("sum", "github.code.lines_deleted_7d", by=("repo",)),
                    "files_changed": q("sum", "github.code.files_changed_7d", by=("repo",)),
                },
            ),
        ),
    ]


def _risk_and_activity(q) -> list:
    return [
        row(
            timeseries(
                "Reverts, hotfixes and force pushes (as pushed)",
                {
                    "reverts": q("sum", "github.push.reverts"),
                    "hotfixes": q("sum", "github.push.hotfixes"),
                    "force_pushes": q("sum", "github.push.forced"),
                },
                display="bars",
            ),
            table(
                "Default branch, 7 days, by repository",
                {
                    "reverts": q("sum", "github.commits.reverts", by=("repo",)),
                    "hotfixes": q("sum", "github.commits.hotfix", by=("repo",)),
                    "force_pushes": q("sum", "github.commits.force_merge_7d", by=("repo",)),
                },
            ),
            timeseries(
                "Deployments by environment and state",
                {"deployments": q("sum", "github.deployments.statuses", by=("environment", "state"))},
                display="bars",
            ),
        ),
        row(
            timeseries(
                "Commits pushed", {"commits": q("sum", "github.push.commits", by=("branch_type",))}, display="bars"
            ),
            value(
                "Human commits to default branches (7 d)",
                {"n": q("sum", "github.commits.total_7d", where=HUMANS)},
                precision=0,
            ),
            value(
                "Active developers (7 d, summed over repos)",
                {"n": q("sum", "github.developers.active_7d", where=HUMANS)},
                precision=0,
            ),
            value("Commits per developer (7 d)", {"n": q("avg", "github.commits.per_developer_7d")}),
            timeseries(
                "Branches and tags",
                {
                    "created": q("sum", "github.refs.created", by=("ref_type",)),
                    "deleted": q("sum", "github.refs.deleted", by=("ref_type",)),
                },
                display="bars",
            ),
        ),
    ]


def dashboard(ctx: Context) -> dict:
    q = BOARD.q
    return BOARD.body(
        ctx,
        grid(
            group("Pull requests", *_pull_requests(q)),
            group("Speed", *_speed(q)),
            group("Reviews and size", *_reviews_and_size(q)),
            group("CI / CD", *ci_rows(BOARD), color="vivid_green"),
            group("Risk, deployments and activity", *_risk_and_activity(q), color="vivid_orange"),
        ),
    )


def monitors(ctx: Context) -> dict[str, dict]:
    if not ctx.on("github"):  # no such monitor where the source is off (monitors.sources)
        return {}
    failed = a.q(ctx, "sum", "github.ci.runs", where=("conclusion:failure",))
    runs = a.q(ctx, "sum", "github.ci.runs")
    deviations = ctx.threshold("ci_failure_anomaly_deviations")
    p90 = ctx.threshold("pr_cycle_time_p90_hours")
    return {
        **a.monitor(
            ctx,
            "ci_red_on_main",
            "CI red on main: {{repo.name}} / {{workflow.name}}",
            f"max(last_15m):{a.q(ctx, 'min', 'github.ci.tests_passing_on_main', by=('repo', 'workflow'))} < 1",
            what="The latest decisive run of this workflow on the default branch failed: main is red.",
            first="open the workflow's latest run on the default branch, find the failing job, "
            "revert or fix forward; tell the channel main is red.",
            priority=2,
            critical=1,
        ),
        **a.monitor(
            ctx,
            "pr_cycle_time_p90",
            f"PR cycle time p90 over {p90:g} h: {{{{repo.name}}}}",
            f"max(last_1h):{a.q(ctx, 'max', 'github.prs.cycle_time_hours', by=('repo',))} > {p90}",
            what="Over the last 7 days, 10 % of merged PRs took longer than the threshold from "
            "their first commit to merge.",
            first="open the GitHub dashboard's Speed group: is pickup (first review) or review slow? "
            "Look at the oldest open PRs of this repository.",
            priority=4,
            critical=p90,
            warning=ctx.threshold("pr_cycle_time_p90_hours_warning"),
        ),
        **a.monitor(
            ctx,
            "ci_failure_rate_anomaly",
            "CI failure rate is anomalous",
            f"avg(last_4h):anomalies(100 * {failed} / {runs}, 'agile', {deviations:g}, direction='above', "
            "alert_window='last_1h', interval=300, count_default_zero='true', seasonality='weekly') >= 1",
            what="The share of failing CI runs is above what this time of the week usually sees.",
            first="group the failures by workflow (GitHub dashboard, CI group): one workflow or "
            "runner class, or all of them? Check GitHub's status page for runner incidents.",
            priority=3,
            critical=1,
            options={
                "threshold_windows": {"trigger_window": "last_1h", "recovery_window": "last_1h"},
                "thresholds": {"critical": 1, "critical_recovery": 0},
            },
        ),
    }
