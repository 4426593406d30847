"""GitHub rolling 7-day aggregates per repository: incremental, conditional, within a budget.

Through PyGithub's requester (auth, GITHUB_API_URL for Enterprise, its retry of
secondary limits). The first cycle backfills the window; later cycles fetch
only what changed (pulls sorted by update, stopping at the last sync; commits
and runs since the last sync), with If-None-Match so an unchanged page costs a
304 and no rate limit. Workflow runs are fetched by day (`created=YYYY-MM-DD`)
so no query reaches GitHub's 1,000-result cap (a day that does is split into
six-hour windows). Merged PRs' size, comments, reviews and first commit come
from one GraphQL query per 50 PRs, never per-commit calls (seed P1). The poller
spends at most `budget_share` of the token's hourly limit; past it, or with the
limit exhausted, a part is skipped and counted — never reported as zeros.
Definitions fix the seed's W1–W8 (see README).
"""
from __future__ import annotations

import collections
import json
import re
import time
from datetime import datetime, timedelta
from typing import Any, Callable

from cachetools import LRUCache, TTLCache

from orgpulse import metrics as m
from orgpulse.tags import BoundedValues
from orgpulse.timeutil import parse_time
from pollers.github_metrics import STALE as STALE_BRANCH
from pollers.github_metrics import WEEK, repo_metrics, within

OVERLAP = timedelta(minutes=5)
GRAPHQL_BATCH = 50
BRANCH_REFRESH = timedelta(hours=1)


class BudgetExhausted(RuntimeError):
    """The poller's share of the token's hourly budget, or the budget itself, is spent."""


class Budget:
    """Requests made in the last hour against share × the token's hourly limit."""

    def __init__(self, share: float, clock: Callable[[], float] = time.time):
        self.share, self.clock = share, clock
        self.limit = 5000
        self.remaining: int | None = None
        self.sent: collections.deque = collections.deque()

    def spend(self) -> None:
        now = self.clock()
        while self.sent and self.sent[0] < now - 3600:
            self.sent.popleft()
        if self.remaining == 0 or len(self.sent) >= self.share * self.limit:
            raise BudgetExhausted(f"{len(self.sent)} requests this hour, limit share {self.share:.0%}")
        self.sent.append(now)

    def observe(self, headers: dict) -> None:
        lower = {k.lower(): v for k, v in headers.items()}
        if "x-ratelimit-limit" in lower:
            self.limit = int(lower["x-ratelimit-limit"])
        if "x-ratelimit-remaining" in lower:
            self.remaining = int(lower["x-ratelimit-remaining"])


class RepoState:
    def __init__(self):
        self.default_branch = "main"
        self.pulls: dict[int, dict] = {}
        self.details: dict[int, dict] = {}
        self.commits: dict[str, dict] = {}
        self.runs: dict[int, dict] = {}
        self.force_pushes: list[str] = []
        self.branches: list[tuple[str, str]] = []
        self.branches_at: datetime | None = None
        self.synced: datetime | None = None


class GithubCollector:
    def __init__(self, requester, repositories: list[str], options: dict[str, Any],
                 clock: Callable[[], float] = time.time):
        self.requester = requester
        self.repositories = repositories
        self.hotfix = re.compile(options.get("hotfix_pattern", r"(?i)\bhot-?fix\b"))
        self.benchmark = re.compile(options.get("benchmark_workflows", r"(?i)bench"))
        self.budget = Budget(options.get("budget_share", 0.10), clock)
        self.workflows = BoundedValues(options.get("workflows", []), options.get("max_workflows", 50))
        self.hooks: dict[str, int] = options.get("hooks") or {}  # owner/name -> webhook id
        # GUIDs asked for once (GitHub keeps the GUID); remembered past GitHub's 3-day window.
        self.redelivered: TTLCache = TTLCache(maxsize=10_000, ttl=4 * 86400)
        self.states: dict[str, RepoState] = {}
        # url+params -> (etag, data, headers). Bounded: steady queries carry a `since` that
        # changes every cycle, so their keys never repeat and must age out.
        self.etags: LRUCache = LRUCache(maxsize=500)
        self.requests = 0

    # ------------------------------------------------------------ HTTP
    def get(self, url: str, params: dict | None = None) -> tuple[Any, dict]:
        key = url + "?" + "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        cached = self.etags.get(key)
        headers = {"If-None-Match": cached[0]} if cached else {}
        self.budget.spend()
        self.requests += 1
        status, resp_headers, body = self.requester.requestJson("GET", url, params, headers)
        self.budget.observe(resp_headers)
        if status == 304 and cached:
            return cached[1], cached[2]
        if status >= 400:
            raise RuntimeError(f"GET {url}: HTTP {status}")
        data = json.loads(body) if body else None
        etag = {k.lower(): v for k, v in resp_headers.items()}.get("etag")
        if etag:
            self.etags[key] = (etag, data, resp_headers)
        return data, resp_headers

    def pages(self, url: str, params: dict, items: Callable[[Any], list] = lambda d: d,
              first: tuple[Any, dict] | None = None):
        """Items page by page (per_page 100), following page numbers while Link says next;
        `first` is page 1 when the caller already has it."""
        page = 1
        while True:
            data, headers = first if (first and page == 1) else self.get(
                url, {**params, "per_page": 100, "page": page})
            yield from items(data)
            link = {k.lower(): v for k, v in headers.items()}.get("link", "")
            if 'rel="next"' not in link:
                return
            page += 1

    def graphql(self, query: str, variables: dict) -> dict:
        self.budget.spend()
        self.requests += 1
        _, data = self.requester.graphql_query(query, variables)
        return data["data"]

    # ------------------------------------------------------------ fetching
    def _sync_pulls(self, repo: str, state: RepoState, now: datetime) -> None:
        base = f"/repos/{repo}/pulls"
        if state.synced is None:
            for pr in self.pages(base, {"state": "open"}):
                state.pulls[pr["number"]] = pr
            stop = now - WEEK
            params = {"state": "closed", "sort": "updated", "direction": "desc"}
        else:
            stop = state.synced - OVERLAP
            params = {"state": "all", "sort": "updated", "direction": "desc"}
        for pr in self.pages(base, params):
            if parse_time(pr["updated_at"]) < stop:
                break  # sorted by update: everything further is older
            state.pulls[pr["number"]] = pr
        for number, pr in list(state.pulls.items()):  # slide: keep open ones and last week's closes
            if pr["state"] == "closed" and not within(pr.get("closed_at"), now):
                del state.pulls[number]
                state.details.pop(number, None)

    def _sync_details(self, repo: str, state: RepoState) -> None:
        owner, name = repo.split("/")
        wanted = [n for n, pr in state.pulls.items() if pr.get("merged_at") and n not in state.details]
        for i in range(0, len(wanted), GRAPHQL_BATCH):
            fields = ("additions deletions changedFiles comments { totalCount } "
                      "reviews(first: 50) { nodes { author { login } } } "
                      "commits(first: 1) { nodes { commit { authoredDate } } }")
            body = " ".join(f"pr{n}: pullRequest(number: {n}) {{ {fields} }}" for n in wanted[i:i + GRAPHQL_BATCH])
            query = f"query($owner: String!, $name: String!) {{ repository(owner: $owner, name: $name) {{ {body} }} }}"
            data = self.graphql(query, {"owner": owner, "name": name})["repository"]
            for n in wanted[i:i + GRAPHQL_BATCH]:
                if data.get(f"pr{n}"):
                    state.details[n] = data[f"pr{n}"]

    def _sync_commits(self, repo: str, state: RepoState, now: datetime) -> None:
        since = (state.synced - OVERLAP) if state.synced else now - WEEK
        for c in self.pages(f"/repos/{repo}/commits", {"sha": state.default_branch,
                                                       "since": since.strftime("%Y-%m-%dT%H:%M:%SZ")}):
            state.commits[c["sha"]] = c
        for sha in [s for s, c in state.commits.items()
                    if parse_time(c["commit"]["committer"]["date"]) < now - WEEK]:
            del state.commits[sha]

    def _run_queries(self, repo: str, state: RepoState, now: datetime) -> list[str]:
        if state.synced is not None:
            incomplete = [parse_time(r["created_at"]) for r in state.runs.values() if r.get("status") != "completed"]
            since = min([state.synced - OVERLAP, *incomplete])
            return [">=" + since.strftime("%Y-%m-%dT%H:%M:%SZ")]
        return [(now - timedelta(days=d)).date().isoformat() for d in range(7, -1, -1)]

    def _sync_runs(self, repo: str, state: RepoState, now: datetime) -> None:
        url = f"/repos/{repo}/actions/runs"
        queries = self._run_queries(repo, state, now)
        while queries:
            created = queries.pop(0)
            first = self.get(url, {"created": created, "per_page": 100, "page": 1})
            if first[0]["total_count"] > 1000 and ".." not in created and not created.startswith(">="):
                day = datetime.fromisoformat(created)  # split the day into 6-hour windows
                queries = [f"{(day + timedelta(hours=h)).strftime('%Y-%m-%dT%H:%M:%SZ')}.."
                           f"{(day + timedelta(hours=h + 6, seconds=-1)).strftime('%Y-%m-%dT%H:%M:%SZ')}"
                           for h in range(0, 24, 6)] + queries
                continue
            for run in self.pages(url, {"created": created}, lambda d: d["workflow_runs"], first):
                state.runs[run["id"]] = run
        for run_id in [i for i, r in state.runs.items() if parse_time(r["created_at"]) < now - WEEK]:
            del state.runs[run_id]

    def _sync_force_pushes(self, repo: str, state: RepoState) -> None:
        state.force_pushes = [a["timestamp"] for a in self.pages(
            f"/repos/{repo}/activity", {"activity_type": "force_push", "time_period": "week"})]

    def _sync_branches(self, repo: str, state: RepoState, now: datetime) -> None:
        """Branches newest commit first, page by page until one is older than 14 days:
        a busy repository's active branches are not capped at one page of 100. GraphQL
        has no conditional requests, and a 14-day figure moves slowly: refreshed hourly."""
        if state.branches_at is not None and now - state.branches_at < BRANCH_REFRESH:
            return
        owner, name = repo.split("/")
        query = ("query($owner: String!, $name: String!, $cursor: String) { repository(owner: $owner, "
                 "name: $name) { refs(refPrefix: \"refs/heads/\", first: 100, after: $cursor, "
                 "orderBy: {field: TAG_COMMIT_DATE, direction: DESC}) { nodes { name target { "
                 "... on Commit { committedDate } } } pageInfo { hasNextPage endCursor } } } }")
        branches, cursor = [], None
        while True:
            refs = self.graphql(query, {"owner": owner, "name": name, "cursor": cursor})["repository"]["refs"]
            branches += [(n["name"], (n.get("target") or {}).get("committedDate")) for n in refs["nodes"]]
            if not refs["pageInfo"]["hasNextPage"] or not within(branches[-1][1], now, STALE_BRANCH):
                break
            cursor = refs["pageInfo"]["endCursor"]
        state.branches, state.branches_at = branches, now

    def _redeliver(self, repo: str, now: datetime) -> list[m.Metric]:
        """Ask GitHub to redeliver the hook's failed deliveries of the last 3 days (GitHub's
        own window; it never retries by itself), once per GUID that never succeeded."""
        hook = self.hooks.get(repo)
        if not hook:
            return []
        recent, _ = self.get(f"/repos/{repo}/hooks/{hook}/deliveries", {"per_page": 100})
        succeeded = {d["guid"] for d in recent if 200 <= (d.get("status_code") or 0) < 300}
        wanted = {d["guid"]: d for d in recent
                  if not 200 <= (d.get("status_code") or 0) < 300 and d["guid"] not in succeeded
                  and d["guid"] not in self.redelivered and within(d["delivered_at"], now, timedelta(days=3))}
        for guid, d in wanted.items():
            self.budget.spend()
            self.requests += 1
            status, _, _ = self.requester.requestJson(
                "POST", f"/repos/{repo}/hooks/{hook}/deliveries/{d['id']}/attempts")
            if status < 300:
                self.redelivered[guid] = True
        asked = sum(guid in self.redelivered for guid in wanted)
        return [m.count("github.deliveries.redelivered", asked, repo=repo)] if asked else []

    def collect(self, now: datetime) -> list[m.Metric]:
        out: list[m.Metric] = []
        failures = 0
        for repo in self.repositories:
            state = self.states.setdefault(repo, RepoState())
            try:
                meta, _ = self.get(f"/repos/{repo}")
                state.default_branch = meta["default_branch"]
                self._sync_pulls(repo, state, now)
                self._sync_details(repo, state)
                self._sync_commits(repo, state, now)
                self._sync_runs(repo, state, now)
                self._sync_force_pushes(repo, state)
                self._sync_branches(repo, state, now)
                out += self._redeliver(repo, now)
            except Exception as exc:  # noqa: BLE001 - this repo unmeasured this cycle, window kept
                failures += 1
                reason = "budget" if isinstance(exc, BudgetExhausted) else "fetch_failed"
                out.append(m.count("orgpulse.collector.errors", collector="github", reason=reason))
                continue
            state.synced = now
            out += repo_metrics(repo, state, now, self.hotfix, self.benchmark, self.workflows)
        if self.repositories and failures == len(self.repositories):
            raise RuntimeError("every repository failed")
        return out
