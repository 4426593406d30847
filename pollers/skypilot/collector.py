"""SkyPilot: managed jobs and clusters from the team's SkyPilot API server (pollers/skypilot/api.py).

Why REST and not the `skypilot` SDK: the SDK brings ~460 MB of
dependencies into the poller (fastapi, uvicorn, pandas, sqlalchemy, asyncpg, …),
its `click<8.2` pin forces `wandb<0.27`, and without care it starts a local API
server (the old collectors hung 30–80 s on it). Nothing local is ever started.

Jobs are counted as `sky jobs queue` shows them: the queue has one row per task,
and a pipeline's tasks share a job id, so rows are grouped by job id first.
Windows are by each job's own timestamps (not all history); no job ids, names
or users become tags. While the jobs controller is stopped (its normal state
after 10 idle minutes) the server answers ClusterNotUpError "No in-progress
managed jobs.": nothing is active (true zeros), and the 7-day history slides on
from what the last answer held — absent when this process has seen none.
"""

from __future__ import annotations

import ast
import logging
import math
import re
import urllib.error
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from orgpulse import metrics as m
from orgpulse.statistics import percentile, within
from orgpulse.tags import BoundedValues
from pollers.skypilot.api import TESTED_API_VERSIONS, RequestFailed, SkyPilotApi

log = logging.getLogger("orgpulse.skypilot")
ACTIVE = ("PENDING", "STARTING", "RUNNING", "RECOVERING", "CANCELLING", "WINDING_DOWN")
FAILED = ("FAILED", "FAILED_SETUP", "FAILED_PRECHECKS", "FAILED_NO_RESOURCE", "FAILED_CONTROLLER")
TERMINAL = ("SUCCEEDED", "CANCELLED") + FAILED
H1 = 3600
WEEK = timedelta(days=7)
# The one ClusterNotUpError that is an answer: the controller is stopped or was never
# launched. The other ("Failed to connect to jobs controller…") leaves jobs unmeasured.
NO_JOBS = "No in-progress managed jobs."
_NODES = re.compile(r"^\s*(\d+)\s*x")  # "4x(gpus=H100:8, p5.48xlarge, ...)", "1x AWS(m5.large)"
# Error reasons come from the server's exception type names: a set its code bounds, capped
# here too so an odd server cannot mint tag values.
_REASONS = BoundedValues(limit=30)


def nodes(resources: str | None) -> int:
    """The node count at the head of a SkyPilot resources string (1 when it has none)."""
    match = _NODES.match(resources or "")
    return int(match.group(1)) if match else 1


def accelerators(value: Any) -> dict[str, float]:
    """Per-node accelerators: a dict (job rows) or its Python repr (cluster rows: "{'A100': 8}")."""
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)  # literals only: never evaluates code
        except (ValueError, SyntaxError):
            return {}
    return {str(k): float(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _is_spot(task: dict) -> bool:
    return "spot" in f"{task.get('cluster_resources') or ''} {task.get('resources') or ''}".lower()


def _first(values, pick=min):
    present = [v for v in values if v is not None]
    return pick(present) if present else None


def _job(tasks: list[dict]) -> dict:
    """One managed job from its task rows, aggregated as SkyPilot's own table does
    (sky/jobs/utils.py format_job_table): the status is the first primary task's that
    did not succeed, submitted at the earliest, durations and recoveries summed."""
    tasks = sorted(tasks, key=lambda t: t.get("task_id") or 0)
    primary = [t for t in tasks if t.get("is_primary_in_job_group") in (None, True)] or tasks
    status = next((str(t.get("status")) for t in primary if t.get("status") != "SUCCEEDED"), "SUCCEEDED")
    ends = [t.get("end_at") for t in tasks]
    done = [t.get("end_at") for t in tasks if t.get("status") == "SUCCEEDED"]
    submitted = _first(t.get("submitted_at") for t in tasks)
    return {
        "status": status,
        "submitted_at": submitted,
        "start_at": _first(t.get("start_at") for t in tasks),
        "end_at": _first(ends, max) if status in TERMINAL else None,
        # A pipeline between tasks waits since its previous task ended, not since submission.
        "waiting_since": _first([submitted, *done], max),
        "job_duration": sum(t.get("job_duration") or 0 for t in tasks),
        "recovery_count": sum(t.get("recovery_count") or 0 for t in tasks),
        "user_hash": tasks[0].get("user_hash"),
        "running_tasks": [t for t in tasks if t.get("status") == "RUNNING"],
    }


def group_jobs(rows: list[dict]) -> list[dict]:
    """Queue rows (one per task) → one record per job."""
    by_id: dict[Any, list[dict]] = defaultdict(list)
    for row in rows:
        by_id[row.get("job_id")].append(row)
    return [_job(tasks) for tasks in by_id.values()]


def history_metrics(jobs: list[dict], now: datetime) -> list[m.Metric]:
    """Pure: jobs → what happened in the last 7 days, by each job's own timestamps."""

    def recent(field: str, statuses=None) -> list[dict]:
        return [j for j in jobs if within(j.get(field), now, WEEK) and (statuses is None or j["status"] in statuses)]

    failed = Counter(j["status"] for j in recent("end_at", FAILED))
    return (
        [
            m.gauge("skypilot.jobs.started_7d", len(recent("start_at"))),
            m.gauge("skypilot.jobs.succeeded_7d", len(recent("end_at", ("SUCCEEDED",)))),
            m.gauge("skypilot.jobs.cancelled_7d", len(recent("end_at", ("CANCELLED",)))),
        ]
        + [m.gauge("skypilot.jobs.failed_7d", failed.get(s, 0), status=s.lower()) for s in FAILED]
        + [m.gauge("skypilot.users.active_7d", len({j.get("user_hash") for j in recent("submitted_at")} - {None}))]
    )


def active_metrics(
    jobs: list[dict], now: datetime, regions: BoundedValues, gpu_prices: dict[str, float], spot_factor: float
) -> list[m.Metric]:
    """Pure: jobs → what is in progress now (statuses, runtimes, waits, resources)."""
    ts = now.timestamp()
    status = Counter(j["status"] for j in jobs)
    out = [m.gauge("skypilot.jobs.active", status.get(s, 0), status=s.lower()) for s in ACTIVE]
    out += [
        m.gauge("skypilot.jobs.queued", status.get("PENDING", 0)),
        m.gauge("skypilot.jobs.running", status.get("RUNNING", 0)),
    ]
    running = [j for j in jobs if j["status"] == "RUNNING"]
    out += _runtimes([j["job_duration"] or ts - j["start_at"] for j in running if j["job_duration"] or j["start_at"]])
    waits = [ts - j["waiting_since"] for j in jobs if j["status"] == "PENDING" and j["waiting_since"]]
    if waits:
        out += [
            m.gauge("skypilot.jobs.queue_wait_seconds.p50", percentile(waits, 0.5)),
            m.gauge("skypilot.jobs.queue_wait_seconds.max", max(waits)),
        ]
    return out + _resources(running, regions, gpu_prices, spot_factor)


def _runtimes(runtimes: list[float]) -> list[m.Metric]:
    """Running jobs by runtime: the old collectors' buckets (counts, 0 when none) and statistics
    (absent with no running job, never zeros)."""
    edges = (("0_1h", 0, H1), ("1_4h", H1, 4 * H1), ("4_24h", 4 * H1, 24 * H1), ("over_24h", 24 * H1, math.inf))
    out = [
        m.gauge(f"skypilot.jobs.runtime_buckets.{name}", sum(lo <= r < hi for r in runtimes)) for name, lo, hi in edges
    ]
    if runtimes:
        out += [
            m.gauge(f"skypilot.jobs.runtime_seconds.{name}", percentile(runtimes, q))
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
        ]
        out += [
            m.gauge("skypilot.jobs.runtime_seconds.min", min(runtimes)),
            m.gauge("skypilot.jobs.runtime_seconds.max", max(runtimes)),
            m.gauge("skypilot.jobs.runtime_seconds.avg", sum(runtimes) / len(runtimes)),
        ]
    return out


def _resources(
    running: list[dict], regions: BoundedValues, gpu_prices: dict[str, float], spot_factor: float
) -> list[m.Metric]:
    gpus: dict[str, float] = defaultdict(float)
    cost: dict[str, float] = defaultdict(float)
    unpriced: dict[str, float] = defaultdict(float)
    by_region: Counter = Counter()
    prices = {k.lower(): p for k, p in gpu_prices.items()}
    for job in running:
        tasks = job["running_tasks"]
        by_region[regions((tasks[0].get("region") if tasks else None) or "unknown")] += 1
        for task in tasks:  # `accelerators` is per node: × the task's node count
            factor = spot_factor if _is_spot(task) else 1.0
            for name, per_node in accelerators(task.get("accelerators")).items():
                accel, count = name.lower(), per_node * nodes(task.get("cluster_resources"))
                gpus[accel] += count
                if accel in prices:
                    cost[accel] += count * prices[accel] * factor
                else:
                    unpriced[accel] += count
    spot = sum(any(_is_spot(t) for t in j["running_tasks"]) for j in running)
    out = [
        m.gauge("skypilot.resources.spot_jobs", spot),
        m.gauge("skypilot.resources.ondemand_jobs", len(running) - spot),
        m.gauge("skypilot.jobs.with_recoveries", sum(j["recovery_count"] > 0 for j in running)),
    ]
    if running:
        recoveries = [j["recovery_count"] for j in running]
        out += [
            m.gauge("skypilot.jobs.recovery_count.max", max(recoveries)),
            m.gauge("skypilot.jobs.recovery_count.avg", sum(recoveries) / len(recoveries)),
        ]
    out += [m.gauge("skypilot.jobs.running_by_region", n, region=r) for r, n in sorted(by_region.items())]
    out += [m.gauge("skypilot.resources.gpus", n, accelerator=a) for a, n in sorted(gpus.items())]
    out += [m.gauge("skypilot.cost.hourly_estimate", v, accelerator=a) for a, v in sorted(cost.items())]
    out += [m.gauge("skypilot.cost.unpriced_gpus", v, accelerator=a) for a, v in sorted(unpriced.items())]
    return out


def cluster_metrics(clusters: list[dict]) -> list[m.Metric]:
    """Pure: cluster records → up/stopped/init counts and GPUs held by clusters that are up
    (the record's `accelerators`, per node, × `nodes`; `resources_str` is display text)."""
    status = Counter(str(c.get("status")) for c in clusters)
    held: dict[str, float] = defaultdict(float)
    for c in clusters:
        if c.get("status") == "UP":
            for name, per_node in accelerators(c.get("accelerators")).items():
                held[name.lower()] += per_node * (c.get("nodes") or 1)
    out = [
        m.gauge("skypilot.clusters.active", status.get("UP", 0)),
        m.gauge("skypilot.clusters.stopped", status.get("STOPPED", 0)),
        m.gauge("skypilot.clusters.init", status.get("INIT", 0)),
    ]
    return out + [m.gauge("skypilot.clusters.gpus", n, accelerator=a) for a, n in sorted(held.items())]


def reason(exc: BaseException) -> str:
    """A bounded error reason: the server's exception type, the HTTP status, or the error class."""
    if isinstance(exc, RequestFailed):
        name = exc.error_type
    elif isinstance(exc, urllib.error.HTTPError):
        return f"http_{exc.code}"
    else:
        name = type(exc).__name__
    return _REASONS(re.sub(r"(?<!^)(?=[A-Z])", "_", name))  # ClusterNotUpError → cluster_not_up_error


def error(exc: BaseException, part: str) -> list[m.Metric]:
    log.warning(
        "skypilot part failed", extra={"part": part, "error_type": reason(exc), "error_message": str(exc)[:300]}
    )
    return [m.count("orgpulse.collector.errors", collector="skypilot", reason=reason(exc))]


class SkyPilotCollector:
    def __init__(self, api: SkyPilotApi, options: dict[str, Any]):
        self.api = api
        self.regions = BoundedValues(options.get("regions", []), limit=20)  # allow-list + "other"
        self.gpu_prices = options.get("gpu_prices", {})
        self.spot_factor = options.get("spot_price_factor", 0.35)
        self.server: dict | None = None  # GET /api/health, read once per process
        self.history: list[dict] | None = None  # jobs of the last answer within 7 days

    def collect(self, now: datetime) -> list[m.Metric]:
        return self._check_server() + self._jobs(now) + self._part("clusters", self._clusters)

    def _part(self, name: str, fn: Callable[[], list[m.Metric]]) -> list[m.Metric]:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - this part unmeasured: absent, counted
            return error(exc, name)

    def _clusters(self) -> list[m.Metric]:
        return cluster_metrics(self.api.clusters())

    def _check_server(self) -> list[m.Metric]:
        if self.server is not None:
            return []
        try:
            self.server = self.api.health()
        except Exception as exc:  # noqa: BLE001 - asked again next cycle; the calls below say more
            log.warning("skypilot health unreadable", extra={"error_type": reason(exc)})
            return []
        if self.server["api_version"] in TESTED_API_VERSIONS:
            return []
        log.warning(
            "skypilot server outside the tested API versions",
            extra={
                "api_version": self.server["api_version"],
                "server_version": self.server["version"],
                "tested": f"{TESTED_API_VERSIONS.start}-{TESTED_API_VERSIONS.stop - 1}",
            },
        )
        return [m.count("orgpulse.collector.errors", collector="skypilot", reason="untested_api_version")]

    def _jobs(self, now: datetime) -> list[m.Metric]:
        args = (now, self.regions, self.gpu_prices, self.spot_factor)
        try:
            jobs = group_jobs(self.api.managed_jobs())
        except RequestFailed as exc:
            if exc.error_type != "ClusterNotUpError" or exc.message != NO_JOBS:
                return error(exc, "jobs")
            log.info(
                "jobs controller not up: no in-progress managed jobs",
                extra={"error_type": exc.error_type, "error_message": exc.message},
            )
            remembered = [] if self.history is None else history_metrics(self.history, now)
            return active_metrics([], *args) + remembered
        except Exception as exc:  # noqa: BLE001
            return error(exc, "jobs")
        self.history = [
            j for j in jobs if any(within(j.get(f), now, WEEK) for f in ("submitted_at", "start_at", "end_at"))
        ]
        return active_metrics(jobs, *args) + history_metrics(jobs, now)
