"""What GitHub handlers share: bounded tag values, patterns, a small memory, and pure helpers."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Hashable

from cachetools import TTLCache

from orgpulse.definitions import author_type  # noqa: F401 - handlers import it from here
from orgpulse.options import SCHEMA
from orgpulse.tags import BoundedValues

WEEK = 7 * 24 * 3600


class Recall:
    """A bounded, expiring memory of facts a single delivery cannot carry
    (was this PR reviewed before? did this check fail on this commit before?)."""

    def __init__(self, maxsize: int = 50_000, ttl: float = WEEK):
        self._items: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()  # gthread workers share one context

    def first(self, key: Hashable) -> bool:
        """True the first time `key` is seen, then False until it expires."""
        with self._lock:
            if key in self._items:
                return False
            self._items[key] = True
            return True

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value

    def pop(self, key: Hashable) -> Any:
        with self._lock:
            return self._items.pop(key, None)


@dataclass
class GithubContext:
    repos: BoundedValues
    workflows: BoundedValues
    environments: BoundedValues
    hotfix: re.Pattern
    benchmark: re.Pattern
    recall: Recall
    # The `dora:` section (production pattern, deploy workflows, incident label).
    dora: dict[str, Any] = field(default_factory=lambda: dora_options({}))

    @classmethod
    def from_options(cls, gh: dict[str, Any], dora: dict[str, Any] | None = None) -> "GithubContext":
        return cls(
            repos=BoundedValues(gh.get("repositories", []), gh.get("max_repositories", 200)),
            workflows=BoundedValues(gh.get("workflows", []), gh.get("max_workflows", 50)),
            environments=BoundedValues(gh.get("environments", []), gh.get("max_environments", 20)),
            hotfix=re.compile(gh.get("hotfix_pattern", r"(?i)\bhot-?fix\b")),
            benchmark=re.compile(gh.get("benchmark_workflows", r"(?i)bench")),
            recall=Recall(),
            dora=dora_options(dora or {}),
        )

    def repo(self, payload: dict) -> str:
        return self.repos((payload.get("repository") or {}).get("full_name", "unknown"))


def dora_options(given: dict[str, Any]) -> dict[str, Any]:
    """The `dora:` section with its defaults filled (tests may give a part of it)."""
    return {**{k: o.default for k, o in SCHEMA["dora"].items()}, **given}


def branch_type(branch: str | None, payload: dict) -> str:
    default = (payload.get("repository") or {}).get("default_branch")
    return "default" if branch and branch == default else "other"
