"""The poller's state file: one JSON document in the data dir that the poller container's
liveness probe checks (`orgpulse probe poller`) and the status page reads.

`<data dir>/poller-state.json`:

    {"updated_at": 1764151200.0,        # Unix seconds: the poller's last write
     "cycle_at": 1764151200.0,          # when its last cycle ended
     "interval_seconds": 900,           # the poller's cycle interval
     "role": "single",                  # the poller's: leader | standby (holds no Lease) | single (no election)
     "poller": {"github": {"ok": true, "duration": 4.2, "last_success": 1764151195.8,
                           "error": null,     # timeout | still_running | exception | partial
                           "reasons": [],     # partial: the errors' reason tags; exception: its type
                           "emitted": 212}},  # metrics the collector produced this cycle
     "gauges": [{"name": "ec2.instances.running", "tags": {"region": "us-east-1"},
                 "value": 4.0, "at": 1764151199.0}],   # every gauge's latest value (ValueStore)
     "health": {"health.ci.fom": {"2026-11-26": {"avg": 0.83, "n": 12}}},  # 7 UTC days a score
     "informer": {"watching": true, "updated_at": 1764151230.0, "interval_seconds": 60,
                  "role": "leader",                          # the informer's own, as above
                  "pods": 120, "last_event": 1764151229.1,   # pods cached, last watch event
                  "restarts_1h": 3, "oom_kills_1h": 1,       # seen in the last hour
                  "gauges": [...]}}                           # its latest gauges, as above

Each writer owns a part: the poller loop writes the top level and `poller` at both ends of
each cycle (so a cycle waiting on a slow collector still looks alive), the informer (a thread
in the same process, or `orgpulse informer` on its own) writes `informer` around each gauge
pass — its role too, inside its part: run apart, the poller and the informer elect (or not)
independently, and one top-level field would flip between their two answers. A write reads the
document, applies its change and replaces the file (temp file + os.replace) under an flock,
so no writer loses another's part and a reader never sees half a file. A part is stale once
its writer has not written for STALE_AFTER of its own intervals: the probe then fails, and
the kubelet restarts a container whose loop hung, not only one whose process died.

The status page (receiver/status/) reads the rest: `cycle_at` (when the last cycle ended;
`updated_at` also moves when one starts), gauges (each with the time it was last measured,
so the page can hide old ones), the health grid — every FoM score's average per UTC day,
today and the 6 days before — and the informer's details.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger("orgpulse.poller")
FILENAME = "poller-state.json"
STALE_AFTER = 2  # intervals: one late write is slack, two missed mean the writer is stuck
DAYS = 7  # the health grid: today and the 6 UTC days before it
MAX_GAUGES = 5000  # tags are bounded, so this is a guard against a bug, not a budget


class StateError(RuntimeError):
    """The state file exists but cannot be read as a state document."""


class StateFile:
    def __init__(self, data_dir: Path):
        self.path = Path(data_dir) / FILENAME
        self._lock_path = self.path.with_name(FILENAME + ".lock")

    def read(self) -> dict:
        """The document; {} when there is none yet; StateError when it is unreadable."""
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read {self.path}: {exc}") from None
        if not isinstance(doc, dict):
            raise StateError(f"{self.path} does not hold a JSON object")
        return doc

    def update(self, change: Callable[[dict], None]) -> dict | None:
        """Apply `change` to the document and write it back, atomically, under the lock.
        A failed write is logged, never raised: the loops go on emitting, and the probe
        sees the file go stale."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            with os.fdopen(fd, "r+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # per open file: threads and processes alike
                try:
                    doc = self.read()
                except StateError:
                    doc = {}  # a corrupt file is replaced, not left failing the probe
                change(doc)
                # Per thread as well as per process: the flock orders writers, the name
                # keeps a crashed writer's leftover from being mistaken for another's.
                tmp = self.path.with_name(f".{FILENAME}.{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
                os.replace(tmp, self.path)
                return doc
        except OSError as exc:
            log.warning("cannot write the state file", extra={"path": str(self.path), "error": exc.strerror})
            return None


# ------------------------------------------------------------------ the writers' changes
class Elector(Protocol):
    """What the state file needs of a leader election (pollers/kubernetes/lease.py)."""

    def is_leader(self) -> bool: ...


def role(elector: Elector | None) -> str:
    if elector is None:
        return "single"
    return "leader" if elector.is_leader() else "standby"


def started(now: float, interval: float, current_role: str) -> Callable[[dict], None]:
    """A poller process starts: a fresh document (a previous process's parts would be stale)."""

    def change(doc: dict) -> None:
        doc.clear()
        doc.update(updated_at=now, interval_seconds=interval, role=current_role, poller={})

    return change


def cycle(
    now: float,
    interval: float,
    current_role: str,
    collectors: dict[str, dict],
    gauges: list[dict] | None = None,
    scores: dict[str, float] | None = None,
) -> Callable[[dict], None]:
    """After a poller cycle: collector → {ok, duration, last_success, error, reasons,
    emitted}; the gauges' latest values (gauge_rows); this cycle's scores folded into
    their UTC day's average."""

    def change(doc: dict) -> None:
        doc.update(updated_at=now, interval_seconds=interval, role=current_role)
        doc["poller"] = {**as_object(doc.get("poller")), **collectors}  # `--only` keeps the others' last results
        if gauges is not None:  # a cycle's end, not the heartbeat at its start
            doc["cycle_at"] = now
            doc["gauges"] = gauges
        if scores is not None:
            doc["health"] = fold_health(as_object(doc.get("health")), scores, now)

    return change


def informer(
    now: float, interval: float, current_role: str, watching: bool, details: dict | None = None
) -> Callable[[dict], None]:
    """The informer's part; `details`: pods, last_event, restarts_1h, oom_kills_1h, gauges."""

    def change(doc: dict) -> None:
        doc["informer"] = {
            **(details or {}),
            "watching": watching,
            "updated_at": now,
            "interval_seconds": interval,
            "role": current_role,
        }

    return change


# ------------------------------------------------------------------ what the page reads
def as_object(value: object) -> dict:
    """A part of the document that should be a JSON object; {} when it is not (a damaged
    file): what the writers update and the status page reads."""
    return value if isinstance(value, dict) else {}


def gauge_rows(series: Iterable[tuple[str, Any, float, float]], limit: int = MAX_GAUGES) -> list[dict]:
    """(name, tags, value, measured at) tuples → the file's gauge rows, sorted, at most `limit`."""
    rows = sorted(series, key=lambda s: (s[0], s[1]))[:limit]
    return [{"name": name, "tags": dict(tags), "value": value, "at": at} for name, tags, value, at in rows]


def utc_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, tz=UTC).date()


def days(now: float) -> list[str]:
    """The grid's columns: the DAYS UTC calendar days ending today, oldest first."""
    today = utc_day(now)
    return [(today - timedelta(days=back)).isoformat() for back in range(DAYS - 1, -1, -1)]


def fold_health(health: dict, scores: dict[str, float], now: float) -> dict:
    """Each score's running average for its UTC day, only the last DAYS days kept.
    A score absent this cycle (no fresh input) adds nothing: its day keeps the
    average of the cycles that had one, and a day with none stays absent."""
    keep = set(days(now))
    today = utc_day(now).isoformat()
    out: dict[str, dict] = {}
    for name in set(health) | set(scores):
        kept = {d: v for d, v in as_object(health.get(name)).items() if d in keep and isinstance(v, dict)}
        if name in scores:
            cell = kept.get(today) or {"avg": 0.0, "n": 0}
            n = cell["n"] + 1
            kept[today] = {"avg": cell["avg"] + (scores[name] - cell["avg"]) / n, "n": n}
        if kept:
            out[name] = kept
    return out


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _written(part: dict) -> tuple[float, float] | None:
    """(updated_at, interval_seconds) of a writer's part, or None when either is not a
    number or the interval is not positive."""
    written, interval = _number(part.get("updated_at")), _number(part.get("interval_seconds"))
    if written is None or interval is None or interval <= 0:
        return None
    return written, interval


def stale(part: dict, now: float) -> bool:
    """A writer's part is stale (or unusable) after STALE_AFTER of its intervals."""
    timing = _written(part)
    return timing is None or now - timing[0] > STALE_AFTER * timing[1]


# ------------------------------------------------------------------ the probe
# Where each writer's part is: the poller owns the top level, the informer its section.
PARTS: dict[str, Callable[[dict], object]] = {
    "poller": lambda doc: doc,
    "informer": lambda doc: doc.get("informer"),
}
# Per probe target: the parts it requires, and those it checks only when present.
TARGETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "poller": (("poller",), ("informer",)),  # the poller process, and its informer if it runs one
    "informer": (("informer",), ()),  # `orgpulse informer` alone
}


def _check(name: str, part: dict, now: float) -> tuple[str | None, str]:
    """(problem or None, description) for one writer's part."""
    timing = _written(part)
    if timing is None:
        return f"{name}: the state file has no valid updated_at/interval_seconds", ""
    written, interval = timing
    age, limit = now - written, STALE_AFTER * interval
    if age > limit:
        return (
            f"{name}: last wrote the state file {age:.0f} s ago, stale after {limit:.0f} s "
            f"({STALE_AFTER} x {interval:g} s): its loop is stuck"
        ), ""
    return None, f"{name} {max(age, 0.0):.0f} s ago (stale after {limit:.0f} s)"


def verdict(doc: dict, now: float, target: str = "poller") -> tuple[bool, str]:
    """(healthy, one line saying why) for a probe target against a state document."""
    required, optional = TARGETS[target]
    said = []
    for name in required + optional:
        part = PARTS[name](doc)
        if not isinstance(part, dict) or "updated_at" not in part:
            if name in required:
                return False, f"{name}: has not written the state file yet"
            continue
        problem, description = _check(name, part, now)
        if problem:
            return False, problem
        said.append(description)
    return True, "ok: " + "; ".join(said)
