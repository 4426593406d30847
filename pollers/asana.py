"""Asana rolling aggregates: workspace tasks, project statuses and the bugs project.

Uses the v5 client's page iterators for real — the old collectors checked `.data` on
a generator, so their task requests were never sent and every bug count was 0. Tasks come
from each active project with `completed_since` 30 days ago (open tasks plus those completed
in the window), de-duplicated across projects; the bugs project's sections come from that
project's own membership,
and every configured section bucket is a `section` tag of asana.projects.bugs.open.
Query booleans are sent as Asana documents them (`true`/`false`), never Python's
`False`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from orgpulse import metrics as m
from orgpulse.statistics import percentile, within
from orgpulse.timeutil import parse_time

TASK_FIELDS = (
    "completed,completed_at,created_at,modified_at,due_on,due_at,assignee.gid,"
    "memberships.project.gid,memberships.section.name"
)
PROJECT_FIELDS = "name,archived,current_status_update.status_type"
STATUS_TYPES = ("on_track", "at_risk", "off_track")
DAY = 86400
WEEK = timedelta(days=7)


def _due(task: dict) -> datetime | None:
    return parse_time(task.get("due_at") or (f"{task['due_on']}T23:59:59Z" if task.get("due_on") else None))


def task_metrics(tasks: list[dict], now: datetime) -> list[m.Metric]:
    """Pure: workspace tasks (open + completed in 30 days) → gauges."""
    open_tasks = [t for t in tasks if not t.get("completed")]

    def done_within(days: int) -> list[dict]:
        return [t for t in tasks if t.get("completed") and within(t.get("completed_at"), now, timedelta(days=days))]

    done7, done30 = done_within(7), done_within(30)
    today_end = now.replace(hour=23, minute=59, second=59)
    dues = [(t, _due(t)) for t in open_tasks]
    out = [
        m.gauge("asana.tasks.open", len(open_tasks)),
        m.gauge("asana.tasks.completed_7d", len(done7)),
        m.gauge("asana.tasks.completed_30d", len(done30)),
        m.gauge("asana.tasks.overdue", sum(1 for _, d in dues if d and d < now)),
        m.gauge("asana.tasks.due_today", sum(1 for _, d in dues if d and now <= d <= today_end)),
        m.gauge(
            "asana.tasks.due_this_week", sum(1 for _, d in dues if d and now <= d <= today_end + timedelta(days=6))
        ),
        m.gauge("asana.tasks.no_due_date", sum(1 for _, d in dues if d is None)),
        m.gauge("asana.tasks.unassigned", sum(1 for t in open_tasks if not t.get("assignee"))),
        m.gauge("asana.tasks.assigned", sum(1 for t in open_tasks if t.get("assignee"))),
        m.gauge("asana.tasks.completed_per_day_7d", len(done7) / 7),
    ]
    created7 = [t for t in tasks if within(t.get("created_at"), now, WEEK)]
    if created7:  # of the tasks created this week, the share already completed
        out.append(
            m.gauge(
                "asana.tasks.completion_rate_7d", 100 * sum(bool(t.get("completed")) for t in created7) / len(created7)
            )
        )
    spans = [(parse_time(t.get("created_at")), parse_time(t["completed_at"])) for t in done7]
    cycles = [(end - start).total_seconds() / 3600 for start, end in spans if start and end]
    if cycles:
        out += [
            m.gauge("asana.tasks.cycle_time_p50_hours", percentile(cycles, 0.5)),
            m.gauge("asana.tasks.cycle_time_p90_hours", percentile(cycles, 0.9)),
        ]
    active = {(t.get("assignee") or {}).get("gid") for t in tasks if within(t.get("modified_at"), now, WEEK)}
    out.append(m.gauge("asana.users.active_7d", len(active - {None})))
    return out


def project_metrics(projects: list[dict]) -> list[m.Metric]:
    status = [((p.get("current_status_update") or {}).get("status_type")) for p in projects]
    return [m.gauge("asana.projects.active", len(projects))] + [
        m.gauge(f"asana.projects.{s}", status.count(s)) for s in STATUS_TYPES
    ]


def query(params: dict[str, Any]) -> dict[str, Any]:
    """Asana's query-string form: booleans as `true`/`false` (the client would send `False`)."""
    return {k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in params.items()}


def bug_metrics(tasks: list[dict], bugs_project: str, buckets: dict[str, list[str]], now: datetime) -> list[m.Metric]:
    """Pure: tasks of the bugs project → the old collectors' bug gauges, defined right."""
    ts = now.timestamp()
    counts = dict.fromkeys((*buckets, "other"), 0)
    ages = []
    for t in tasks:
        if t.get("completed"):
            continue
        own = next(
            (ms for ms in t.get("memberships") or [] if (ms.get("project") or {}).get("gid") == bugs_project), None
        )
        section = ((own or {}).get("section") or {}).get("name", "").lower()
        bucket = next((b for b, names in buckets.items() if any(n.lower() in section for n in names)), "other")
        counts[bucket] += 1
        if created := parse_time(t.get("created_at")):
            ages.append((ts - created.timestamp()) / DAY)
    out = [
        m.gauge(
            f"asana.projects.bugs.{b}_count",
            n,
        )
        for b, n in counts.items()
        if b in ("triage", "active", "backlog", "other")
    ]  # the old collectors' names
    # Every configured bucket, so none is lost inside total_open: sum by section = total_open.
    out += [m.gauge("asana.projects.bugs.open", n, section=b) for b, n in counts.items()]
    out.append(m.gauge("asana.projects.bugs.total_open", sum(counts.values())))
    out.append(
        m.gauge("asana.projects.bugs.created_7d", sum(1 for t in tasks if within(t.get("created_at"), now, WEEK)))
    )
    for days in (7, 30):
        out.append(
            m.gauge(
                f"asana.projects.bugs.completed_{days}d",
                sum(
                    1 for t in tasks if t.get("completed") and within(t.get("completed_at"), now, timedelta(days=days))
                ),
            )
        )
    if ages:  # no open bug: no age (not a 0-day backlog)
        out += [
            m.gauge("asana.projects.bugs.avg_age_days", sum(ages) / len(ages)),
            m.gauge("asana.projects.bugs.oldest_bug_days", max(ages)),
        ]
    return out


class AsanaPoller:
    def __init__(
        self, token: str, base_url: str | None, options: dict[str, Any], retries: int = 4, backoff: float = 0.5
    ):
        import asana  # ~0.3 s to import: only with Asana configured
        from urllib3.util.retry import Retry

        cfg = asana.Configuration()
        cfg.access_token = token
        if base_url:
            cfg.host = base_url.rstrip("/")
        cfg.retry_strategy = Retry(
            total=retries,
            backoff_factor=backoff,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
        )
        client = asana.ApiClient(cfg)
        self.projects_api, self.tasks_api = asana.ProjectsApi(client), asana.TasksApi(client)
        self.workspace = options["workspace"]
        self.bugs_project = options.get("bugs_project", "")
        self.buckets = options.get("sections") or {}
        timeout = options.get("request_timeout_seconds", 10)
        self.timeout = (timeout, timeout)  # (connect, read): the client ignores a bare float

    def _tasks(self, project_gid: str, since: datetime) -> list[dict]:
        return list(
            self.tasks_api.get_tasks_for_project(
                project_gid,
                query({"completed_since": since.isoformat(), "limit": 100, "opt_fields": TASK_FIELDS}),
                _request_timeout=self.timeout,
            )
        )

    def collect(self, now: datetime) -> list[m.Metric]:
        projects = list(
            self.projects_api.get_projects(
                query({"workspace": self.workspace, "archived": False, "limit": 100, "opt_fields": PROJECT_FIELDS}),
                _request_timeout=self.timeout,
            )
        )
        since = now - timedelta(days=30)
        tasks: dict[str, dict] = {}
        for project in projects:
            for task in self._tasks(project["gid"], since):
                tasks[task["gid"]] = task  # a multi-homed task counts once
        out = project_metrics(projects) + task_metrics(list(tasks.values()), now)
        if self.bugs_project:
            out += bug_metrics(self._tasks(self.bugs_project, since), self.bugs_project, self.buckets, now)
        return out
