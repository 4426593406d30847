"""SkyPilot: managed jobs and clusters from the team's SkyPilot API server, over its REST API.

Why REST and not the `skypilot` SDK (README): the SDK brings ~460 MB of
dependencies into the poller (measured in a fresh venv: fastapi, uvicorn,
pandas, sqlalchemy, asyncpg, …), its `click<8.2` pin forces `wandb<0.27`, and
without care it starts a local API server (the seed's 30–80 s hangs, W13). The
REST calls are the SDK's own: POST /status and /jobs/queue/v2 return a request
id in X-Skypilot-Request-ID; GET /api/get?request_id=… waits for the result,
whose return_value is a JSON document. Nothing local is ever started.

Windows are by each job's own timestamps (not all history); no job ids, names
or users become tags.
"""
from __future__ import annotations

import json
import math
import re
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from orgpulse import metrics as m
from orgpulse.tags import BoundedValues
from pollers import retry

ACTIVE = ("PENDING", "STARTING", "RUNNING", "RECOVERING", "CANCELLING", "WINDING_DOWN")
FAILED = ("FAILED", "FAILED_SETUP", "FAILED_PRECHECKS", "FAILED_NO_RESOURCE", "FAILED_CONTROLLER")
WEEK = 7 * 86400
JOB_FIELDS = ["job_id", "status", "submitted_at", "start_at", "end_at", "job_duration",
              "accelerators", "resources", "cluster_resources", "region", "recovery_count",
              "user_hash"]
_CLUSTER_GPUS = re.compile(r"\{'([^']+)':\s*([\d.]+)\}")


class SkyPilotApi:
    def __init__(self, endpoint: str, token: str | None, timeout: float = 60):
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.timeout = timeout

    def _http(self, method: str, path: str, body: dict | None = None):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.endpoint + path, method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(request, timeout=self.timeout) as resp:
            return resp.headers, resp.read()

    def call(self, path: str, body: dict) -> Any:
        """Start a request and wait for its result (each step retried on 429/5xx/timeouts)."""
        headers, _ = retry.call(lambda: self._http("POST", path, body))
        request_id = headers.get("X-Skypilot-Request-ID")
        if not request_id:
            raise RuntimeError(f"{path}: no X-Skypilot-Request-ID in the answer")
        _, raw = retry.call(lambda: self._http("GET", f"/api/get?request_id={request_id}"))
        payload = json.loads(raw)
        if payload.get("status") != "SUCCEEDED":
            raise RuntimeError(f"{path}: request {payload.get('status')}")
        return json.loads(payload["return_value"])

    def clusters(self) -> list[dict]:
        return self.call("/status", {"all_users": True, "refresh": "NONE",
                                     "include_credentials": False, "include_handle": False})

    def managed_jobs(self) -> list[dict]:
        value = self.call("/jobs/queue/v2", {"all_users": True, "refresh": False,
                                             "skip_finished": False, "fields": JOB_FIELDS})
        return value.get("jobs", []) if isinstance(value, dict) else value  # v2 dict or legacy list


def nearest_rank(values: list[float], q: float) -> float:
    """The nearest-rank percentile: the smallest value with at least q of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _is_spot(job: dict) -> bool:
    return "spot" in f"{job.get('cluster_resources') or ''} {job.get('resources') or ''}".lower()


def job_metrics(jobs: list[dict], now: datetime, regions: BoundedValues,
                gpu_prices: dict[str, float], spot_factor: float) -> list[m.Metric]:
    """Pure: the managed-job queue → gauges."""
    ts = now.timestamp()
    status = Counter(str(j.get("status")) for j in jobs)
    out = [m.gauge("skypilot.jobs.active", status.get(s, 0), status=s.lower()) for s in ACTIVE]
    out += [m.gauge("skypilot.jobs.queued", status.get("PENDING", 0)),
            m.gauge("skypilot.jobs.running", status.get("RUNNING", 0))]

    def within(field: str, statuses) -> list[dict]:
        return [j for j in jobs if j.get(field) and ts - j[field] <= WEEK and str(j.get("status")) in statuses]
    out += [m.gauge("skypilot.jobs.started_7d", len([j for j in jobs if j.get("start_at")
                                                    and ts - j["start_at"] <= WEEK])),
            m.gauge("skypilot.jobs.succeeded_7d", len(within("end_at", ("SUCCEEDED",)))),
            m.gauge("skypilot.jobs.cancelled_7d", len(within("end_at", ("CANCELLED",))))]
    failed = Counter(str(j["status"]) for j in within("end_at", FAILED))
    out += [m.gauge("skypilot.jobs.failed_7d", failed.get(s, 0), status=s.lower()) for s in FAILED]
    users = {j.get("user_hash") for j in jobs if j.get("submitted_at") and ts - j["submitted_at"] <= WEEK}
    out.append(m.gauge("skypilot.users.active_7d", len(users - {None})))

    running = [j for j in jobs if j.get("status") == "RUNNING"]
    runtimes = [j.get("job_duration") or (ts - j["start_at"]) for j in running if j.get("start_at")]
    if runtimes:  # no running job: no runtime figures (not zeros)
        out += [m.gauge(f"skypilot.jobs.runtime_seconds.{name}", nearest_rank(runtimes, q))
                for name, q in (("p50", .5), ("p90", .9), ("p99", .99))]
        out += [m.gauge("skypilot.jobs.runtime_seconds.max", max(runtimes)),
                m.gauge("skypilot.jobs.runtime_seconds.avg", sum(runtimes) / len(runtimes))]
    waits = [ts - j["submitted_at"] for j in jobs if j.get("status") == "PENDING" and j.get("submitted_at")]
    if waits:
        out += [m.gauge("skypilot.jobs.queue_wait_seconds.p50", nearest_rank(waits, .5)),
                m.gauge("skypilot.jobs.queue_wait_seconds.max", max(waits))]
    out += _resources(running, regions, gpu_prices, spot_factor)
    return out


def _resources(running: list[dict], regions: BoundedValues, gpu_prices: dict[str, float],
               spot_factor: float) -> list[m.Metric]:
    gpus: dict[str, float] = defaultdict(float)
    cost: dict[str, float] = defaultdict(float)
    unpriced: dict[str, float] = defaultdict(float)
    by_region: Counter = Counter()
    for j in running:
        by_region[regions(j.get("region") or "unknown")] += 1
        factor = spot_factor if _is_spot(j) else 1.0
        for name, count in (j.get("accelerators") or {}).items():
            accel = name.lower()
            gpus[accel] += count
            price = next((p for k, p in gpu_prices.items() if k.lower() == accel), None)
            if price is None:
                unpriced[accel] += count
            else:
                cost[accel] += count * price * factor
    spot = sum(_is_spot(j) for j in running)
    out = [m.gauge("skypilot.resources.spot_jobs", spot),
           m.gauge("skypilot.resources.ondemand_jobs", len(running) - spot),
           m.gauge("skypilot.jobs.with_recoveries", sum((j.get("recovery_count") or 0) > 0 for j in running))]
    if running:
        out.append(m.gauge("skypilot.jobs.recovery_count.max", max(j.get("recovery_count") or 0 for j in running)))
    out += [m.gauge("skypilot.jobs.running_by_region", n, region=r) for r, n in sorted(by_region.items())]
    out += [m.gauge("skypilot.resources.gpus", n, accelerator=a) for a, n in sorted(gpus.items())]
    out += [m.gauge("skypilot.cost.hourly_estimate", v, accelerator=a) for a, v in sorted(cost.items())]
    out += [m.gauge("skypilot.cost.unpriced_gpus", v, accelerator=a) for a, v in sorted(unpriced.items())]
    return out


def cluster_metrics(clusters: list[dict]) -> list[m.Metric]:
    """Pure: cluster records → up/stopped/init counts and GPUs held by clusters that are up."""
    status = Counter(str(c.get("status")) for c in clusters)
    held: dict[str, float] = defaultdict(float)
    for c in clusters:
        if c.get("status") == "UP":
            for name, count in _CLUSTER_GPUS.findall(c.get("resources_str") or ""):
                held[name.lower()] += float(count) * (c.get("nodes") or 1)
    out = [m.gauge("skypilot.clusters.active", status.get("UP", 0)),
           m.gauge("skypilot.clusters.stopped", status.get("STOPPED", 0)),
           m.gauge("skypilot.clusters.init", status.get("INIT", 0))]
    return out + [m.gauge("skypilot.clusters.gpus", n, accelerator=a) for a, n in sorted(held.items())]


class SkyPilotCollector:
    def __init__(self, api: SkyPilotApi, options: dict[str, Any]):
        self.api = api
        self.regions = BoundedValues(options.get("regions", []), limit=20)  # allow-list + "other"
        self.gpu_prices = options.get("gpu_prices", {})
        self.spot_factor = options.get("spot_price_factor", 0.35)

    def collect(self, now: datetime) -> list[m.Metric]:
        out = job_metrics(self.api.managed_jobs(), now, self.regions, self.gpu_prices, self.spot_factor)
        try:
            out += cluster_metrics(self.api.clusters())
        except Exception as exc:  # noqa: BLE001 - jobs measured, clusters not: say which
            out.append(m.count("orgpulse.collector.errors", collector="skypilot",
                               reason=f"clusters_{type(exc).__name__.lower()}"))
        return out
