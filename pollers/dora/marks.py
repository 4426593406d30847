"""High-water marks: the time up to which each stream of event-level values was emitted.

The poller rebuilds its windows from the APIs after a restart or a failover; the marks
make sure it never sends a distribution value twice (a restart or a failover re-reads
the window; Datadog would count a value sent again twice). They live in a JSON file in the
data dir and, when Redis is configured, in one Redis hash shared by every replica, so a
replica that takes the Lease over continues where the last leader stopped. Reading takes the later of the two.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

REDIS_KEY = "orgpulse:dora:marks"


class MarksUnavailable(RuntimeError):
    """Redis is configured but cannot be read or written: emit nothing that needs a mark."""


class Marks:
    def __init__(self, path: Path, redis=None):
        self.path, self.redis = path, redis

    def load(self) -> dict[str, float]:
        """Stream → Unix time of its mark (the later of file and Redis)."""
        try:
            marks = {k: float(v) for k, v in json.loads(self.path.read_text(encoding="utf-8")).items()}
        except (OSError, ValueError):
            marks = {}  # no file yet (or unreadable): Redis, or a first start
        if self.redis is not None:
            try:
                shared = self.redis.hgetall(REDIS_KEY)
            except Exception as exc:  # noqa: BLE001 - redis' errors, whatever the transport
                raise MarksUnavailable(f"redis: {type(exc).__name__}") from None
            for key, value in shared.items():
                key = key.decode() if isinstance(key, bytes) else key
                marks[key] = max(marks.get(key, 0.0), float(value))
        return marks

    def save(self, marks: dict[str, float]) -> None:
        """Write both; the file atomically (a crash leaves the old or the new one)."""
        if self.redis is not None and marks:
            try:
                self.redis.hset(REDIS_KEY, mapping={k: repr(v) for k, v in marks.items()})
            except Exception as exc:  # noqa: BLE001
                raise MarksUnavailable(f"redis: {type(exc).__name__}") from None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(marks, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            raise MarksUnavailable(f"{self.path}: {exc.strerror}") from None
