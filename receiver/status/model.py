"""The status page's model: everything the page shows, as JSON-ready data, from the
deliveries this process recorded, the state file and the settings (see receiver/status/__init__.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from typing import Any

from fom import scores as fom
from orgpulse import config
from orgpulse import state as states
from receiver.envelope import Event, Outcome

RECENT = 20  # deliveries kept per source
HOUR = 3600
REFRESH_SECONDS = 10


def enabled(settings: config.Settings) -> bool:
    """receiver.status_page, or by default: only in local mode (the log sink)."""
    chosen = settings.section("receiver").get("status_page")
    return settings.sink == "log" if chosen is None else bool(chosen)


class DeliveryLog:
    """The envelope's observer: the recent deliveries and the last hour's counts, per source."""

    def __init__(self, clock: Callable[[], float] = time.time, recent: int = RECENT):
        self.clock = clock
        self._recent: dict[str, deque] = defaultdict(lambda: deque(maxlen=recent))
        self._minutes: dict[str, deque] = defaultdict(deque)  # (minute, Counter of outcomes)
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def record(self, source: str, outcome: Outcome, event: Event | None) -> None:
        now = self.clock()
        names = list(dict.fromkeys(x.name for x in outcome.metrics))
        entry = {
            "at": now,
            "event": outcome.event,
            "action": event.action if event else None,
            "outcome": outcome.result,
            "status": outcome.status,
            "metrics": names,
            "delivery": outcome.delivery_id or None,
        }
        minute = int(now // 60)
        with self._lock:
            self._recent[source].appendleft(entry)
            self._last[source] = now
            buckets = self._minutes[source]
            if not buckets or buckets[-1][0] != minute:
                buckets.append((minute, Counter()))
            buckets[-1][1][outcome.result] += 1
            while buckets and buckets[0][0] <= minute - 60:
                buckets.popleft()

    def summary(self, source: str, now: float) -> dict[str, Any]:
        oldest = int(now // 60) - 60
        with self._lock:
            hour: Counter = Counter()
            for minute, counts in self._minutes.get(source, ()):
                if minute > oldest:
                    hour.update(counts)
            return {
                "last_hour": dict(sorted(hour.items())),
                "last_delivery": self._last.get(source),
                "recent": list(self._recent.get(source, ())),
            }

    def sources(self) -> list[str]:
        with self._lock:
            return list(self._recent)


# ------------------------------------------------------------------ sources
# What is missing is each source's own missing() (its configured() is `not missing()`):
# /readyz asks the same, so the two never disagree. These add the page's paths and notes.
def _github(settings: config.Settings, source) -> dict:
    notes = []
    if settings.github_secret_origin == "generated":
        notes.append(f"secret generated in {settings.data_dir / config.GENERATED_GITHUB_SECRET}")
    return {"paths": ["/webhooks/github"], "notes": notes}


def _asana(settings: config.Settings, source) -> dict:
    notes = (
        []
        if settings.asana_token
        else ["ASANA_ACCESS_TOKEN not set: completions, cycle times and project names are not measured"]
    )
    return {"paths": [f"/webhooks/asana/{n}" for n in source.names()], "notes": notes}


def _wandb(settings: config.Settings, source) -> dict:
    return {"paths": ["/webhooks/wandb"], "notes": []}


DESCRIBE: dict[str, Callable[[config.Settings, Any], dict]] = {"github": _github, "asana": _asana, "wandb": _wandb}


def _sources(receiver, log: DeliveryLog, base_url: str, now: float) -> list[dict]:
    settings = receiver.settings
    out = []
    for name in list(receiver.sources) + [s for s in log.sources() if s not in receiver.sources]:
        source = receiver.sources.get(name)
        if name in DESCRIBE and source:
            missing = source.missing()  # first: Asana's names() below are as fresh as this read
            described = {**DESCRIBE[name](settings, source), "missing": missing}
            configured = not missing
        else:  # requests no source could be told (e.g. a body that never arrived: 408)
            described, configured = {"paths": [], "notes": [], "missing": []}, None
        out.append(
            {
                "name": name,
                "configured": configured,
                "missing": described["missing"],
                "notes": described["notes"],
                "webhooks": [base_url + p for p in described["paths"]],
                **log.summary(name, now),
            }
        )
    return out


# ------------------------------------------------------------------ the state file
def _part(doc: dict | None, error: str | None, path: str, now: float) -> dict:
    """A writer's part: missing | unreadable | stale | fresh, with its age."""
    if error:
        return {"state": "unreadable", "message": error}
    if not doc or "updated_at" not in doc:
        return {"state": "missing", "message": f"nothing written to {path} yet"}
    age = now - doc["updated_at"] if isinstance(doc.get("updated_at"), (int, float)) else None
    return {
        "state": "stale" if states.stale(doc, now) else "fresh",
        "updated_at": doc.get("updated_at"),
        "age": age,
        "interval_seconds": doc.get("interval_seconds"),
        "stale_after": states.STALE_AFTER * (doc.get("interval_seconds") or 0),
    }


def _collectors(doc: dict) -> list[dict]:
    poller = states.as_object(doc.get("poller"))
    return [{"name": name, **report} for name, report in sorted(poller.items()) if isinstance(report, dict)]


def _gauges(parts: list[tuple[dict, dict]], now: float) -> tuple[list[dict], int]:
    """The fresh gauges of the fresh parts, newest per series; how many old ones were hidden."""
    latest: dict[tuple, dict] = {}
    hidden = 0
    for part, summary in parts:
        limit = summary.get("stale_after") or 0
        for row in part.get("gauges") or []:
            if summary["state"] != "fresh" or now - row.get("at", 0) > limit:
                hidden += 1
                continue
            key = (row["name"], tuple(sorted(row.get("tags", {}).items())))
            if key not in latest or latest[key]["at"] < row["at"]:
                latest[key] = row
    return [latest[k] for k in sorted(latest)], hidden


def score_names(found: list[str]) -> list[str]:
    """Every FoM score, overall first, then each area's composite and its scores; others after."""
    known = ["health.overall.fom"]
    for area in fom.AREA_WEIGHTS:
        known.append(f"health.{area}.fom")
        known += [f"health.{f.area}.{f.name}.fom" for f in fom.FORMULAS if f.area == area]
    return known + sorted(set(found) - set(known))


def _grid(doc: dict, thresholds: dict[str, float], now: float) -> dict:
    health = states.as_object(doc.get("health"))
    days = states.days(now)
    rows = []
    for name in score_names(list(health)):
        by_day = health.get(name) or {}
        cells = []
        for day in days:
            value = (by_day.get(day) or {}).get("avg")
            cells.append(
                {"day": day, "value": value, "status": fom.status(value, thresholds) if value is not None else "none"}
            )
        rows.append({"name": name, "cells": cells})
    return {"days": days, "thresholds": thresholds, "rows": rows}


def _informer(doc: dict, path: str, now: float) -> dict:
    part = doc.get("informer") if isinstance(doc.get("informer"), dict) else None
    summary = _part(part, None, path, now)
    if part and summary["state"] == "fresh":
        summary.update(
            {k: part.get(k) for k in ("watching", "role", "pods", "last_event", "restarts_1h", "oom_kills_1h")}
        )
    return summary


def _state(settings: config.Settings, now: float) -> dict:
    store = states.StateFile(settings.data_dir)
    try:
        doc, error = store.read(), None
    except states.StateError as exc:
        doc, error = {}, str(exc)
    poller = _part(doc, error, str(store.path), now)
    # The top-level role is the poller's own (the informer's is in its part); updated_at
    # also moves when a cycle starts, cycle_at only when one ends.
    poller.update(role=doc.get("role"), cycle_at=doc.get("cycle_at"))
    if poller["state"] == "fresh":  # old values are never shown as current
        poller["collectors"] = _collectors(doc)
    informer = _informer(doc, str(store.path), now)
    parts = [(doc, poller), (doc.get("informer") or {}, informer)]
    gauges, hidden = _gauges(parts, now)
    grid = _grid(doc, settings.section("fom").get("thresholds") or {"green": 0.7, "yellow": 0.3}, now)
    return {
        "poller": poller,
        "informer": informer,
        "gauges": gauges,
        "gauges_hidden": hidden,
        "health": {**grid, "as_of": doc.get("updated_at")},
    }


def model(receiver, log: DeliveryLog, base_url: str, now: float) -> dict:
    """Everything the page shows, as JSON-ready data (also GET /status.json)."""
    settings = receiver.settings
    return {
        "generated_at": now,
        "mode": "local" if settings.sink == "log" else "agent",
        "refresh_seconds": REFRESH_SECONDS,
        "sources": _sources(receiver, log, base_url.rstrip("/"), now),
        **_state(settings, now),
    }
