"""Asana: tasks, bugs and project status — and the webhook heartbeat monitor."""

from __future__ import annotations

from dashboards import alerting as a
from dashboards.board import Board
from dashboards.context import Context
from dashboards.layout import grid, group, row, span
from dashboards.widgets import table, timeseries, toplist, value

BOARD = Board(
    "asana",
    "orgpulse · Asana",
    "Tasks open, completed, overdue and due; cycle time; bugs by section of the bugs "
    "project and backlog age; project status.",
    ("project",),
)
THRESHOLDS = {
    # Asana sends a heartbeat every 8 h and deletes a webhook after 24 h of failures.
    "asana_heartbeat_silent_hours": 9.0,
}


def _tasks(q) -> list:
    return [
        row(
            *BOARD.counts(
                ("Open", "asana.tasks.open"),
                ("Overdue", "asana.tasks.overdue"),
                ("Due today", "asana.tasks.due_today"),
                ("Due this week", "asana.tasks.due_this_week"),
                ("No due date", "asana.tasks.no_due_date"),
                ("Unassigned", "asana.tasks.unassigned"),
            ),
            height=2,
        ),
        row(
            timeseries(
                "Completed, reopened; added to and removed from projects",
                {
                    "completed": q("sum", "asana.tasks.completed"),
                    "reopened": q("sum", "asana.tasks.uncompleted"),
                    "added": q("sum", "asana.tasks.added"),
                    "removed": q("sum", "asana.tasks.removed"),
                },
                display="bars",
            ),
            timeseries(
                "Open tasks: assigned and unassigned",
                {"assigned": q("sum", "asana.tasks.assigned"), "unassigned": q("sum", "asana.tasks.unassigned")},
                display="area",
            ),
            toplist(
                "Completed by project (a task in two projects counts in each)",
                {"completed": q("sum", "asana.tasks.completed_by_project", by=("project",))},
            ),
        ),
        row(
            *BOARD.counts(
                ("Completed (7 d)", "asana.tasks.completed_7d"), ("Completed (30 d)", "asana.tasks.completed_30d")
            ),
            value("Completed per day (7 d)", {"n": q("avg", "asana.tasks.completed_per_day_7d")}),
            value("Completion rate (7 d)", {"pct": q("avg", "asana.tasks.completion_rate_7d")}, unit="%"),
            *BOARD.counts(
                ("Active assignees (7 d)", "asana.users.active_7d"), ("Tasks deleted", "asana.tasks.deleted")
            ),
            height=2,
        ),
        row(
            timeseries(
                "Cycle time, hours (created → completed)",
                {"p50": q("p50", "asana.tasks.cycle_time"), "p90": q("p90", "asana.tasks.cycle_time")},
                [("p50 / 3600", "p50"), ("p90 / 3600", "p90")],
            ),
            timeseries(
                "Cycle time over 7 days, hours",
                {
                    "p50": q("max", "asana.tasks.cycle_time_p50_hours"),
                    "p90": q("max", "asana.tasks.cycle_time_p90_hours"),
                },
            ),
            timeseries(
                "Comments and events",
                {
                    "comments": q("sum", "asana.comments.added"),
                    "events": q("sum", "asana.events", by=("resource_type",)),
                },
                display="bars",
            ),
        ),
    ]


def _bugs(q) -> list:
    return [
        row(
            span(
                timeseries(
                    "Open bugs by section bucket (asana.sections)",
                    {"open": q("sum", "asana.projects.bugs.open", by=("section",))},
                    display="area",
                ),
                6,
            ),
            value("Open bugs", {"n": q("sum", "asana.projects.bugs.total_open")}, precision=0),
            value("Average age, days", {"d": q("avg", "asana.projects.bugs.avg_age_days")}),
            value("Oldest, days", {"d": q("max", "asana.projects.bugs.oldest_bug_days")}),
        ),
        row(
            timeseries(
                "Bugs filed and completed (completed by section)",
                {"filed": q("sum", "asana.bugs.filed"), "completed": q("sum", "asana.bugs.completed", by=("section",))},
                display="bars",
            ),
            timeseries(
                "Bug cycle time by section, hours",
                {
                    "p50": q("p50", "asana.bugs.cycle_time", by=("section",)),
                    "p90": q("p90", "asana.bugs.cycle_time", by=("section",)),
                },
                [("p50 / 3600", "p50"), ("p90 / 3600", "p90")],
            ),
            table(
                "Open bugs in the fixed buckets",
                {
                    "triage": q("sum", "asana.projects.bugs.triage_count"),
                    "active": q("sum", "asana.projects.bugs.active_count"),
                    "backlog": q("sum", "asana.projects.bugs.backlog_count"),
                    "other": q("sum", "asana.projects.bugs.other_count"),
                },
            ),
        ),
        row(
            span(
                table(
                    "Bugs over 7 and 30 days",
                    {
                        "created_7d": q("sum", "asana.projects.bugs.created_7d"),
                        "completed_7d": q("sum", "asana.projects.bugs.completed_7d"),
                        "completed_30d": q("sum", "asana.projects.bugs.completed_30d"),
                    },
                ),
                12,
            ),
            height=2,
        ),
    ]


def _projects(q) -> list:
    return [
        row(
            *BOARD.counts(
                ("Active projects", "asana.projects.active"),
                ("On track", "asana.projects.on_track"),
                ("At risk", "asana.projects.at_risk"),
                ("Off track", "asana.projects.off_track"),
            ),
            height=2,
        )
    ]


def dashboard(ctx: Context) -> dict:
    q = BOARD.q
    return BOARD.body(
        ctx,
        grid(
            group("Tasks", *_tasks(q)),
            group("Bugs", *_bugs(q), color="vivid_orange"),
            group("Project status", *_projects(q), color="vivid_green"),
        ),
    )


def monitors(ctx: Context) -> dict[str, dict]:
    if not ctx.on("asana"):  # no such monitor where the source is off (monitors.sources)
        return {}
    hours = ctx.threshold("asana_heartbeat_silent_hours")
    heartbeats = a.q(ctx, "sum", "asana.webhooks.heartbeats", by=("webhook",))
    return a.monitor(
        ctx,
        "asana_heartbeats_missing",
        "Asana webhook heartbeats missing: {{webhook.name}}",
        f"sum(last_{int(hours)}h):{heartbeats} < 1",
        what=f"No heartbeat from this Asana webhook for {hours:g} h (Asana sends one every 8 h). "
        "Asana deletes a webhook after 24 h of failed deliveries: its events stop for good.",
        first="check the receiver answers POST /webhooks/asana/<name> (GET /readyz, the orgpulse "
        "dashboard's rejections by reason); `orgpulse asana webhooks list` shows whether the "
        "webhook still exists — if Asana deleted it, create it again.",
        priority=2,
        critical=1,
        silent_minutes=int(hours * 60),
    )
