"""Timestamps as providers send them: ISO 8601 strings ('Z' or offsets) or Unix seconds."""
from __future__ import annotations

from datetime import datetime, timezone


def parse_time(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    return None


def seconds_between(start: object, end: object) -> float | None:
    """end − start in seconds; None when either is missing or the interval is negative."""
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None:
        return None
    delta = (b - a).total_seconds()
    return delta if delta >= 0 else None
