"""Asana enrichment: what a compact event does not carry, fetched off the request path.

A bounded pool of worker threads takes jobs (kind, gid) from a bounded queue,
calls the Asana API through the official `asana` client — with urllib3 retries
on 429/5xx/timeouts that honour Retry-After, and a request-rate cap under
Asana's per-minute limit — and emits the metrics once the fetch succeeds. A
job whose fetch still fails is counted (`orgpulse.enrichment.jobs`,
outcome:failed); a full queue counts outcome:dropped. The webhook's answer
never waits for any of this.

A task in two projects, each with its webhook, arrives twice (events propagate
to every project's webhook); the completion is one change of one task, so it is
de-duplicated by task and change (the fetched completed_at), not by webhook:
`asana.tasks.completed` and the cycle time count a task once, and
`asana.tasks.completed_by_project` is the per-project breakdown.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from cachetools import TTLCache

from orgpulse import metrics as m
from orgpulse.emit import Emitter
from orgpulse.tags import BoundedValues
from orgpulse.timeutil import seconds_between
from receiver.dedup import Dedup

log = logging.getLogger("orgpulse.asana")

TASK_FIELDS = (
    "completed,completed_at,created_at,modified_at,"
    "memberships.project.gid,memberships.project.name,memberships.section.name"
)
CHANGE_TTL_SECONDS = 72 * 3600  # Asana retries a delivery for 24 h; webhooks differ by minutes


class RateLimiter:
    """Spaces requests evenly: at most `per_minute` across all workers."""

    def __init__(self, per_minute: int):
        self.interval = 60.0 / per_minute
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        time.sleep(max(0.0, start - now))


class AsanaApi:
    """The two reads enrichment needs, through the official client (imported lazily:
    only a receiver with ASANA_ACCESS_TOKEN pays for it)."""

    def __init__(
        self, token: str, base_url: str | None, timeout: float, per_minute: int, retries: int = 4, backoff: float = 0.5
    ):
        # The asana client (~0.3 s to import) loads only when a token builds this: the receiver's
        # cold start without one never pays for it (tests/receiver/test_imports.py).
        import asana
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
            raise_on_status=False,
        )
        client = asana.ApiClient(cfg)
        self.tasks = asana.TasksApi(client)
        self.projects = asana.ProjectsApi(client)
        # (connect, read): the client ignores a bare float timeout (only int or a pair count).
        self.timeout = (timeout, timeout)
        self.limiter = RateLimiter(per_minute)
        self._names: TTLCache = TTLCache(maxsize=2000, ttl=3600)  # project gid → name
        self._lock = threading.Lock()

    def task(self, gid: str) -> dict:
        self.limiter.wait()
        return self.tasks.get_task(gid, {"opt_fields": TASK_FIELDS}, _request_timeout=self.timeout)

    def project_name(self, gid: str) -> str:
        with self._lock:
            if gid in self._names:
                return self._names[gid]
        self.limiter.wait()
        name = self.projects.get_project(gid, {"opt_fields": "name"}, _request_timeout=self.timeout)["name"]
        with self._lock:
            self._names[gid] = name
        return name


class AsanaContext:
    """Tag bounding and the bugs-project rules, from the `asana` config section."""

    def __init__(self, options: dict[str, Any], incidents_project: str = ""):
        self.projects = BoundedValues(options.get("projects", []), options.get("max_projects", 50))
        self.bugs_project = options.get("bugs_project", "")
        self.incidents_project = incidents_project  # dora.incidents_project: its tasks are incidents
        self.sections = {
            bucket: [n.lower() for n in names] for bucket, names in (options.get("sections") or {}).items()
        }

    def section_bucket(self, section_name: str | None) -> str:
        name = (section_name or "").lower()
        return next((bucket for bucket, names in self.sections.items() if any(n in name for n in names)), "other")


def change_key(task: dict) -> str | None:
    """Which change of which task a fetch saw, the same through every webhook: a completion
    is its completed_at; a reopening has no time of its own, modified_at stands in."""
    stamp = task.get("completed_at") if task.get("completed") else task.get("modified_at")
    if not task.get("gid") or not stamp:
        return None  # nothing identifies the change: counted, never guessed a duplicate
    return f"asana-change:{task['gid']}:{bool(task.get('completed'))}:{stamp}"


def completion_metrics(task: dict, ctx: AsanaContext) -> list[m.Metric]:
    """Pure: a fetched task whose `completed` changed → the task once, and a per-project
    breakdown (a task in two projects counts in each: its sum is not a task count)."""
    completed = bool(task.get("completed"))
    cycle = seconds_between(task.get("created_at"), task.get("completed_at")) if completed else None
    out = [m.count("asana.tasks.completed" if completed else "asana.tasks.uncompleted")]
    if cycle is not None:
        out.append(m.distribution("asana.tasks.cycle_time", cycle))
    for membership in task.get("memberships") or []:
        project = membership.get("project") or {}
        if completed:
            out.append(
                m.count("asana.tasks.completed_by_project", project=ctx.projects(project.get("name") or "unnamed"))
            )
        if ctx.incidents_project and project.get("gid") == ctx.incidents_project and completed:
            out.append(m.count("dora.incidents.resolved", source="asana"))
        if ctx.bugs_project and project.get("gid") == ctx.bugs_project and completed:
            # The section of the bugs project's own membership, not of any project the task is in.
            section = ctx.section_bucket((membership.get("section") or {}).get("name"))
            out.append(m.count("asana.bugs.completed", section=section))
            if cycle is not None:
                out.append(m.distribution("asana.bugs.cycle_time", cycle, section=section))
    return out


def membership_metrics(kind: str, project_gid: str, project_name: str, ctx: AsanaContext) -> list[m.Metric]:
    """Pure: a task added to / removed from a project."""
    out = [m.count(f"asana.tasks.{kind}", project=ctx.projects(project_name))]
    if kind == "added" and ctx.bugs_project and project_gid == ctx.bugs_project:
        out.append(m.count("asana.bugs.filed"))
    if kind == "added" and ctx.incidents_project and project_gid == ctx.incidents_project:
        out.append(m.count("dora.incidents.opened", source="asana"))  # organisation-wide: no repo
    return out


def _completion(api: AsanaApi, ctx: AsanaContext, gid: str) -> tuple[list[m.Metric], str | None]:
    task = api.task(gid)
    return completion_metrics(task, ctx), change_key(task)


def _membership(kind: str) -> Callable[[AsanaApi, AsanaContext, str], tuple[list[m.Metric], None]]:
    return lambda api, ctx, gid: (membership_metrics(kind, gid, api.project_name(gid), ctx), None)


# kind → job(api, ctx, gid) -> (metrics, change key or None when there is none to de-duplicate)
JOBS: dict[str, Callable[[AsanaApi, AsanaContext, str], tuple[list[m.Metric], str | None]]] = {
    "completion": _completion,
    "task_added": _membership("added"),
    "task_removed": _membership("removed"),
}


class Enricher:
    def __init__(
        self,
        api: AsanaApi,
        ctx: AsanaContext,
        emitter: Emitter,
        workers: int,
        queue_size: int,
        changes: Dedup | None = None,
    ):
        self.api, self.ctx, self.emitter = api, ctx, emitter
        # Changes already emitted (any object with claim/release: a shared store across replicas).
        self.changes = changes if changes is not None else Dedup(CHANGE_TTL_SECONDS, 100_000)
        self.jobs: queue.Queue = queue.Queue(maxsize=queue_size)
        self._threads = [
            threading.Thread(target=self._work, name=f"asana-enrich-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, kind: str, gid: str) -> list[m.Metric]:
        """Queue a job; returns the metrics to emit now (a drop counter if the queue is full)."""
        try:
            self.jobs.put_nowait((kind, gid))
            return []
        except queue.Full:
            log.error("enrichment queue full; job dropped", extra={"kind": kind})
            return [m.count("orgpulse.enrichment.jobs", source="asana", kind=kind, outcome="dropped")]

    def _work(self) -> None:
        while True:
            kind, gid = self.jobs.get()
            try:
                out, key = JOBS[kind](self.api, self.ctx, gid)
                outcome = "ok"
                if key is not None and not self.changes.claim(key):
                    out, outcome = [], "duplicate"  # the same change through another webhook
            except Exception as exc:  # noqa: BLE001 - counted, logged, never kills the worker
                out, outcome = [], "failed"
                log.warning("asana fetch failed after retries", extra={"kind": kind, "error": type(exc).__name__})
            self.emitter.emit(out + [m.count("orgpulse.enrichment.jobs", source="asana", kind=kind, outcome=outcome)])
            self.jobs.task_done()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued job has finished (tests, graceful shutdown)."""
        deadline = time.monotonic() + timeout
        while self.jobs.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.jobs.unfinished_tasks
