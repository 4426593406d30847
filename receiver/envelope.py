"""The delivery envelope, written once for every source:

    configured? → verify → parse → dedup → handle → emit (+ own counters) → capture

A source supplies only what differs (how to verify, where the delivery id is,
how to read the event, the handlers); this module decides status codes, counts
the receiver's own metrics, and logs one structured line per delivery.
A 4xx/5xx emits no source metric, only the receiver's own counters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from orgpulse import metrics as m
from orgpulse.emit import Emitter
from receiver.capture import Capture
from receiver.dedup import Dedup, SharedDedup

log = logging.getLogger("orgpulse.receiver")

# Results of a delivery, mapped to the HTTP status the sender sees.
STATUS = {
    "accepted": 200,
    "duplicate": 200,
    "ignored": 202,
    "ping": 200,
    "heartbeat": 200,
    "handshake": 200,
    "handshake_refused": 403,
    "unknown_webhook": 404,
    "store_unavailable": 503,
    "missing_signature": 401,
    "bad_signature": 401,
    "malformed": 400,
    "missing_header": 400,
    "too_large": 413,
    "timeout": 408,
    "not_configured": 503,
    "handler_error": 500,
}


def source_of(path: str | None) -> str:
    """The source a request path belongs to ("unknown" when there is none)."""
    parts = (path or "").split("?", 1)[0].split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "webhooks" and parts[2] in SOURCES else "unknown"


SOURCES = ("github", "asana", "wandb")

# What capture writes: never a handshake (its header is the secret itself).
CAPTURED = ("accepted", "ignored", "heartbeat")


class Rejected(Exception):
    """Raised by a source's verify/parse: `reason` is a key of STATUS."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


@dataclass
class Event:
    name: str  # bounded: the provider's event type
    action: str | None
    payload: Any
    delivery_id: str  # for logs and dedup; never a tag


@dataclass
class Handled:
    result: str  # a key of STATUS below 400
    metrics: list[m.Metric] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # response headers a source must send


class Registered(Protocol):
    """What the source registry (receiver/__init__.py) holds per URL name: a Source, or a
    source with one Source per webhook name (Asana's webhook())."""

    @property  # read-only: each source sets it as a class attribute
    def name(self) -> str: ...
    def missing(self) -> list[str]: ...  # what it lacks to count deliveries ([] when ready)
    def configured(self) -> bool: ...


class Source(Registered, Protocol):
    @property
    def capture_headers(self) -> tuple[str, ...]: ...

    def verify(self, headers: Mapping[str, str], body: bytes) -> None: ...
    def parse(self, headers: Mapping[str, str], body: bytes) -> Event: ...
    def dedup_key(self, event: Event, body: bytes) -> str | bytes | None: ...  # None: never a duplicate
    def handle(self, event: Event) -> Handled: ...


@dataclass
class Outcome:
    status: int
    result: str
    event: str | None = None
    delivery_id: str | None = None
    metrics: list[m.Metric] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result}
        if self.delivery_id:
            out["delivery"] = self.delivery_id
        if self.status < 400:
            out["emitted"] = [x.name for x in self.metrics]
        return out


class Envelope:
    def __init__(
        self,
        emitter: Emitter,
        dedup: Dedup | SharedDedup,
        capture: Capture | None = None,
        clock=time.perf_counter,
        observer=None,
    ):
        self.emitter = emitter
        self.dedup = dedup
        self.capture = capture
        self.clock = clock
        # Told of every finished delivery: (source, outcome, event or None) — the status
        # page's record (receiver/status/). It keeps no payload and no header.
        self.observer = observer

    def own_metrics(self, source: str, result: str, event: str | None, seconds: float, emitted: int) -> list[m.Metric]:
        ev = event or "unknown"
        out = [
            m.count("orgpulse.receiver.received", source=source, event=ev),
            m.distribution("orgpulse.receiver.handling_time", seconds, source=source, outcome=result),
        ]
        status = STATUS[result]
        if status >= 400:
            out.append(m.count("orgpulse.receiver.rejected", source=source, reason=result))
        elif result == "duplicate":
            out.append(m.count("orgpulse.receiver.duplicates", source=source))
        elif result == "ignored":
            out.append(m.count("orgpulse.receiver.ignored", source=source, event=ev))
        if emitted:
            out.append(m.count("orgpulse.receiver.emitted", emitted, source=source))
        return out

    def timed_out(self, path: str | None) -> None:
        """Count a request that did not arrive within its deadline (receiver/server/worker.py
        answers it 408 itself: no body, maybe no headers, to hand to a route)."""
        self.reject(source_of(path), "timeout", self.clock(), "request not complete in time")

    def reject(self, source: str, reason: str, started: float, detail: str = "") -> Outcome:
        """Count and log a delivery refused before it reached a handler (e.g. 413 from Flask)."""
        outcome = Outcome(STATUS[reason], reason)
        self._finish(source, outcome, started, detail=detail)
        return outcome

    def process(self, source: Source, path: str, headers: Mapping[str, str], body: bytes) -> Outcome:
        started = self.clock()
        if not source.configured():
            return self.reject(source.name, "not_configured", started)
        try:
            source.verify(headers, body)
            event = source.parse(headers, body)
        except Rejected as exc:
            return self.reject(source.name, exc.reason, started, exc.detail)
        except Exception:
            log.exception("parse failed", extra={"source": source.name})
            return self._finish(source.name, Outcome(500, "handler_error"), started)
        key = source.dedup_key(event, body)
        if key is not None and not self.dedup.claim(key):
            outcome = Outcome(200, "duplicate", event.name, event.delivery_id)
            return self._finish(source.name, outcome, started, event)
        try:
            handled = source.handle(event)
        except Rejected as exc:
            self._release(key)
            return self.reject(source.name, exc.reason, started, exc.detail)
        except Exception:
            self._release(key)  # so a redelivery after the fix is handled
            log.exception(
                "handler failed", extra={"source": source.name, "delivery": event.delivery_id, "event": event.name}
            )
            return self._finish(
                source.name, Outcome(500, "handler_error", event.name, event.delivery_id), started, event
            )
        outcome = Outcome(
            STATUS[handled.result], handled.result, event.name, event.delivery_id, handled.metrics, handled.headers
        )
        if self.capture is not None and handled.result in CAPTURED:
            kept = {k: v for k, v in headers.items() if k.lower() in source.capture_headers}
            self.capture.write(source.name, path, kept, body)
        return self._finish(source.name, outcome, started, event)

    def _release(self, key: str | bytes | None) -> None:
        if key is not None:
            self.dedup.release(key)

    def _finish(
        self, source: str, outcome: Outcome, started: float, event: Event | None = None, detail: str = ""
    ) -> Outcome:
        seconds = self.clock() - started
        outcome.metrics, invalid = self.emitter.partition(outcome.metrics)
        own = self.own_metrics(source, outcome.result, outcome.event, seconds, len(outcome.metrics))
        self.emitter.send(outcome.metrics + invalid + own)
        level = logging.WARNING if outcome.status >= 400 else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level,
                "delivery",
                extra={
                    "source": source,
                    "delivery": outcome.delivery_id,
                    "event": outcome.event,
                    "action": event.action if event else None,
                    "outcome": outcome.result,
                    "status": outcome.status,
                    "emitted": len(outcome.metrics),
                    "ms": round(seconds * 1000, 3),
                    **({"detail": detail} if detail else {}),
                },
            )
        if self.observer is not None:
            self.observer(source, outcome, event)
        return outcome
