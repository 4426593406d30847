"""Bounded tag values: a tag may only take a known, capped set of values.

Repository, workflow and environment names come from payloads. Each distinct
value is a new custom metric in Datadog, so a tag fed from a payload goes
through a BoundedValues: an allow-list when one is configured, otherwise the
first `limit` distinct values seen by this process, and "other" past that.
"""
from __future__ import annotations

import threading
from typing import Iterable

from orgpulse.metrics import tag_value

OTHER = "other"


class BoundedValues:
    def __init__(self, allowed: Iterable[str] = (), limit: int = 50):
        self.allowed = frozenset(tag_value(v) for v in allowed)
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, raw: object) -> str:
        value = tag_value(raw)
        if self.allowed:
            return value if value in self.allowed else OTHER
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(value)
                return value
        return OTHER
