"""Bounded tag values: a tag may only take a known, capped set of values.

Repository, workflow and environment names come from payloads. Each distinct
value is a new custom metric in Datadog, so a tag fed from a payload goes
through a BoundedValues: an allow-list when one is configured, otherwise the
first `limit` distinct values seen by this process, and "other" past that.

A value that cannot be what the tag means (a number or a SHA for a workflow, no
owner/name for a repo, not a string at all) is "other" at once and never takes
one of the `limit` slots: senders cannot spend the cap on junk (a hostile sender would
otherwise fill it with made-up names before the real ones arrive).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable

from orgpulse.metrics import tag_value

OTHER = "other"
# Placeholders handlers use for an absent value: passed through, never a cap slot.
RESERVED = frozenset({OTHER, "unknown", "unnamed", "none"})
MAX_RAW = 200  # longer text is not a name anyone gave a repo, workflow or project

Shape = Callable[[str], bool]

_OWNER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
_ENTITY_PROJECT = re.compile(r"[A-Za-z0-9_.-]{1,128}/[A-Za-z0-9_.-]{1,128}")
_HEX = re.compile(r"[0-9a-fA-F]{7,64}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def any_value(text: str) -> bool:
    return True


def owner_name(text: str) -> bool:
    """A GitHub repository: owner (≤ 39 letters, digits, hyphens) / name."""
    return _OWNER_NAME.fullmatch(text) is not None


def entity_project(text: str) -> bool:
    """A W&B project: entity/project, letters, digits, '_', '-', '.'."""
    return _ENTITY_PROJECT.fullmatch(text) is not None


def human_name(text: str) -> bool:
    """A name a person gave (workflow, environment, project): printable, ≤ 100
    characters, and not a number, a commit SHA or a UUID."""
    if not text or len(text) > 100 or not text.isprintable() or text.isdigit():
        return False
    if _UUID.fullmatch(text):
        return False
    return not (_HEX.fullmatch(text) and any(c.isdigit() for c in text))


class BoundedValues:
    def __init__(self, allowed: Iterable[str] = (), limit: int = 50, shape: Shape = any_value):
        self.allowed = frozenset(tag_value(v) for v in allowed)
        self.limit = limit
        self.shape = shape
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, raw: object) -> str:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str) or len(raw) > MAX_RAW:
            return OTHER  # never str() a sender's structure: it may be nested 1,000 deep
        value = tag_value(raw)
        if value in RESERVED:
            return value
        if self.allowed:  # configured by the operator: trusted as written
            return value if value in self.allowed else OTHER
        if not self.shape(raw.strip()):
            return OTHER
        if value in self._seen:
            return value
        with self._lock:
            if len(self._seen) < self.limit:
                self._seen.add(value)
                return value
        return OTHER
