"""Value checks for the YAML schema (orgpulse/options/): each returns a problem, or None."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], "str | None"]


def is_(kind: type, what: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        return None if ok else f"must be {what}, got {value!r}"

    return check


def str_list(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(v, str) and v for v in value):
        return None
    return f"must be a list of non-empty strings, got {value!r}"


def regex(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be a regular expression string, got {value!r}"
    try:
        re.compile(value)
    except re.error as exc:
        return f"invalid regular expression {value!r}: {exc}"
    return None


def at_least(minimum: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        bad = is_(int, "an integer")(value)
        return bad or (None if value >= minimum else f"must be >= {minimum}, got {value}")

    return check


def one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {list(choices)}, got {value!r}"

    return check


def sections(value: Any) -> str | None:
    if isinstance(value, dict) and all(isinstance(k, str) and not str_list(v) for k, v in value.items()):
        return None
    return f"must map a bucket name to a list of section names, got {value!r}"


def slash_pairs(form: str) -> Callable[[Any], str | None]:
    """A list of 'a/b' strings: owner/name repositories, entity/project W&B projects."""

    def check(value: Any) -> str | None:
        bad = str_list(value)
        if bad:
            return bad
        wrong = [v for v in value if v.count("/") != 1]
        return f"entries must be {form}, got {wrong!r}" if wrong else None

    return check
