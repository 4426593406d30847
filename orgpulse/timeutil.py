"""Timestamps as providers send them: ISO 8601 strings ('Z' or offsets) or Unix seconds.

parse_time is total: whatever a sender puts in a timestamp field (1e20, year 10000,
NaN, a list, a 1 MB string) it returns an aware UTC datetime or None — it never
raises, so a hostile value cannot turn a delivery into a 5xx.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

# The Unix seconds a datetime can hold: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
MIN_UNIX = -62135596800
MAX_UNIX = 253402300799
MAX_ISO_LENGTH = 64  # the longest ISO 8601 form with fractions and an offset is ~32


def _from_unix(value: int | float) -> datetime | None:
    if not math.isfinite(value) or not MIN_UNIX <= value <= MAX_UNIX:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):  # platform time_t limits
        return None


def _from_iso(value: str) -> datetime | None:
    if len(value) > MAX_ISO_LENGTH:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        # Normalised to UTC here: an offset at the ends of the range overflows.
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (OverflowError, ValueError):
        return None


def parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):  # already parsed (receiver.payload.View.time)
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _from_unix(value)
    if isinstance(value, str) and value:
        return _from_iso(value)
    return None


def seconds_between(start: object, end: object) -> float | None:
    """end − start in seconds; None when either is missing or the interval is negative."""
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None:
        return None
    delta = (b - a).total_seconds()
    return delta if delta >= 0 else None
