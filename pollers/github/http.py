"""The GitHub poller's HTTP: conditional REST GETs within a request budget, and GraphQL
within its own points budget — each failure typed by a bounded `reason`.

REST and GraphQL are limited separately by GitHub: REST by requests per hour
(X-RateLimit-*; a 304 is free), GraphQL by points per hour, reported by the
query's own `rateLimit { cost remaining resetAt }` — so one can be spent while
the other still answers. The poller spends at most `budget_share` of each.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache
from github import GithubException

from orgpulse.timeutil import parse_time

RATE_LIMIT_FIELDS = "rateLimit { cost limit remaining resetAt }"


class PartFailed(RuntimeError):
    """A part of a repository could not be measured; `reason` is the bounded tag value."""

    reason = "fetch_failed"


class BudgetExhausted(PartFailed):
    """The poller's share of the token's hourly budget, or the budget itself, is spent."""

    reason = "budget"


class GraphqlRateLimited(PartFailed):
    """GraphQL's own hourly points are spent (GitHub answers 200 with a RATE_LIMITED error)."""

    reason = "graphql_rate_limited"


class GraphqlRejected(PartFailed):
    """GitHub refused the query itself (unknown field, argument or enum, a pagination bound…)."""

    reason = "graphql_rejected"


class Budget:
    """Requests made in the last hour against share × the token's hourly limit."""

    def __init__(self, share: float, clock: Callable[[], float] = time.time):
        self.share, self.clock = share, clock
        self.limit = 5000
        self.remaining: int | None = None
        self.reset_at = 0.0  # X-RateLimit-Reset: when a spent limit is whole again
        self.sent: collections.deque = collections.deque()

    def spend(self) -> None:
        now = self.clock()
        while self.sent and self.sent[0] < now - 3600:
            self.sent.popleft()
        # A spent limit (remaining 0) is not asked again before its reset; after it, the next
        # answer's headers say what is left (else nothing would ever update `remaining`).
        if (self.remaining == 0 and now < self.reset_at) or len(self.sent) >= self.share * self.limit:
            raise BudgetExhausted(f"{len(self.sent)} requests this hour, limit share {self.share:.0%}")
        self.sent.append(now)

    def observe(self, headers: dict) -> None:
        lower = {k.lower(): v for k, v in headers.items()}
        if "x-ratelimit-limit" in lower:
            self.limit = int(lower["x-ratelimit-limit"])
        if "x-ratelimit-remaining" in lower:
            self.remaining = int(lower["x-ratelimit-remaining"])
        if "x-ratelimit-reset" in lower:
            self.reset_at = float(lower["x-ratelimit-reset"])


class Points:
    """GraphQL points spent in the last hour against share × the hourly points limit, and
    GitHub's own `remaining` until `resetAt` (a spent limit is not asked again before then)."""

    def __init__(self, share: float, clock: Callable[[], float] = time.time):
        self.share, self.clock = share, clock
        self.limit = 5000
        self.remaining: int | None = None
        self.reset_at = 0.0
        self.spent: collections.deque = collections.deque()  # (time, cost)

    def check(self) -> None:
        now = self.clock()
        while self.spent and self.spent[0][0] < now - 3600:
            self.spent.popleft()
        if self.remaining == 0 and now < self.reset_at:
            raise GraphqlRateLimited("GraphQL points spent until resetAt")
        if sum(cost for _, cost in self.spent) >= self.share * self.limit:
            raise BudgetExhausted(f"GraphQL points this hour over the share {self.share:.0%}")

    def observe(self, rate: dict | None) -> None:
        if not rate:
            return
        self.limit = rate.get("limit") or self.limit
        self.remaining = rate.get("remaining")
        reset = parse_time(rate.get("resetAt"))
        self.reset_at = reset.timestamp() if reset else self.reset_at
        self.spent.append((self.clock(), rate.get("cost") or 1))

    def exhausted(self, headers: dict) -> None:
        lower = {k.lower(): v for k, v in (headers or {}).items()}
        self.remaining = 0
        self.reset_at = float(lower.get("x-ratelimit-reset") or self.clock() + 3600)


def _graphql_error(exc: GithubException) -> PartFailed:
    errors = exc.data.get("errors") if isinstance(exc.data, dict) else None
    if exc.status >= 500 or not errors:  # GraphQL is down, not our query
        return PartFailed(f"GraphQL HTTP {exc.status}")
    kinds = {str(e.get("type", "")) for e in errors}
    message = "; ".join(str(e.get("message", ""))[:200] for e in errors[:3])
    if kinds & {"RATE_LIMITED", "RATE_LIMIT"}:
        return GraphqlRateLimited(message)
    return GraphqlRejected(message)


class GithubHttp:
    def __init__(self, requester, share: float, clock: Callable[[], float] = time.time):
        self.requester = requester
        self.budget = Budget(share, clock)
        self.points = Points(share, clock)
        # url+params -> (etag, data, headers). Bounded: steady queries carry a `since` that
        # changes every cycle, so their keys never repeat and must age out.
        self.etags: LRUCache = LRUCache(maxsize=500)
        self.requests = 0
        self.on_request: Callable[[], None] | None = None  # progress on a terminal (poll --once)

    def _count(self) -> None:
        self.requests += 1
        if self.on_request is not None:
            self.on_request()

    def get(self, url: str, params: dict | None = None) -> tuple[Any, dict]:
        key = url + "?" + "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        cached = self.etags.get(key)
        headers = {"If-None-Match": cached[0]} if cached else {}
        self.budget.spend()
        self._count()
        status, resp_headers, body = self.requester.requestJson("GET", url, params, headers)
        self.budget.observe(resp_headers)
        if status == 304 and cached:
            return cached[1], cached[2]
        if status in (403, 429) and self.budget.remaining == 0:
            raise BudgetExhausted(f"GET {url}: HTTP {status}, the REST rate limit is spent")
        if status >= 400:
            raise PartFailed(f"GET {url}: HTTP {status}")
        data = json.loads(body) if body else None
        etag = {k.lower(): v for k, v in resp_headers.items()}.get("etag")
        if etag:
            self.etags[key] = (etag, data, resp_headers)
        return data, resp_headers

    def post(self, url: str) -> int:
        self.budget.spend()
        self._count()
        status, _, _ = self.requester.requestJson("POST", url)
        return status

    def pages(
        self, url: str, params: dict, items: Callable[[Any], list] = lambda d: d, first: tuple[Any, dict] | None = None
    ):
        """Items page by page (per_page 100), following page numbers while Link says next;
        `first` is page 1 when the caller already has it."""
        page = 1
        while True:
            data, headers = first if (first and page == 1) else self.get(url, {**params, "per_page": 100, "page": page})
            yield from items(data)
            link = {k.lower(): v for k, v in headers.items()}.get("link", "")
            if 'rel="next"' not in link:
                return
            page += 1

    def graphql(self, query: str, variables: dict) -> dict:
        """`query` must select RATE_LIMIT_FIELDS at its root: the points budget is read from it."""
        self.points.check()
        self._count()
        try:
            _, data = self.requester.graphql_query(query, variables)
        except GithubException as exc:
            failure = _graphql_error(exc)
            if isinstance(failure, GraphqlRateLimited):
                self.points.exhausted(exc.headers)
            raise failure from None
        self.points.observe(data["data"].get("rateLimit"))
        return data["data"]
