"""The statistics every poller computes the same way: the nearest-rank percentile of a list of
values, and whether a moment falls within a rolling window that ends now (or before it).

One implementation each, so a p90 or a "_7d" means the same thing whichever source it comes
from (GitHub, DORA, Asana, W&B, SkyPilot).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

from orgpulse.timeutil import parse_time


def percentile(values: Iterable[float], q: float) -> float:
    """The nearest-rank percentile: the smallest value with at least a share q (0 < q <= 1)
    of the values at or below it — always one of the values, never an interpolation.
    Raises ValueError on no values: a figure over nothing is not sent (never a 0)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("the percentile of no values")
    # q·n rounded first: 0.07 × 100 is 7.000000000000001 in binary, whose ceiling would skip a rank.
    rank = math.ceil(round(q * len(ordered), 9))
    return ordered[max(0, rank - 1)]


def within(moment: object, now: datetime, span: timedelta) -> bool:
    """Whether `moment` (an ISO 8601 string, Unix seconds or a datetime; None never is) falls in
    the window of length `span` that ends at `now`: now − span < moment <= now. A moment after
    `now` — a record a cycle read after it began — belongs to the next cycle's window, so a
    cycle's figures depend on its records and `now` alone, not on how long its reads took."""
    t = parse_time(moment)
    return t is not None and now - span < t <= now


def before(moment: object, now: datetime, span: timedelta) -> bool:
    """Whether `moment` has left (or never had) the window that ends at `now`: missing, or at
    or before now − span. What a collector forgets, or where it stops paging back in time;
    a moment after `now` is not before the window, it is the next one's."""
    t = parse_time(moment)
    return t is None or t <= now - span
