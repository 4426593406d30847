"""GitHub rolling 7-day aggregates per repository: incremental, conditional, within a budget.

Through PyGithub's requester (auth, GITHUB_API_URL for Enterprise, its retry of
secondary limits). The first cycle backfills the window; later cycles fetch
only what changed (pulls sorted by update, stopping at the last sync; commits
and runs since the last sync), with If-None-Match so an unchanged page costs a
304 and no rate limit. Workflow runs are fetched by day (`created=YYYY-MM-DD`)
so no query reaches GitHub's 1,000-result cap (a day that does is split into
six-hour windows). Merged PRs' size, comments, reviews and first commit come
from one GraphQL query per 50 PRs, never per-commit calls.

A repository is measured in parts (PARTS). A part that fails — an HTTP error,
the REST or GraphQL budget spent, a query GitHub rejects — emits nothing and is
counted in orgpulse.collector.errors{reason}; the parts that need it are skipped;
every other part is still emitted. Never reported as zeros. Definitions: aggregates.py. A part
never synced yet (the first cycle's backfill) that the cycle's time or the budget cuts
short is pending, not failed, while the backfill progresses (pollers/github/backfill.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cachetools import TTLCache

from orgpulse import metrics as m
from orgpulse.definitions import FAILED
from orgpulse.statistics import before, within
from orgpulse.tags import BoundedValues
from orgpulse.timeutil import parse_time
from pollers.github import aggregates as gm
from pollers.github.aggregates import STALE as STALE_BRANCH
from pollers.github.aggregates import WEEK, RepoState
from pollers.github.app import Installations
from pollers.github.backfill import PAUSES, Backfill, Deadline, Timed
from pollers.github.http import RATE_LIMIT_FIELDS, GithubHttp, PartFailed

log = logging.getLogger("orgpulse.github")

OVERLAP = timedelta(minutes=5)
GRAPHQL_BATCH = 50
BRANCH_REFRESH = timedelta(hours=1)
# A re-run keeps its run's created_at, so no `created=` query sees it: a run whose latest
# attempt failed is re-read (a free 304 while unchanged) for this long after it failed.
RERUN_WATCH = timedelta(hours=6)
# totalCommentsCount is discussion + review comments (comments{totalCount} is the discussion
# only); a review author's __typename tells a Bot, whose GraphQL login has no "[bot]";
# reviews come oldest first, with submittedAt (the pickup and review legs).
PR_FIELDS = (
    "additions deletions changedFiles totalCommentsCount "
    "reviews(first: 50) { nodes { author { __typename login } submittedAt } } "
    "commits(first: 1) { nodes { commit { authoredDate } } }"
)
BRANCHES_QUERY = (
    "query($owner: String!, $name: String!, $cursor: String) { "
    + RATE_LIMIT_FIELDS
    + ' repository(owner: $owner, name: $name) { refs(refPrefix: "refs/heads/", first: 100, '
    "after: $cursor, orderBy: {field: TAG_COMMIT_DATE, direction: DESC}) { nodes { name target { "
    "... on Commit { committedDate } } } pageInfo { hasNextPage endCursor } } } }"
)
ATTEMPT_FIELDS = ("id", "workflow_id", "name", "head_sha", "run_attempt", "conclusion", "updated_at")


def _attempt(run: dict) -> dict:
    return {k: run.get(k) for k in ATTEMPT_FIELDS}


class GithubCollector:
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

    # ------------------------------------------------------------ parts
    def _meta(self, repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
        meta, _ = self.http.get(f"/repos/{repo}")
        s.default_branch = meta["default_branch"]
        return []

    def _pulls(self, repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
        base, synced = f"/repos/{repo}/pulls", s.synced.get("pulls")
        if synced is None:
            for pr in self.http.pages(base, {"state": "open"}):
                s.pulls[pr["number"]] = pr
            stop = now - WEEK
            params = {"state": "closed", "sort": "updated", "direction": "desc"}
        else:
            stop = synced - OVERLAP
            params = {"state": "all", "sort": "updated", "direction": "desc"}
        for pr in self.http.pages(base, params):
            if parse_time(pr["updated_at"]) < stop:
                break  # sorted by update: everything further is older
            s.pulls[pr["number"]] = pr
        for number, pr in list(s.pulls.items()):  # slide: keep open ones and last week's closes
            if pr["state"] == "closed" and before(pr.get("closed_at"), now, WEEK):
                del s.pulls[number]
                s.details.pop(number, None)
        return gm.pr_counts(repo, s, now)

    def _details(self, repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
        owner, name = repo.split("/")
        wanted = [n for n, pr in s.pulls.items() if pr.get("merged_at") and n not in s.details]
        for i in range(0, len(wanted), GRAPHQL_BATCH):
            batch = wanted[i : i + GRAPHQL_BATCH]
            body = " ".join(f"pr{n}: pullRequest(number: {n}) {{ {PR_FIELDS} }}" for n in batch)
            query = (
                f"query($owner: String!, $name: String!) {{ {RATE_LIMIT_FIELDS} "
                f"repository(owner: $owner, name: $name) {{ {body} }} }}"
            )
            data = self.http.graphql(query, {"owner": owner, "name": name})["repository"]
            s.details.update({n: data[f"pr{n}"] for n in batch if data.get(f"pr{n}")})
        return gm.pr_details(repo, s, now, self.deployed_at)

    def _commits(self, repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
        since = (s.synced["commits"] - OVERLAP) if "commits" in s.synced else now - WEEK
        for c in self.http.pages(
            f"/repos/{repo}/commits", {"sha": s.default_branch, "since": since.strftime("%Y-%m-%dT%H:%M:%SZ")}
        ):
            s.commits[c["sha"]] = c
        for sha in [k for k, c in s.commits.items() if parse_time(c["commit"]["committer"]["date"]) < now - WEEK]:
            del s.commits[sha]
        return gm.commit_metrics(repo, s, self.hotfix)

    def _run_queries(self, s: RepoState, now: datetime) -> list[str]:
        synced = s.synced.get("runs")
        if synced is not None:
            incomplete = [parse_time(r["created_at"]) for r in s.runs.values() if r.get("status") != "completed"]
            since = min([synced - OVERLAP, *incomplete])
            return [">=" + since.strftime("%Y-%m-%dT%H:%M:%SZ")]
        return [(now - timedelta(days=d)).date().isoformat() for d in range(7, -1, -1)]

    def _runs(self, repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
        url = f"/repos/{repo}/actions/runs"
        queries, listed = self._run_queries(s, now), set()
        while queries:
            created = queries.pop(0)
            first = self.http.get(url, {"created": created, "per_page": 100, "page": 1})
            if first[0]["total_count"] > 1000 and ".." not in created and not created.startswith(">="):
                day = datetime.fromisoformat(created)  # split the day into 6-hour windows
                queries = [
                    f"{(day + timedelta(hours=h)).strftime('%Y-%m-%dT%H:%M:%SZ')}.."
                    f"{(day + timedelta(hours=h + 6, seconds=-1)).strftime('%Y-%m-%dT%H:%M:%SZ')}"
                    for h in range(0, 24, 6)
                ] + queries
                continue
            for run in self.http.pages(url, {"created": created}, lambda d: d["workflow_runs"], first):
                s.runs[run["id"]] = run
                listed.add(run["id"])
        if "runs" in s.synced:
            for run in [
                r
                for i, r in s.runs.items()
                if i not in listed and r.get("conclusion") in FAILED and within(r.get("updated_at"), now, RERUN_WATCH)
            ]:
                s.runs[run["id"]], _ = self.http.get(f"{url}/{run['id']}")
        for run_id in [i for i, r in s.runs.items() if parse_time(r["created_at"]) < now - WEEK]:
            del s.runs[run_id]
        s.attempts = {k: a for k, a in s.attempts.items() if k[0] in s.runs}
        s.attempts.update(
            {
                (r["id"], r.get("run_attempt") or 1): _attempt(r)
                for r in s.runs.values()
                if r.get("status") == "completed"
            }
        )
        return gm.ci_metrics(repo, s, self.benchmark, self.workflows)

    def _attempts(self, repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
        """Earlier attempts of runs re-run to success (the list shows only the latest attempt),
        newest first until a failed one: that settles whether the run was flaky. Each is
        fetched once — a finished attempt never changes. Runs whose latest attempt failed are
        not asked: only a pass between two failures (rare) would make them flaky by themselves,
        and a later pass on the same SHA is seen anyway."""
        for run in [r for r in s.runs.values() if r.get("conclusion") == "success"]:
            for k in range((run.get("run_attempt") or 1) - 1, 0, -1):
                if (run["id"], k) not in s.attempts:
                    data, _ = self.http.get(f"/repos/{repo}/actions/runs/{run['id']}/attempts/{k}")
                    s.attempts[(run["id"], k)] = _attempt(data)
                if s.attempts[(run["id"], k)].get("conclusion") in FAILED:
                    break
        return gm.flaky_metrics(repo, s)

    def _force_pushes(self, repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
        s.force_pushes = [
            a["timestamp"]
            for a in self.http.pages(f"/repos/{repo}/activity", {"activity_type": "force_push", "time_period": "week"})
        ]
        return gm.force_push_metrics(repo, s, now)

    def _branches(self, repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
        """Branches newest commit first, page by page until one is older than 14 days:
        a busy repository's active branches are not capped at one page of 100. GraphQL
        has no conditional requests, and a 14-day figure moves slowly: refreshed hourly."""
        if s.branches_at is None or now - s.branches_at >= BRANCH_REFRESH:
            owner, name = repo.split("/")
            branches, cursor = [], None
            while True:
                refs = self.http.graphql(BRANCHES_QUERY, {"owner": owner, "name": name, "cursor": cursor})[
                    "repository"
                ]["refs"]
                branches += [(n["name"], (n.get("target") or {}).get("committedDate")) for n in refs["nodes"]]
                if not refs["pageInfo"]["hasNextPage"] or before(branches[-1][1], now, STALE_BRANCH):
                    break
                cursor = refs["pageInfo"]["endCursor"]
            s.branches, s.branches_at = branches, now
        return gm.branch_metrics(repo, s, now)

    def _redeliver(self, repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
        """Ask GitHub to redeliver the hook's failed deliveries of the last 3 days (GitHub's
        own window; it never retries by itself), once per GUID that never succeeded."""
        hook = self.hooks.get(repo)
        if not hook:
            return []
        recent, _ = self.http.get(f"/repos/{repo}/hooks/{hook}/deliveries", {"per_page": 100})
        succeeded = {d["guid"] for d in recent if 200 <= (d.get("status_code") or 0) < 300}
        wanted = {
            d["guid"]: d
            for d in recent
            if not 200 <= (d.get("status_code") or 0) < 300
            and d["guid"] not in succeeded
            and d["guid"] not in self.redelivered
            and within(d["delivered_at"], now, timedelta(days=3))
        }
        for guid, d in wanted.items():
            if self.http.post(f"/repos/{repo}/hooks/{hook}/deliveries/{d['id']}/attempts") < 300:
                self.redelivered[guid] = True
        asked = sum(guid in self.redelivered for guid in wanted)
        return [m.count("github.deliveries.redelivered", asked, repo=repo)] if asked else []

    # part → (the parts it needs this cycle, what fetches it and returns its metrics)
    PARTS: dict[str, tuple[tuple[str, ...], Callable]] = {
        "meta": ((), _meta),
        "pulls": ((), _pulls),
        "details": (("pulls",), _details),  # GraphQL
        "commits": (("meta",), _commits),
        "runs": (("meta",), _runs),
        "force_pushes": ((), _force_pushes),
        "branches": ((), _branches),  # GraphQL
        "redeliver": ((), _redeliver),
        "attempts": (("runs",), _attempts),
    }
    # Earlier attempts are many at a busy repository's first cycle (one per re-run): they get
    # what budget every repository's other parts left, and resume next cycle from what was fetched.
    LATE = frozenset({"attempts"})
    # Parts that keep what they read as they go (details per 50 PRs, each earlier attempt): a
    # backfill may stop them between requests. The others restart from their window's start,
    # so once started they run to the end, and the time budget only keeps them from starting.
    RESUMABLE = frozenset({"details", "attempts"})

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
