"""Field-by-field differences between a definition and the live object.

What orgpulse sets is compared: every key of the definition, recursively, and
every list element by position (a widget added, removed or moved in the UI shows
as a difference). Lists of plain values (tags, monitor ids) compare as sets,
since the API may return them in another order. Keys only the server sets (ids,
timestamps, authors) and fields orgpulse never sets are not compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

MISSING = "<absent>"


def _scalars(values: list) -> bool:
    return all(not isinstance(v, (dict, list)) for v in values)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)  # 72 and 72.0 are one threshold
    return a == b


def differences(desired: Any, live: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, live value, desired value) for every place where live differs."""
    if isinstance(desired, dict) and isinstance(live, dict):
        for key, value in desired.items():
            where = f"{path}.{key}" if path else key
            if key not in live or live[key] is None and value is not None:
                yield where, MISSING, value
            else:
                yield from differences(value, live[key], where)
    elif isinstance(desired, list) and isinstance(live, list):
        if _scalars(desired) and _scalars(live):
            if sorted(map(json.dumps, desired)) != sorted(map(json.dumps, live)):
                yield path, live, desired
            return
        for i, value in enumerate(desired[: len(live)]):
            yield from differences(value, live[i], f"{path}[{i}]")
        for i in range(len(live), len(desired)):
            yield f"{path}[{i}]", MISSING, desired[i]
        for i in range(len(desired), len(live)):
            yield f"{path}[{i}]", live[i], MISSING
    elif not _same(desired, live):
        yield path, live, desired


def short(value: Any, limit: int = 100) -> str:
    text = value if value is MISSING else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
