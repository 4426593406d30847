"""GitHub rolling 7-day aggregates per repository: incremental, conditional, within a budget.

Through PyGithub's requester (auth, GITHUB_API_URL for Enterprise, its retry of
secondary limits). The first cycle backfills the window; later cycles fetch
only what changed (pulls sorted by update, stopping at the last sync; commits
and runs since the last sync), with If-None-Match so an unchanged page costs a
304 and no rate limit. Workflow runs are fetched by day (`created=YYYY-MM-DD`)
so no query reaches GitHub's 1,000-result cap (a day that does is split into
six-hour windows). Merged PRs' size, comments, reviews and first commit come
from one GraphQL query per 50 PRs, never per-commit calls.

A repository is measured in parts (PARTS; what each reads: parts.py). A part that fails —
an HTTP error, the REST or GraphQL budget spent, a query GitHub rejects — emits nothing and
is counted in orgpulse.collector.errors{reason}; the parts that need it are skipped; every
other part is still emitted. Never reported as zeros. Definitions: aggregates.py. A part
never synced yet (the first cycle's backfill) that the cycle's time or the budget cuts
short is pending, not failed, while the backfill progresses (pollers/github/backfill.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cachetools import TTLCache

from orgpulse import metrics as m
from orgpulse.tags import BoundedValues
from pollers.github.aggregates import RepoState
from pollers.github.app import Installations
from pollers.github.backfill import PAUSES, Backfill, Deadline, Timed
from pollers.github.http import GithubHttp, PartFailed
from pollers.github.parts import RepoParts

log = logging.getLogger("orgpulse.github")


class GithubCollector(RepoParts):
    def __init__(
        self,
        http: GithubHttp | Installations,
        repositories: list[str],
        options: dict[str, Any],
        deployed_at: Callable[[str, str], datetime | None] | None = None,
        deadline: Deadline | None = None,
        backfill: Backfill | None = None,
    ):
        self.deadline, self.backfill = deadline or Deadline(None), backfill or Backfill("github", 4)
        # A token's GithubHttp, or a GitHub App's (pollers/github/app.py); every request checks
        # the cycle's time budget (pollers/github/backfill.py).
        self.http = Timed(http, self.deadline)
        # (repo, sha) → when the first successful production deployment containing it succeeded:
        # DORA's records (pollers/dora/collector.py), for the deploy leg; None while DORA is off.
        self.deployed_at = deployed_at
        self.repositories = repositories
        self.hotfix = re.compile(options.get("hotfix_pattern", r"(?i)\bhot-?fix\b"))
        self.benchmark = re.compile(options.get("benchmark_workflows", r"(?i)bench"))
        self.workflows = BoundedValues(options.get("workflows", []), options.get("max_workflows", 50))
        self.hooks: dict[str, int] = options.get("hooks") or {}  # owner/name -> webhook id
        # GUIDs asked for once (GitHub keeps the GUID); remembered past GitHub's 3-day window.
        self.redelivered: TTLCache = TTLCache(maxsize=10_000, ttl=4 * 86400)
        self.states: dict[str, RepoState] = {}
        self.progress: Callable[[str], None] | None = None  # called with the repository per request

    def report_pages(self, progress: Callable[[str], None]) -> None:
        """Have every request report its repository (the first cycle's backfill on a terminal)."""
        self.progress = progress

    @property
    def requests(self) -> int:
        return self.http.requests

    def _parts(self, repo: str, now: datetime, late: bool, failed: set[str]) -> tuple[list[m.Metric], int]:
        """(metrics of the parts that worked and error counts of those that failed, parts measured)."""
        s = self.states.setdefault(repo, RepoState())
        out, measured = [], 0
        progress = self.progress
        self.http.on_request = (lambda: progress(repo)) if progress else None
        for part, (needs, fetch) in self.PARTS.items():
            if (part in self.LATE) != late or (part == "redeliver" and repo not in self.hooks):
                continue  # not in this phase, or not a part of this repository
            # A failed meta leaves last cycle's default branch usable.
            if any(n in failed and not (n == "meta" and s.default_branch) for n in needs):
                failed.add(part)  # its input failed (and is counted): absent, never computed from stale data
                continue
            backfilling = part not in s.synced  # the time budget bounds backfills only
            try:
                self.deadline.enforced = backfilling
                self.deadline.check()  # once the time is spent, no backfill part begins
                self.deadline.enforced = backfilling and part in self.RESUMABLE  # stops between requests
                metrics = fetch(self, repo, s, now)
            except Exception as exc:  # noqa: BLE001 - this part unmeasured this cycle, its window kept
                failed.add(part)
                if backfilling and isinstance(exc, PAUSES):  # a backfill cut short: resumes next cycle
                    self.paused.add(repo)
                    continue
                reason = exc.reason if isinstance(exc, PartFailed) else "fetch_failed"
                log.warning(
                    "github part failed", extra={"repo": repo, "part": part, "reason": reason, "error": str(exc)[:300]}
                )
                out.append(m.count("orgpulse.collector.errors", collector="github", reason=reason))
                continue
            s.synced[part] = now
            measured += 1
            out += metrics
        return out, measured

    def collect(self, now: datetime) -> list[m.Metric]:
        self.deadline.start()
        self.paused: set[str] = set()  # repositories whose backfill a pause cut short this cycle
        read = {repo: _read(self.states.get(repo)) for repo in self.repositories}
        out, measured = [], 0
        failed: dict[str, set[str]] = {repo: set() for repo in self.repositories}
        for late in (False, True):
            for repo in sorted(self.repositories, key=lambda r: not self._backfilled(r)):  # steady first
                metrics, parts = self._parts(repo, now, late, failed[repo])
                out += metrics
                measured += parts
        out += self.backfill.report(
            {r: _read(self.states.get(r)) > read[r] for r in self.paused},
            [r for r in self.repositories if not self._backfilled(r)],
        )
        if self.repositories and not measured and not self.paused:
            raise RuntimeError("every part of every repository failed")
        return out

    def _backfilled(self, repo: str) -> bool:
        s = self.states.get(repo)
        return s is not None and all(p in s.synced for p in self.PARTS if p != "redeliver" or repo in self.hooks)


def _read(s: RepoState | None) -> int:
    """How much of a repository's window is read and kept: grows while a backfill progresses."""
    return 0 if s is None else sum(map(len, (s.synced, s.pulls, s.details, s.commits, s.runs, s.attempts, s.branches)))
