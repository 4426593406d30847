"""W&B rolling aggregates per configured entity/project, incremental, through wandb.Api.

The window holds every run alive at some moment of the last 7 days: created or
heartbeating in it, or running now whatever its age (a 10-day run still
training is active and spends GPU time this week). The first cycle asks for
those; later cycles ask, in ONE query, for runs created or heartbeating since
the previous cycle plus every run the window still holds as running — a run
W&B declares crashed because its heartbeats stopped never moves again, so it
must be re-read by id. A run leaves the window 7 days after it ended.

Runs count by when they ended (a run created 8 days ago that failed yesterday
is this week's failure); GPU hours are the GPU time spent inside the window.
GPU utilisation is each run's average over its system-metrics history (sampled
by W&B, one call per GPU run when it appears, ends, or hourly while it runs),
not the last sample. Training inputs come from configurable summary keys. No
per-run tags (a tag value per run would be a custom metric each).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from orgpulse import metrics as m
from orgpulse.statistics import percentile
from orgpulse.tags import BoundedValues
from orgpulse.timeutil import parse_time

log = logging.getLogger("orgpulse.poller")

WEEK = timedelta(days=7)
OVERLAP = timedelta(minutes=5)  # re-read a little of the previous cycle: clocks differ
FAILED = ("failed", "crashed")
ENDED = ("finished", *FAILED)
_GPU = re.compile(r"^system\.gpu\.(\d+)\.gpu$")
DEFAULT_KEYS = {
    "accuracy": "accuracy",
    "loss": "loss",
    "steps_per_second": ["overview/steps_per_second", "overview/sps"],
}
HISTORY_SAMPLES = 200  # system-metrics rows W&B samples per run
UTIL_REFRESH = timedelta(hours=1)  # a running run's utilisation is re-sampled this often
HISTORY_CALLS_PER_CYCLE = 200  # a backfill spreads over cycles (figure withheld till done)


def make_api(api_key: str, base_url: str | None, timeout: int = 30, retries: int = 4):
    """wandb.Api with a bounded GraphQL retry policy. wandb-core retries 429/5xx and
    honours Retry-After; without a bound it retries for minutes, past the cycle. The
    policy is a process-wide wandb setting, read when the Api is built."""
    import wandb  # ~1.4 s to import: only with W&B configured, at the first cycle (LazyApi)

    wandb.setup(
        settings=wandb.Settings(
            x_graphql_retry_max=retries, x_graphql_retry_wait_min_seconds=1, x_graphql_retry_wait_max_seconds=10
        )
    )
    overrides = {"base_url": base_url} if base_url else {}
    return wandb.Api(api_key=api_key, overrides=overrides, timeout=timeout)


class LazyApi:
    """wandb.Api built at the collector's first use, not when the poller starts: building it
    checks the API key against the server, and a W&B unreachable at start must not stop the
    poller (in the chart, a crash-looping sidecar). A failed build is tried again next cycle."""

    def __init__(self, make: Callable[[], Any]):
        self._make, self._api = make, None

    def connect(self) -> None:
        if self._api is None:
            self._api = self._make()

    def __getattr__(self, name: str) -> Any:
        self.connect()
        return getattr(self._api, name)


def gpu_values(sample: dict) -> list[float]:
    return [v for k, v in sample.items() if _GPU.match(k) and isinstance(v, (int, float)) and not isinstance(v, bool)]


def run_utilization(events: list[dict]) -> float | None:
    """Pure: a run's GPU utilisation averaged over its sampled system-metrics rows."""
    rows = [sum(v) / len(v) for v in map(gpu_values, events) if v]
    return sum(rows) / len(rows) if rows else None


def summarize_run(run, keys: dict[str, Any], classes: dict[str, re.Pattern]) -> dict:
    """The few fields a window keeps per run (not the run object)."""
    created, heartbeat = parse_time(run.created_at), parse_time(getattr(run, "heartbeat_at", None))
    summary = dict(run.summary_metrics or {})
    system = dict(getattr(run, "system_metrics", {}) or {})
    gpus = {k for k, v in {**summary, **system}.items() if _GPU.match(k) and isinstance(v, (int, float))}
    sps_keys = keys["steps_per_second"] if isinstance(keys["steps_per_second"], list) else [keys["steps_per_second"]]
    name = run.display_name or run.name or ""
    return {
        "state": run.state,
        "created": created,
        "end": heartbeat or created,
        "accuracy": summary.get(keys["accuracy"]),
        "loss": summary.get(keys["loss"]),
        "sps": next((summary[k] for k in sps_keys if isinstance(summary.get(k), (int, float))), None),
        "gpus": len(gpus),
        "util": None,
        "util_at": None,
        "util_state": None,
        "run_class": next((c for c, rx in classes.items() if rx.search(name)), "other"),
    }


def _hours(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() / 3600 if start and end else None


def gpu_hours_in(r: dict, start: datetime, now: datetime) -> float:
    """GPU time the run spent inside [start, now]: its GPUs × the overlap of its life."""
    if not r["gpus"] or not r["created"]:
        return 0.0
    overlap = _hours(max(r["created"], start), min(r["end"], now)) or 0.0
    return r["gpus"] * max(0.0, overlap)


def _state_gauges(runs: list[dict], ended: list[dict], start: datetime, tag: dict) -> list[m.Metric]:
    finished = [r for r in ended if r["state"] == "finished"]
    out = [
        m.gauge("wandb.runs.active", sum(r["state"] == "running" for r in runs), **tag),
        m.gauge("wandb.runs.total_7d", sum(bool(r["created"]) and r["created"] >= start for r in runs), **tag),
        m.gauge("wandb.runs.completed_7d", len(finished), **tag),
        m.gauge("wandb.runs.failed_7d", sum(r["state"] in FAILED for r in ended), **tag),
        m.gauge("wandb.runs.crashed_7d", sum(r["state"] == "crashed" for r in ended), **tag),
    ]
    hours = [h for r in finished if (h := _hours(r["created"], r["end"])) is not None]
    if hours:  # whole durations of runs that finished this week, however long they ran
        out += [
            m.gauge("wandb.training.avg_duration_hours", sum(hours) / len(hours), **tag),
            m.gauge("wandb.training.duration_p50_hours", percentile(hours, 0.5), **tag),
            m.gauge("wandb.training.duration_p90_hours", percentile(hours, 0.9), **tag),
        ]
    return out


def _gpu_gauges(runs: list[dict], start: datetime, now: datetime, tag: dict) -> list[m.Metric]:
    spent = [(r, gpu_hours_in(r, start, now)) for r in runs if r["gpus"]]
    # Measured even with no GPU run this week: 0, not a stale last value.
    out = [m.gauge("wandb.training.total_gpu_hours_7d", sum(h for _, h in spent), **tag)]
    if any(r["util_at"] is None for r, _ in spent):
        return out  # a GPU run never measured (yet): a partial mean would mislead
    weighted = [(r["util"], h) for r, h in spent if r["util"] is not None and h > 0]
    if weighted:  # weighted by GPU hours in the window: the share of GPU time kept busy
        out.append(
            m.gauge(
                "wandb.training.gpu_utilization_avg",
                sum(u * h for u, h in weighted) / sum(h for _, h in weighted),
                **tag,
            )
        )
    return out


def _model_gauges(runs: list[dict], ended: list[dict], tag: dict) -> list[m.Metric]:
    out = []
    accuracies = [r["accuracy"] for r in runs if isinstance(r["accuracy"], (int, float))]
    out.append(m.gauge("wandb.metrics.accuracy_runs_7d", len(accuracies), **tag))  # the mean's weight
    if accuracies:
        out += [
            m.gauge("wandb.metrics.best_accuracy", max(accuracies), **tag),
            m.gauge("wandb.metrics.avg_accuracy_7d", sum(accuracies) / len(accuracies), **tag),
        ]
    latest = max(
        (r for r in ended if r["state"] == "finished" and isinstance(r["loss"], (int, float))),
        key=lambda r: r["end"],
        default=None,
    )
    if latest:
        out.append(m.gauge("wandb.metrics.latest_loss", latest["loss"], **tag))
    recent = max((r for r in runs if r["sps"] is not None and r["created"]), key=lambda r: r["created"], default=None)
    if recent:
        out.append(m.gauge("wandb.metrics.steps_per_second", recent["sps"], **tag))
    return out


def _class_gauges(runs: list[dict], ended: list[dict], tag: dict) -> list[m.Metric]:
    out = []
    for cls in sorted({r["run_class"] for r in runs}):
        done = [r for r in ended if r["run_class"] == cls]
        ok = sum(r["state"] == "finished" for r in done)
        ctag = {**tag, "run_class": cls}
        out += [
            m.gauge("wandb.runs.class_finished_7d", ok, **ctag),
            m.gauge("wandb.runs.class_failed_7d", len(done) - ok, **ctag),
        ]
        if done:
            out.append(m.gauge("wandb.runs.class_success_rate_pct", 100 * ok / len(done), **ctag))
    return out


def window_metrics(window: dict[str, dict], project: str, now: datetime) -> list[m.Metric]:
    """Pure: the runs alive in the last 7 days of one project → gauges."""
    runs, start, tag = list(window.values()), now - WEEK, {"project": project}
    ended = [r for r in runs if r["state"] in ENDED and r["end"] and r["end"] >= start]
    return (
        _state_gauges(runs, ended, start, tag)
        + _gpu_gauges(runs, start, now, tag)
        + _model_gauges(runs, ended, tag)
        + _class_gauges(runs, ended, tag)
    )


def _settled(r: dict) -> bool:
    """Sampled in the state it is in: final once ended; a running run's is refreshed hourly."""
    return not r["gpus"] or (r["util_at"] is not None and r["util_state"] == r["state"])


def _needs_sampling(new: dict, old: dict | None, now: datetime) -> bool:
    if not new["gpus"]:
        return False
    if old is None or old["util_at"] is None or old["util_state"] != new["state"]:
        return True  # never sampled, or sampled while running and now ended
    return new["state"] == "running" and now - old["util_at"] >= UTIL_REFRESH


class WandbPoller:
    def __init__(self, api, options: dict[str, Any]):
        self.api = api
        self.projects: list[str] = options["projects"]
        self.tags = BoundedValues(self.projects, len(self.projects) or 1)
        self.keys = {**DEFAULT_KEYS, **(options.get("summary_keys") or {})}
        self.classes = {c: re.compile(p) for c, p in (options.get("run_classes") or {}).items()}
        self.windows: dict[str, dict[str, dict]] = {}
        self.last_sync: dict[str, datetime] = {}

    def _filters(self, path: str, now: datetime) -> tuple[dict, set[str]]:
        """The cycle's one runs query, and the ids it asks for by name."""
        since = self.last_sync.get(path)
        if since is None:  # everything alive this week, and every run still running
            t = (now - WEEK).isoformat()
            return {"$or": [{"createdAt": {"$gte": t}}, {"heartbeatAt": {"$gte": t}}, {"state": "running"}]}, set()
        t = (since - OVERLAP).isoformat()
        # Re-read by id what may have changed without moving: running runs (W&B marks a
        # silent one crashed) and GPU runs whose utilisation is still to be sampled.
        recheck = sorted(k for k, r in self.windows[path].items() if r["state"] == "running" or not _settled(r))
        changed = [{"createdAt": {"$gte": t}}, {"heartbeatAt": {"$gte": t}}]
        return {"$or": changed + ([{"name": {"$in": recheck}}] if recheck else [])}, set(recheck)

    def _sample(self, run, record: dict, now: datetime) -> bool:
        try:
            events = run.history(samples=HISTORY_SAMPLES, stream="system", pandas=False)
        except Exception as exc:  # noqa: BLE001 - this run unmeasured; retried next cycle
            log.warning("W&B system metrics failed", extra={"error": type(exc).__name__})
            return False
        record.update(util=run_utilization(events), util_at=now, util_state=record["state"])
        return True

    def _fetch(self, path: str, now: datetime) -> int:
        """Fold this cycle's runs into the window; returns how many samplings failed."""
        flt, asked = self._filters(path, now)
        window = self.windows.setdefault(path, {})
        seen, failed, budget = set(), 0, HISTORY_CALLS_PER_CYCLE
        for run in self.api.runs(path, filters=flt, per_page=500, lazy=False):
            record, old = summarize_run(run, self.keys, self.classes), window.get(run.id)
            seen.add(run.id)
            sampled = False
            if _needs_sampling(record, old, now) and budget > 0:  # past the budget: next cycle
                budget -= 1
                sampled = self._sample(run, record, now)
                failed += not sampled
            if not sampled and old is not None:  # the last average stands until re-sampled
                record.update(util=old["util"], util_at=old["util_at"], util_state=old["util_state"])
            window[run.id] = record
        start = now - WEEK
        for run_id in [
            k
            for k, r in window.items()
            if (k in asked and k not in seen) or (r["state"] != "running" and (not r["end"] or r["end"] < start))
        ]:
            del window[run_id]  # asked for by id but gone (deleted), or ended over a week ago
        self.last_sync[path] = now
        return failed

    def collect(self, now: datetime) -> list[m.Metric]:
        try:
            getattr(self.api, "connect", lambda: None)()  # a LazyApi builds its client here
        except Exception as exc:  # noqa: BLE001 - W&B unreachable or the key refused: next cycle retries
            log.warning("W&B client not built", extra={"collector": "wandb", "error": type(exc).__name__})
            return [m.count("orgpulse.collector.errors", collector="wandb", reason="client_failed")]
        out: list[m.Metric] = []
        failures = 0
        for path in self.projects:
            try:
                failed = self._fetch(path, now)
            except Exception:  # noqa: BLE001 - this project unmeasured; the others still are
                failures += 1
                out.append(m.count("orgpulse.collector.errors", collector="wandb", reason="runs_failed"))
                continue
            if failed:
                out.append(
                    m.count("orgpulse.collector.errors", failed, collector="wandb", reason="system_metrics_failed")
                )
            out += window_metrics(self.windows[path], self.tags(path), now)
        if failures == len(self.projects):
            raise RuntimeError("every W&B project failed")
        return out
