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
import math
import re
import time
from datetime import datetime, timedelta
from typing import Any, Callable

from cachetools import LRUCache, TTLCache

from orgpulse import metrics as m
from orgpulse.tags import BoundedValues
from orgpulse.timeutil import parse_time, seconds_between
from receiver.sources.github.refs import is_revert

WEEK = timedelta(days=7)
STALE = timedelta(days=14)
OVERLAP = timedelta(minutes=5)
DECISIVE = {"success": 1.0, "failure": 0.0, "timed_out": 0.0, "startup_failure": 0.0}
GRAPHQL_BATCH = 50


class BudgetExhausted(RuntimeError):
    """The poller's share of the token's hourly budget, or the budget itself, is spent."""


def is_bot(user: dict | None) -> bool:
    user = user or {}
    return user.get("type") == "Bot" or str(user.get("login", "")).endswith("[bot]")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


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
            if pr["state"] == "closed" and not _within(pr.get("closed_at"), now):
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
        data, _ = self.get(f"/repos/{repo}/activity", {"activity_type": "force_push",
                                                       "time_period": "week", "per_page": 100})
        state.force_pushes = [a["timestamp"] for a in data or []]

    def _sync_branches(self, repo: str, state: RepoState) -> None:
        owner, name = repo.split("/")
        query = ("query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { "
                 "refs(refPrefix: \"refs/heads/\", first: 100, orderBy: {field: TAG_COMMIT_DATE, "
                 "direction: DESC}) { nodes { name target { ... on Commit { committedDate } } } } } }")
        nodes = self.graphql(query, {"owner": owner, "name": name})["repository"]["refs"]["nodes"]
        state.branches = [(n["name"], (n.get("target") or {}).get("committedDate")) for n in nodes]

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
                  and d["guid"] not in self.redelivered and _within(d["delivered_at"], now, timedelta(days=3))}
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
                self._sync_branches(repo, state)
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


# ---------------------------------------------------------------- pure metrics
def repo_metrics(repo: str, s: RepoState, now: datetime, hotfix: re.Pattern,
                 benchmark: re.Pattern, workflows: Callable[[str], str]) -> list[m.Metric]:
    return (pr_metrics(repo, s, now) + commit_metrics(repo, s, now, hotfix)
            + ci_metrics(repo, s, now, benchmark, workflows))


def _within(ts: str | None, now: datetime, span: timedelta = WEEK) -> bool:
    t = parse_time(ts)
    return t is not None and now - t <= span


def pr_metrics(repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
    tag = {"repo": repo}
    humans = [pr for pr in s.pulls.values() if not is_bot(pr.get("user"))]
    open_prs = [pr for pr in humans if pr["state"] == "open"]
    merged = [pr for pr in humans if _within(pr.get("merged_at"), now)]
    closed = [pr for pr in humans if not pr.get("merged_at") and pr["state"] == "closed"
              and _within(pr.get("closed_at"), now)]
    out = [m.gauge("github.prs.open", len(open_prs), **tag),
           m.gauge("github.prs.merged_7d", len(merged), **tag),
           m.gauge("github.prs.closed_without_merge_7d", len(closed), **tag),
           m.gauge("github.prs.bot_merged_7d", sum(1 for pr in s.pulls.values()
                                                  if is_bot(pr.get("user")) and _within(pr.get("merged_at"), now)), **tag),
           m.gauge("github.prs.stale_count_14d", sum(
               1 for pr in open_prs if not pr.get("draft") and now - parse_time(pr["updated_at"]) > STALE), **tag)]
    to_merge = [seconds_between(pr["created_at"], pr["merged_at"]) / 3600 for pr in merged]
    if to_merge:
        out += [m.gauge("github.prs.avg_time_to_merge_hours", sum(to_merge) / len(to_merge), **tag),
                m.gauge("github.prs.time_to_merge_p50_hours", pct(to_merge, .5), **tag),
                m.gauge("github.prs.time_to_merge_p90_hours", pct(to_merge, .9), **tag)]
    detailed = [(pr, s.details[pr["number"]]) for pr in merged if pr["number"] in s.details]
    cycles = [seconds_between(d["commits"]["nodes"][0]["commit"]["authoredDate"], pr["merged_at"]) / 3600
              for pr, d in detailed if d["commits"]["nodes"]]
    cycles = [c for c in cycles if c is not None]
    if cycles:  # first commit → merge; the FoM and the SLO use p90
        out += [m.gauge("github.prs.cycle_time_hours", pct(cycles, .9), **tag),
                m.gauge("github.prs.cycle_time_p50_hours", pct(cycles, .5), **tag)]
    if detailed:
        reviewed = sum(1 for pr, d in detailed if any(
            (r.get("author") or {}).get("login") not in (None, pr["user"]["login"]) for r in d["reviews"]["nodes"]))
        out += [m.gauge("github.prs.review_coverage_pct", 100 * reviewed / len(detailed), **tag),
                m.gauge("github.prs.avg_comments_per_pr",
                        sum(d["comments"]["totalCount"] for _, d in detailed) / len(detailed), **tag),
                m.gauge("github.code.lines_added_7d", sum(d["additions"] for _, d in detailed), **tag),
                m.gauge("github.code.lines_deleted_7d", sum(d["deletions"] for _, d in detailed), **tag),
                m.gauge("github.code.files_changed_7d", sum(d["changedFiles"] for _, d in detailed), **tag)]
    return out


def commit_metrics(repo: str, s: RepoState, now: datetime, hotfix: re.Pattern) -> list[m.Metric]:
    tag = {"repo": repo}
    commits = [c for c in s.commits.values() if not is_bot(c.get("author"))]
    authors = {(c.get("author") or {}).get("login") or c["commit"]["author"].get("email") for c in commits}
    authors.discard(None)
    out = [m.gauge("github.commits.total_7d", len(commits), **tag),
           m.gauge("github.commits.reverts", sum(is_revert(c["commit"]["message"]) for c in commits), **tag),
           m.gauge("github.commits.hotfix", sum(bool(hotfix.search(c["commit"]["message"])) for c in commits), **tag),
           m.gauge("github.commits.force_merge_7d", sum(_within(t, now) for t in s.force_pushes), **tag),
           m.gauge("github.developers.active_7d", len(authors), **tag),
           m.gauge("github.branches.active", sum(_within(d, now, STALE) for _, d in s.branches), **tag)]
    if authors:
        out.append(m.gauge("github.commits.per_developer_7d", len(commits) / len(authors), **tag))
    return out


def ci_metrics(repo: str, s: RepoState, now: datetime, benchmark: re.Pattern,
               workflows: Callable[[str], str]) -> list[m.Metric]:
    tag = {"repo": repo}
    runs = list(s.runs.values())
    done = [r for r in runs if r.get("status") == "completed"]
    out = [m.gauge("github.ci.workflow_runs_7d", len(runs), **tag),
           m.gauge("github.ci.failed_workflows_7d", sum(r.get("conclusion") == "failure" for r in done), **tag),
           m.gauge("github.ci.timeout_cancellations_7d", sum(r.get("conclusion") == "timed_out" for r in done), **tag),
           m.gauge("github.ci.cancelled_7d", sum(r.get("conclusion") == "cancelled" for r in done), **tag),
           # a run re-run to success: failed, then passed, on the same commit
           m.gauge("github.ci.flaky_checks_7d", sum((r.get("run_attempt") or 1) > 1
                                                    and r.get("conclusion") == "success" for r in done), **tag)]
    run_minutes = [seconds_between(r.get("run_started_at"), r.get("updated_at")) for r in done]
    run_minutes = [x / 60 for x in run_minutes if x is not None]
    if run_minutes:
        out += [m.gauge("github.ci.avg_workflow_duration_minutes", sum(run_minutes) / len(run_minutes), **tag)]
        out += [m.gauge(f"github.ci.duration_p{q}_minutes", pct(run_minutes, q / 100), **tag) for q in (50, 90, 99)]
    queue = [seconds_between(r.get("created_at"), r.get("run_started_at")) for r in runs
             if (r.get("run_attempt") or 1) == 1]
    queue = [x / 60 for x in queue if x is not None]
    if queue:
        out += [m.gauge("github.ci.queue_time_p50_minutes", pct(queue, .5), **tag),
                m.gauge("github.ci.queue_time_p90_minutes", pct(queue, .9), **tag)]
    latest: dict[str, dict] = {}
    for r in sorted(done, key=lambda r: r["created_at"]):
        own = (r.get("head_repository") or {}).get("full_name", repo).lower() == repo.lower()
        if r.get("head_branch") == s.default_branch and own and r.get("conclusion") in DECISIVE:
            latest[r.get("name") or "unnamed"] = r
    for name, r in sorted(latest.items()):
        wf = workflows(name)
        out.append(m.gauge("github.ci.tests_passing_on_main", DECISIVE[r["conclusion"]], workflow=wf, **tag))
        if benchmark.search(name):
            out.append(m.gauge("github.ci.benchmarks_passing", DECISIVE[r["conclusion"]], workflow=wf, **tag))
    return out
