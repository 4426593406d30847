"""What GitHub handlers share: bounded tag values, patterns, a small memory, and pure helpers."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    (was this PR reviewed before? did this check fail on this commit before?).
    `shared` (a claim store every replica sees: receiver/dedup.SharedDedup) makes
    first() true once across replicas — a deployment, an incident, a first review
    counted once, whichever replica GitHub's delivery reaches. What put/pop hold
    (a failure awaiting its re-run, a review awaiting its merge) stays per replica."""

    def __init__(self, maxsize: int = 50_000, ttl: float = WEEK, shared=None):
        self._items: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()  # gthread workers share one context
        self.shared = shared

    def first(self, key: Hashable) -> bool:
        """True the first time `key` is seen, then False until it expires."""
        with self._lock:
            k = _digest(key)
            if k in self._items:
                return False
            self._items[k] = True
        return self.shared is None or self.shared.claim(f"github-first:{k}")

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[_digest(key)] = value

    def pop(self, key: Hashable) -> Any:
        with self._lock:
            return self._items.pop(_digest(key), None)

    def keep_earliest(self, key: Hashable, value: Any) -> None:
        """Hold `value` under `key` unless an earlier one is held (the first review's time)."""
        with self._lock:
            k = _digest(key)
            held = self._items.get(k)
            if held is None or value < held:
                self._items[k] = value


class Merges:
    """Per repository, the merges this receiver saw that no production deployment has shipped
    yet (merge commit SHA → merged at, the PR's author_type), for the deploy leg. Bounded:
    `per_repo` newest merges of the `repos` repositories seen last, a week at most."""

    def __init__(self, per_repo: int = 1000, repos: int = 1000, ttl: float = WEEK):
        self.per_repo, self.repos, self.ttl = per_repo, repos, ttl
        self._by_repo: OrderedDict[Hashable, OrderedDict[str, tuple[datetime, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, repo: Hashable, sha: str, merged_at: datetime, author: str) -> None:
        with self._lock:
            merges = self._by_repo.setdefault(repo, OrderedDict())
            self._by_repo.move_to_end(repo)
            merges[sha] = (merged_at, author)
            while len(merges) > self.per_repo:
                merges.popitem(last=False)
            while len(self._by_repo) > self.repos:
                self._by_repo.popitem(last=False)

    def shipped(self, repo: Hashable, sha: str | None, at: datetime) -> list[tuple[datetime, str]]:
        """What a production deployment of `sha` at `at` shipped: the merge whose merge commit
        `sha` is and every earlier one not shipped yet (merges reach the default branch one
        after another), each forgotten once returned. A SHA that is no merge seen: nothing."""
        with self._lock:
            merges = self._by_repo.get(repo)
            if merges is None or sha is None or sha not in merges:
                return []
            until = merges[sha][0]
            out = [v for k, v in merges.items() if v[0] <= until]
            for k in [k for k, v in merges.items() if v[0] <= until]:
                del merges[k]
        return [(t, author) for t, author in out if (at - t).total_seconds() <= self.ttl]


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
    merges: Merges = field(default_factory=Merges)  # the deploy leg's memory

    @classmethod
    def from_options(cls, gh: dict[str, Any], dora: dict[str, Any] | None = None, shared=None) -> GithubContext:
        return cls(
            repos=BoundedValues(gh.get("repositories", []), gh.get("max_repositories", 200), owner_name),
            workflows=BoundedValues(gh.get("workflows", []), gh.get("max_workflows", 50), human_name),
            environments=BoundedValues(gh.get("environments", []), gh.get("max_environments", 20), human_name),
            hotfix=re.compile(gh.get("hotfix_pattern", r"(?i)\bhot-?fix\b")),
            benchmark=re.compile(gh.get("benchmark_workflows", r"(?i)bench")),
            recall=Recall(shared=shared),
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
