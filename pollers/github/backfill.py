"""A first-cycle backfill longer than a cycle: stop in time, resume next cycle, and tell a
backfill that progresses from one that fails.

The github and dora collectors read days (dora: 30) of history at their first cycle. A
busy organisation needs more requests than one cycle's time or the hourly budget allows,
so a backfill spans cycles. Each cycle a collector

- stops sending a backfill's requests once its time budget (a share of
  `poller.collector_timeout_seconds`) is spent — `Deadline`, checked before every request
  through `Timed` — so it returns before the poller's timeout, with what it read kept for
  the next cycle. Steady work (a repository, or a part, already backfilled) is never cut:
  it is small, and a backfill elsewhere must not make it fail;
- reports a repository whose backfill was cut short by time or by the request budget as
  *pending*, not as an error, while the cut-short cycles make progress (`Backfill`): the
  collector's success stays 1, `orgpulse.collector.backfill_pending{collector}` says how many
  repositories are still backfilling, and `collector_failing` does not page for hours of an
  expected backfill;
- counts `orgpulse.collector.errors{reason:backfill_stalled}` once a repository's backfill has
  made no progress for `poller.backfill_stall_cycles` cycles in a row: that pages.

A repository still backfilling sends nothing for what it has not read: never a zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from orgpulse import metrics as m
from pollers.github.http import BudgetExhausted, GithubHttp, GraphqlRateLimited, PartFailed

TIME_SHARE = 0.75  # of the collector's timeout: the rest is for computing and emitting


class OutOfTime(PartFailed):
    """The cycle's time budget is spent: nothing more is asked this cycle."""

    reason = "time_budget"


# Limits a backfill waits out; any other failure (a 401, a 5xx) is an error at once.
PAUSES = (OutOfTime, BudgetExhausted, GraphqlRateLimited)


class Deadline:
    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic):
        self.seconds, self.clock = seconds, clock
        self.ends: float | None = None
        self.enforced = True  # the collector turns it off for steady work

    def start(self) -> None:
        self.ends = None if self.seconds is None else self.clock() + self.seconds

    def passed(self) -> bool:
        return self.ends is not None and self.clock() >= self.ends

    def check(self) -> None:
        if self.enforced and self.passed():
            raise OutOfTime(f"the cycle's {self.seconds:.0f} s are spent")


class Timed:
    """An API client (GithubHttp, or anything with its get/post/graphql/pages) whose every
    request first checks the deadline. Everything else, attributes included, is the client's."""

    def __init__(self, api: Any, deadline: Deadline):
        object.__setattr__(self, "_api", api)
        object.__setattr__(self, "deadline", deadline)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._api, name, value)

    def get(self, *args, **kwargs):
        self.deadline.check()
        return self._api.get(*args, **kwargs)

    def post(self, *args, **kwargs):
        self.deadline.check()
        return self._api.post(*args, **kwargs)

    def graphql(self, *args, **kwargs):
        self.deadline.check()
        return self._api.graphql(*args, **kwargs)

    def pages(self, *args, **kwargs):
        """GithubHttp's paging run over this wrapper's `get` (a GitHub App's Installations has
        the same `get`): the deadline is checked before each page is asked for — never between
        the items of a page already read, which would then be read again."""
        return GithubHttp.pages(self, *args, **kwargs)


class Backfill:
    """Per repository of one collector: consecutive cut-short cycles without progress."""

    def __init__(self, collector: str, stall_cycles: int):
        self.collector, self.stall_cycles = collector, stall_cycles
        self.stalled: dict[str, int] = {}

    def paused(self, key: str, progressed: bool) -> list[m.Metric]:
        """A backfill cut short by a pause this cycle: nothing while it progresses or has
        stalled for fewer than `stall_cycles` cycles; else the error backfill_stalled."""
        self.stalled[key] = 0 if progressed else self.stalled.get(key, 0) + 1
        if self.stalled[key] < self.stall_cycles:
            return []
        return [m.count("orgpulse.collector.errors", collector=self.collector, reason="backfill_stalled")]

    def report(self, progressed: dict[str, bool], pending: list[str]) -> list[m.Metric]:
        """The end of a cycle: `progressed` — each key a pause cut short → whether it read
        more; `pending` — the keys still backfilling. Sent every cycle (0 once all are done)."""
        out = [x for key, moved in sorted(progressed.items()) for x in self.paused(key, moved)]
        self.stalled = {k: n for k, n in self.stalled.items() if k in pending}
        return out + [m.gauge("orgpulse.collector.backfill_pending", len(pending), collector=self.collector)]
