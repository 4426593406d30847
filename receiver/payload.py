"""The typed boundary between a provider's JSON and the handlers.

Handlers never index a payload or call `.get` on it: they ask a View for a value
of the type they need. Senders are hostile or broken often enough (a value nested
1,000 deep where a name belongs, a timestamp of 1e20, `"resource": 1`: tests/receiver/
test_hostile_input.py and test_fuzz.py send such payloads)
that every check lives here, once:

- a lenient View (GitHub, W&B) reads a value of the wrong type or shape as absent,
  so a handler sees None / an empty View / an empty list and can never raise;
- a strict View (each Asana event) refuses it: Malformed, a 400 for a whole
  delivery, or one event counted and skipped in a batch;
- `require` names what a handler cannot do without: absent or wrong → Malformed.

Nothing here calls str() or repr() on a sender's value, so nesting depth never
matters; strings, ids and numbers are bounded before a handler sees them.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, overload

from orgpulse.timeutil import parse_time
from receiver.envelope import Rejected

MAX_ID = 200  # characters of a string id (gids, SHAs, node ids) kept as an id
MAX_COUNT = 2**31 - 1  # DogStatsD values are 32-bit; a larger "count" is not one


class Malformed(Rejected):
    """A value a handler needs is absent or of the wrong type: the delivery is refused (400)."""

    def __init__(self, detail: str):
        super().__init__("malformed", detail)


def _kind(value: Any) -> str:
    return "an array" if isinstance(value, list) else type(value).__name__


class View:
    """A read-only, typed view of one JSON object (anything else reads as an empty one)."""

    __slots__ = ("_data", "_strict", "_where")

    def __init__(self, data: Any, strict: bool = False, where: str = "payload"):
        self._data = data if isinstance(data, dict) else {}
        self._strict = strict
        self._where = where

    def __bool__(self) -> bool:
        return bool(self._data)

    def path(self, key: str) -> str:
        return f"{self._where}.{key}"

    def _get(self, key: str, kinds: tuple[type, ...], what: str) -> Any:
        value = self._data.get(key)
        if (
            value is None
            or (isinstance(value, kinds) and not isinstance(value, bool))
            or (bool in kinds and isinstance(value, bool))
        ):
            return value
        if self._strict:
            raise Malformed(f"{self.path(key)} must be {what}, not {_kind(value)}")
        return None

    def has(self, key: str) -> bool:
        return self._data.get(key) is not None

    def truthy(self, key: str) -> bool:
        """JSON's truthiness of the value (set, non-empty, non-zero), whatever its type."""
        return bool(self._data.get(key))

    def obj(self, key: str) -> View:
        """The object at `key`, or an empty View (absent, null, or — lenient — not an object)."""
        return View(self._get(key, (dict,), "an object"), self._strict, self.path(key))

    def require(self, key: str) -> View:
        """The object at `key`; Malformed if it is absent or not a non-empty object."""
        value = self._data.get(key)
        if not isinstance(value, dict) or not value:
            raise Malformed(f"{self.path(key)} is required and must be an object")
        return View(value, self._strict, self.path(key))

    # A str default gives a str: callers that pass "" need no None check.
    @overload
    def text(self, key: str) -> str | None: ...
    @overload
    def text(self, key: str, default: str) -> str: ...
    @overload
    def text(self, key: str, default: None) -> str | None: ...
    def text(self, key: str, default: str | None = None) -> str | None:
        """A string (any length: messages, names before tag bounding); else `default`."""
        value = self._get(key, (str,), "a string")
        return default if value is None else value

    def require_text(self, key: str) -> str:
        value = self._data.get(key)
        if not isinstance(value, str) or not value:
            raise Malformed(f"{self.path(key)} is required and must be a non-empty string")
        return value

    def ident(self, key: str) -> int | str | None:
        """An id: an integer or a string of at most MAX_ID characters (hashable, bounded)."""
        value = self._get(key, (int, str), "an id")
        if isinstance(value, str) and len(value) > MAX_ID:
            if self._strict:
                raise Malformed(f"{self.path(key)} is longer than {MAX_ID} characters")
            return None
        return value

    def require_ident(self, key: str) -> int | str:
        value = self.ident(key)
        if value is None or value == "":
            raise Malformed(f"{self.path(key)} is required and must be an id")
        return value

    def count(self, key: str) -> int | None:
        """A non-negative integer up to MAX_COUNT (lines, files, attempts); else None."""
        value = self._get(key, (int,), "an integer")
        return value if value is not None and 0 <= value <= MAX_COUNT else None

    def number(self, key: str) -> float | None:
        """A finite int or float; else None."""
        value = self._get(key, (int, float), "a number")
        if value is None or not math.isfinite(value) or abs(value) > 1e300:
            return None
        return float(value)

    def flag(self, key: str) -> bool:
        """True only for JSON true: "false", 1 and [] are not flags."""
        return self._get(key, (bool,), "true or false") is True

    def time(self, key: str) -> datetime | None:
        """An ISO 8601 string or Unix seconds as an aware UTC datetime; None if unreadable."""
        return parse_time(self._get(key, (str, int, float), "a timestamp"))

    def items(self, key: str) -> list[View]:
        """The objects of the array at `key` (lenient: other elements are skipped)."""
        values = self._get(key, (list,), "an array") or []
        out = []
        for i, value in enumerate(values):
            if isinstance(value, dict):
                out.append(View(value, self._strict, f"{self.path(key)}[{i}]"))
            elif self._strict:
                raise Malformed(f"{self.path(key)}[{i}] must be an object, not {_kind(value)}")
        return out

    def texts(self, key: str) -> list[str]:
        """The strings of the array at `key`; other elements are skipped."""
        return [v for v in self._get(key, (list,), "an array") or [] if isinstance(v, str)]
