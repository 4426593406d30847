"""W&B rolling aggregates per configured entity/project, incremental, through wandb.Api.

The first cycle loads the runs created in the last 7 days; later cycles ask
only for runs created or heartbeating since the previous cycle (server-side
filters) and fold them into an in-memory window that slides. The list query
carries summaries (lazy=False), so there is no per-run call. Training inputs
come from configurable summary keys; GPU count and utilisation from the
run's system metrics (system.gpu.N.gpu). Run classes (push-to-main, sweeps,
…) come from name patterns. No per-run tags (seed W14).
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from orgpulse import metrics as m
from orgpulse.tags import BoundedValues
from orgpulse.timeutil import parse_time

WEEK = timedelta(days=7)
OVERLAP = timedelta(minutes=5)  # re-read a little of the previous cycle: clocks differ
FAILED = ("failed", "crashed")
_GPU = re.compile(r"^system\.gpu\.(\d+)\.gpu$")
DEFAULT_KEYS = {"accuracy": "accuracy", "loss": "loss",
                "steps_per_second": ["overview/steps_per_second", "overview/sps"]}


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarize_run(run, keys: dict[str, Any], classes: dict[str, re.Pattern]) -> dict:
    """The few fields a window keeps per run (not the run object)."""
    created, heartbeat = parse_time(run.created_at), parse_time(getattr(run, "heartbeat_at", None))
    summary = dict(run.summary_metrics or {})
    system = dict(getattr(run, "system_metrics", {}) or {})
    gpus = [v for k, v in {**summary, **system}.items() if _GPU.match(k) and isinstance(v, (int, float))]
    sps_keys = keys["steps_per_second"] if isinstance(keys["steps_per_second"], list) else [keys["steps_per_second"]]
    name = run.display_name or run.name or ""
    return {"state": run.state, "created": created, "heartbeat": heartbeat,
            "hours": (heartbeat - created).total_seconds() / 3600 if created and heartbeat else None,
            "accuracy": summary.get(keys["accuracy"]), "loss": summary.get(keys["loss"]),
            "sps": next((summary[k] for k in sps_keys if isinstance(summary.get(k), (int, float))), None),
            "gpus": len(gpus), "gpu_util": sum(gpus) / len(gpus) if gpus else None,
            "run_class": next((c for c, rx in classes.items() if rx.search(name)), "other")}


def window_metrics(window: dict[str, dict], project: str) -> list[m.Metric]:
    """Pure: the 7-day window of one project → gauges."""
    runs = list(window.values())
    tag = {"project": project}
    finished = [r for r in runs if r["state"] == "finished"]
    failed = [r for r in runs if r["state"] in FAILED]
    out = [m.gauge("wandb.runs.active", sum(r["state"] == "running" for r in runs), **tag),
           m.gauge("wandb.runs.total_7d", len(runs), **tag),
           m.gauge("wandb.runs.completed_7d", len(finished), **tag),
           m.gauge("wandb.runs.failed_7d", len(failed), **tag),
           m.gauge("wandb.runs.crashed_7d", sum(r["state"] == "crashed" for r in runs), **tag)]
    hours = [r["hours"] for r in finished if r["hours"] is not None]
    if hours:
        out += [m.gauge("wandb.training.avg_duration_hours", sum(hours) / len(hours), **tag),
                m.gauge("wandb.training.duration_p50_hours", _p(hours, .5), **tag),
                m.gauge("wandb.training.duration_p90_hours", _p(hours, .9), **tag)]
    gpu_hours = [r["hours"] * r["gpus"] for r in runs if r["hours"] is not None and r["gpus"]]
    if gpu_hours:
        out.append(m.gauge("wandb.training.total_gpu_hours_7d", sum(gpu_hours), **tag))
    utils = [r["gpu_util"] for r in runs if r["gpu_util"] is not None]
    if utils:
        out.append(m.gauge("wandb.training.gpu_utilization_avg", sum(utils) / len(utils), **tag))
    accuracies = [r["accuracy"] for r in runs if isinstance(r["accuracy"], (int, float))]
    if accuracies:
        out += [m.gauge("wandb.metrics.best_accuracy", max(accuracies), **tag),
                m.gauge("wandb.metrics.avg_accuracy_7d", sum(accuracies) / len(accuracies), **tag)]
    latest = max((r for r in finished if isinstance(r["loss"], (int, float))),
                 key=lambda r: r["heartbeat"] or r["created"], default=None)
    if latest:
        out.append(m.gauge("wandb.metrics.latest_loss", latest["loss"], **tag))
    recent = max((r for r in runs if r["sps"] is not None), key=lambda r: r["created"], default=None)
    if recent:
        out.append(m.gauge("wandb.metrics.steps_per_second", recent["sps"], **tag))
    for cls in sorted({r["run_class"] for r in runs}):
        done = [r for r in runs if r["run_class"] == cls and r["state"] in ("finished", *FAILED)]
        ok = sum(r["state"] == "finished" for r in done)
        ctag = {**tag, "run_class": cls}
        out += [m.gauge("wandb.runs.class_finished_7d", ok, **ctag),
                m.gauge("wandb.runs.class_failed_7d", len(done) - ok, **ctag)]
        if done:
            out.append(m.gauge("wandb.runs.class_success_rate_pct", 100 * ok / len(done), **ctag))
    return out


class WandbPoller:
    def __init__(self, api, options: dict[str, Any]):
        self.api = api
        self.projects: list[str] = options["projects"]
        self.tags = BoundedValues(self.projects, len(self.projects) or 1)
        self.keys = {**DEFAULT_KEYS, **(options.get("summary_keys") or {})}
        self.classes = {c: re.compile(p) for c, p in (options.get("run_classes") or {}).items()}
        self.windows: dict[str, dict[str, dict]] = {}
        self.last_sync: dict[str, datetime] = {}

    def _fetch(self, path: str, now: datetime) -> None:
        since = self.last_sync.get(path)
        if since is None:
            flt = {"createdAt": {"$gte": (now - WEEK).isoformat()}}
        else:  # only what changed: new runs, and runs that sent a heartbeat (state changes)
            t = (since - OVERLAP).isoformat()
            flt = {"$or": [{"createdAt": {"$gte": t}}, {"heartbeatAt": {"$gte": t}}]}
        window = self.windows.setdefault(path, {})
        for run in self.api.runs(path, filters=flt, per_page=500, lazy=False):
            record = summarize_run(run, self.keys, self.classes)
            if record["created"] and now - record["created"] <= WEEK:
                window[run.id] = record
        for run_id in [k for k, r in window.items() if not r["created"] or now - r["created"] > WEEK]:
            del window[run_id]  # the window slides
        self.last_sync[path] = now

    def collect(self, now: datetime) -> list[m.Metric]:
        out: list[m.Metric] = []
        failures = 0
        for path in self.projects:
            try:
                self._fetch(path, now)
            except Exception:  # noqa: BLE001 - this project unmeasured; the others still are
                failures += 1
                out.append(m.count("orgpulse.collector.errors", collector="wandb", reason="runs_failed"))
                continue
            out += window_metrics(self.windows[path], self.tags(path))
        if failures == len(self.projects):
            raise RuntimeError("every W&B project failed")
        return out
