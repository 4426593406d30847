"""DORA's records from the GitHub API, through the GitHub poller's HTTP (pollers/github/http.py:
PyGithub's requester, If-None-Match, the REST and GraphQL budgets shared with the github
collector). Each sync fills a RepoState; pollers/dora/figures.py computes.

The first cycle backfills 30 days (DORA's bands are monthly); later cycles read what
changed since the last one (5 minutes of overlap). Lead time reads the compare API
(paged) from each production deployment's predecessor in the same environment, cached by
SHA pair, and one GraphQL query per 50 shipped commits for the pull request a commit
squash-merged (its first commit is where that change's lead time starts).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cachetools import LRUCache

from orgpulse.definitions import is_production, is_revert
from orgpulse.timeutil import parse_time
from pollers.dora.figures import Deployment, Incident, Records, successes
from pollers.github.http import RATE_LIMIT_FIELDS, PartFailed

MONTH = timedelta(days=30)
OVERLAP = timedelta(minutes=5)
DECIDE_WITHIN = timedelta(hours=72)  # re-read statuses of an undecided deployment this long
BASE_LOOKUPS = 10  # status reads past the window to find the first predecessor
GRAPHQL_BATCH = 50
FAILED_RUNS = {"failure", "timed_out", "startup_failure"}
NOT_FOUND = re.compile(r"HTTP (404|422)$")  # a SHA gone (force push) or unrelated histories


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RepoState(Records):
    default_branch: str = "main"
    branch_at: datetime | None = None
    synced: datetime | None = None
    # First successful production deployment of every commit shipped (the PRs' deploy leg).
    shipped: dict[str, datetime] = field(default_factory=dict)
    read: set[str] = field(default_factory=set)  # deployments whose statuses were read once


class Sync:
    def __init__(self, api, production: str, hotfix: re.Pattern):
        self.api, self.production, self.hotfix = api, production, hotfix
        self.compares: LRUCache = LRUCache(maxsize=2000)  # (repo, base, head) → (status, commits)
        self.starts: LRUCache = LRUCache(maxsize=50_000)  # (repo, sha) → where its lead time starts

    # ------------------------------------------------------------ deployments API
    def deployments(self, repo: str, s: RepoState, now: datetime) -> None:
        cutoff = s.synced - OVERLAP if s.synced else now - MONTH
        listing = self.api.pages(f"/repos/{repo}/deployments", {})
        older = None
        for d in listing:  # newest first
            if parse_time(d["created_at"]) < cutoff:
                older = d
                break
            self._add(s, d)
        for dep in list(s.deployments.values()):  # never read yet, or recent and still undecided
            if dep.key not in s.read or (dep.outcome is None and now - dep.created <= DECIDE_WITHIN):
                self._decide(repo, dep)
                s.read.add(dep.key)
        if s.synced is None and older is not None:
            self._bases(repo, s, itertools.chain([older], listing))

    def _add(self, s: RepoState, d: dict) -> Deployment | None:
        key = f"deployment:{d['id']}"
        if key not in s.deployments and is_production(d.get("environment"), self.production):
            s.deployments[key] = Deployment(key, d["sha"], d["environment"], parse_time(d["created_at"]))
        return s.deployments.get(key)

    def _decide(self, repo: str, dep: Deployment) -> None:
        """The newest decisive status (success; failure or error) decides the outcome."""
        number = dep.key.split(":")[1]
        for st in self.api.pages(f"/repos/{repo}/deployments/{number}/statuses", {}):
            if st["state"] in ("success", "failure", "error"):
                dep.outcome = "success" if st["state"] == "success" else "failure"
                dep.finished = parse_time(st["created_at"])
                return

    def _bases(self, repo: str, s: RepoState, older) -> None:
        """Backfill: the last success before the window in each environment that deployed in
        it, so the window's first deployment has a predecessor (at most BASE_LOOKUPS reads)."""
        wanted = {d.environment for d in successes(s.deployments.values())}
        reads = 0
        for d in older:
            if not wanted or reads >= BASE_LOOKUPS:
                return
            if d.get("environment") not in wanted or not is_production(d.get("environment"), self.production):
                continue
            dep = self._add(s, d)
            if dep.key not in s.read:
                reads += 1
                self._decide(repo, dep)
                s.read.add(dep.key)
            if dep.outcome == "success":
                wanted.discard(dep.environment)

    # ------------------------------------------------------------ a deploy workflow's runs
    def runs(self, repo: str, s: RepoState, now: datetime, workflow: str) -> None:
        url = f"/repos/{repo}/actions/workflows/{workflow.rsplit('/', 1)[-1]}/runs"
        base = {"branch": s.default_branch, "exclude_pull_requests": "true"}
        pending = [d.created for d in s.deployments.values() if d.outcome is None and now - d.created <= DECIDE_WITHIN]
        since = min([s.synced - OVERLAP, *pending]) if s.synced else now - MONTH
        for run in self.api.pages(url, {**base, "created": ">=" + iso(since)}, lambda d: d["workflow_runs"]):
            self._run(repo, s, run)
        if s.synced is None:  # the last success before the window: the first one's predecessor
            older, _ = self.api.get(url, {**base, "status": "success", "created": "<" + iso(since), "per_page": 1})
            for run in older["workflow_runs"][:1]:
                self._run(repo, s, run)

    @staticmethod
    def _run(repo: str, s: RepoState, run: dict) -> None:
        key, done = f"run:{run['id']}", run.get("status") == "completed"
        outcome = (
            "success"
            if run.get("conclusion") == "success"
            else "failure"
            if run.get("conclusion") in FAILED_RUNS
            else None
        )
        if (run.get("head_repository") or {}).get("full_name", repo).lower() != repo.lower() or (
            done and outcome is None
        ):
            s.deployments.pop(key, None)  # a fork's branch of the same name; cancelled or skipped:
            return  # never attempted
        dep = s.deployments.setdefault(
            key, Deployment(key, run["head_sha"], "production", parse_time(run["created_at"]))
        )
        if done and dep.outcome is None:
            dep.outcome, dep.finished = outcome, parse_time(run["updated_at"])

    # ------------------------------------------------------------ lead time
    def lead_times(self, repo: str, s: RepoState) -> None:
        """Each success in order of time, against its environment's previous success: the
        compares first, then one GraphQL query per 50 of all their commits, then the times."""
        pending, last, seen = [], {}, {}
        for dep in successes(s.deployments.values()):
            before = last.get(dep.environment)
            if dep.lead_times is None:
                if before is None:  # the first one known: what it shipped is unknown
                    dep.lead_times = []
                else:
                    status, commits = self.compare(repo, before.sha, dep.sha)
                    dep.rollback = status == "behind" or (dep.sha in seen[dep.environment] and dep.sha != before.sha)
                    pending.append((dep, commits))
            last[dep.environment] = dep
            seen.setdefault(dep.environment, set()).add(dep.sha)
        starts = self._starts(repo, [c for _, commits in pending for c in commits if c[1] == 1])
        for dep, commits in pending:
            dep.lead_times = self._shipped(s, dep, commits, starts)

    @staticmethod
    def _shipped(s: RepoState, dep: Deployment, commits, starts: dict[str, datetime]) -> list[float]:
        """Seconds from each change's start to the deployment, for commits new to production."""
        lead = []
        for sha, parents, authored in commits:
            if sha in s.shipped:
                continue  # reached production earlier (another environment, or before a rollback)
            s.shipped[sha] = dep.finished
            start = starts.get(sha, authored) if parents == 1 else None  # a merge is no change itself
            if start is not None and start <= dep.finished:
                lead.append((dep.finished - start).total_seconds())
        return lead

    def compare(self, repo: str, base: str, head: str) -> tuple[str, list[tuple[str, int, datetime]]]:
        key = (repo, base, head)
        if key not in self.compares:
            url = f"/repos/{repo}/compare/{base}...{head}"
            try:
                first = self.api.get(url, {"per_page": 100, "page": 1})
            except PartFailed as exc:
                if not NOT_FOUND.search(str(exc)):
                    raise
                self.compares[key] = ("unknown", [])
                return self.compares[key]
            commits = [
                (c["sha"], len(c.get("parents") or []), parse_time(c["commit"]["author"]["date"]))
                for c in self.api.pages(url, {}, lambda d: d["commits"], first)
            ]
            self.compares[key] = (first[0]["status"], commits)
        return self.compares[key]

    def _starts(self, repo: str, commits: list[tuple[str, int, datetime]]) -> dict[str, datetime]:
        """A squash-merged commit starts at its pull request's first commit (GraphQL, batched)."""
        wanted = [sha for sha, _, _ in commits if (repo, sha) not in self.starts]
        owner, name = repo.split("/")
        for i in range(0, len(wanted), GRAPHQL_BATCH):
            batch = wanted[i : i + GRAPHQL_BATCH]
            fields = (
                "associatedPullRequests(first: 5) { nodes { mergeCommit { oid } "
                "commits(first: 1) { nodes { commit { authoredDate } } } } }"
            )
            body = " ".join(
                f'c{j}: object(oid: "{sha}") {{ ... on Commit {{ {fields} }} }}' for j, sha in enumerate(batch)
            )
            data = self.api.graphql(
                f"query($owner: String!, $name: String!) {{ {RATE_LIMIT_FIELDS} "
                f"repository(owner: $owner, name: $name) {{ {body} }} }}",
                {"owner": owner, "name": name},
            )["repository"]
            for j, sha in enumerate(batch):
                nodes = ((data.get(f"c{j}") or {}).get("associatedPullRequests") or {}).get("nodes") or []
                first = next(
                    (
                        pr["commits"]["nodes"][0]["commit"]["authoredDate"]
                        for pr in nodes
                        if (pr.get("mergeCommit") or {}).get("oid") == sha and pr["commits"]["nodes"]
                    ),
                    None,
                )
                self.starts[(repo, sha)] = parse_time(first)
        return {sha: self.starts[(repo, sha)] for sha, _, _ in commits if self.starts.get((repo, sha))}

    # ------------------------------------------------------------ reverts, hotfixes, incidents
    def changes(self, repo: str, s: RepoState, now: datetime, kinds: set[str]) -> None:
        since = s.synced - OVERLAP if s.synced else now - MONTH
        for c in self.api.pages(f"/repos/{repo}/commits", {"sha": s.default_branch, "since": iso(since)}):
            message = c["commit"]["message"]
            kind = "revert" if is_revert(message) else "hotfix" if self.hotfix.search(message) else None
            if kind in kinds:
                s.changes[c["sha"]] = (parse_time(c["commit"]["committer"]["date"]), kind)

    def incidents(self, repo: str, s: RepoState, now: datetime, label: str) -> None:
        """Open incidents re-listed every cycle (a removed label drops one), closed ones since."""
        url = f"/repos/{repo}/issues"
        since = s.synced - OVERLAP if s.synced else now - MONTH
        current = {n: i for n, i in s.incidents.items() if i.resolved is not None}
        for state, extra in (("closed", {"since": iso(since)}), ("open", {})):
            for issue in self.api.pages(url, {"labels": label, "state": state, **extra}):
                if not issue.get("pull_request"):
                    closed = parse_time(issue.get("closed_at")) if state == "closed" else None
                    current[issue["number"]] = Incident(parse_time(issue["created_at"]), closed)
        s.incidents = current


def prune(s: RepoState, now: datetime, window: timedelta) -> None:
    """Keep 30 days (+ the failure window for signals), and each environment's last success
    before them: the next deployment's predecessor."""
    horizon = now - MONTH - window
    keep = {
        d.key for d in {d.environment: d for d in successes(s.deployments.values()) if d.finished < horizon}.values()
    }
    s.deployments = {k: d for k, d in s.deployments.items() if k in keep or (d.finished or d.created) >= horizon}
    s.read &= set(s.deployments)
    s.changes = {k: c for k, c in s.changes.items() if c[0] >= horizon}
    s.incidents = {k: i for k, i in s.incidents.items() if i.resolved is None or i.resolved >= horizon}
    s.shipped = {k: t for k, t in s.shipped.items() if t >= horizon}
