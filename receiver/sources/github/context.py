"""What GitHub handlers share: bounded tag values, patterns, a small memory, and pure helpers."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Hashable

from cachetools import TTLCache

from orgpulse import definitions
from orgpulse.options import SCHEMA
from orgpulse.tags import BoundedValues, human_name, owner_name
from receiver.dedup import digest
from receiver.payload import View

WEEK = 7 * 24 * 3600


def _digest(key: Hashable) -> int:
    """Keys hold senders' strings (check names, SHAs): kept as 64-bit digests, so a
    week of them stays small whatever the senders wrote (keys are typed values)."""
    return digest(repr(key))


class Recall:
    """A bounded, expiring memory of facts a single delivery cannot carry
    (was this PR reviewed before? did this check fail on this commit before?)."""

    def __init__(self, maxsize: int = 50_000, ttl: float = WEEK):
        self._items: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()  # gthread workers share one context

    def first(self, key: Hashable) -> bool:
        """True the first time `key` is seen, then False until it expires."""
        with self._lock:
            k = _digest(key)
            if k in self._items:
                return False
            self._items[k] = True
            return True

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[_digest(key)] = value

    def pop(self, key: Hashable) -> Any:
        with self._lock:
            return self._items.pop(_digest(key), None)


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
            repos=BoundedValues(gh.get("repositories", []), gh.get("max_repositories", 200),
                                owner_name),
            workflows=BoundedValues(gh.get("workflows", []), gh.get("max_workflows", 50),
                                    human_name),
            environments=BoundedValues(gh.get("environments", []), gh.get("max_environments", 20),
                                       human_name),
            hotfix=re.compile(gh.get("hotfix_pattern", r"(?i)\bhot-?fix\b")),
            benchmark=re.compile(gh.get("benchmark_workflows", r"(?i)bench")),
            recall=Recall(),
            dora=dora_options(dora or {}),
        )

    def repo(self, payload: View) -> str:
        return self.repos(payload.obj("repository").text("full_name", "unknown"))


def dora_options(given: dict[str, Any]) -> dict[str, Any]:
    """The `dora:` section with its defaults filled (tests may give a part of it)."""
    return {**{k: o.default for k, o in SCHEMA["dora"].items()}, **given}


def author_type(user: View) -> str:
    """The shared definition (orgpulse.definitions), given only typed fields."""
    return definitions.author_type({k: user.text(k) for k in ("type", "__typename", "login")})


def branch_type(branch: str | None, payload: View) -> str:
    default = payload.obj("repository").text("default_branch")
    return "default" if branch and branch == default else "other"
