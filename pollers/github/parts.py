"""What the GitHub collector reads of one repository, part by part (PARTS): each part
fetches what changed since its last sync into the repository's RepoState and returns its
metrics (aggregates.py computes them). Which parts run, in which order, within which
budget, and what a failed part means is the collector's (collector.py). A mixin of
GithubCollector: the parts use its HTTP client and options."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from cachetools import TTLCache

from orgpulse import metrics as m
from orgpulse.definitions import FAILED
from orgpulse.statistics import before, within
from orgpulse.tags import BoundedValues
from orgpulse.timeutil import parse_time
from pollers.github import aggregates as gm
from pollers.github.aggregates import STALE as STALE_BRANCH
from pollers.github.aggregates import WEEK, RepoState
from pollers.github.backfill import Timed
from pollers.github.http import RATE_LIMIT_FIELDS

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


class RepoParts:
    # Set by GithubCollector.__init__.
    http: Timed
    deployed_at: Callable[[str, str], datetime | None] | None
    hotfix: re.Pattern
    benchmark: re.Pattern
    workflows: BoundedValues
    hooks: dict[str, int]
    redelivered: TTLCache

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
