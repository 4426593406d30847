"""Pure: a repository's 7-day windows (pollers/github/parts.py) → the GitHub rolling gauges,
one function per part of the repository (a part that failed emits nothing).

Definitions (each one the old collectors got wrong): windows by merged_at / closed_at / created_at,
cycle time from the first commit, review coverage by human non-authors, force
pushes from the activity API, timeouts apart from cancellations, run time
without queue time, tests passing per workflow on the repository's own default
branch (benchmark workflows apart), flaky per (workflow, head SHA).
Counts carry author_type:human|bot — their sum is the old collectors' figure; percentiles,
means and ratios are of human work only and carry no author_type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from orgpulse import metrics as m
from orgpulse.definitions import (
    DECISIVE,
    LEGS,
    author_type,
    by_another_human,
    count_flaky,
    first_review,
    flaky_key,
    is_bot,
    is_revert,
    leg,
    passing_gauge,
)
from orgpulse.statistics import percentile, within
from orgpulse.timeutil import parse_time, seconds_between

WEEK = timedelta(days=7)
DeployedAt = Callable[[str, str], "datetime | None"]  # (repo, sha) → its first production deployment
STALE = timedelta(days=14)
AUTHOR_TYPES = ("human", "bot")


class RepoState:
    """One repository's 7-day window as the collector (collector.py) keeps it between cycles."""

    def __init__(self):
        self.default_branch: str | None = None
        self.pulls: dict[int, dict] = {}
        self.details: dict[int, dict] = {}
        self.commits: dict[str, dict] = {}
        self.runs: dict[int, dict] = {}
        self.attempts: dict[tuple[int, int], dict] = {}  # (run id, attempt) → completed attempt
        self.force_pushes: list[str] = []
        self.branches: list[tuple[str, str]] = []
        self.branches_at: datetime | None = None
        self.synced: dict[str, datetime] = {}  # part → last successful sync


def by_author(items: Iterable[dict], user: Callable[[dict], dict | None]) -> dict[str, list[dict]]:
    """Items split by author_type, both keys always present (a 0 is sent, never a gap)."""
    out: dict[str, list[dict]] = {kind: [] for kind in AUTHOR_TYPES}
    for item in items:
        out[author_type(user(item))].append(item)
    return out


def _merged(prs: Iterable[dict], now: datetime) -> list[dict]:
    return [pr for pr in prs if within(pr.get("merged_at"), now, WEEK)]


def pr_counts(repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
    out = []
    for kind, prs in by_author(s.pulls.values(), lambda pr: pr.get("user")).items():
        tag = {"repo": repo, "author_type": kind}
        open_prs = [pr for pr in prs if pr["state"] == "open"]
        closed = [
            pr
            for pr in prs
            if not pr.get("merged_at") and pr["state"] == "closed" and within(pr.get("closed_at"), now, WEEK)
        ]
        out += [
            m.gauge("github.prs.open", len(open_prs), **tag),
            m.gauge("github.prs.merged_7d", len(_merged(prs, now)), **tag),
            m.gauge("github.prs.closed_without_merge_7d", len(closed), **tag),
            m.gauge(
                "github.prs.stale_count_14d",
                sum(1 for pr in open_prs if not pr.get("draft") and now - parse_time(pr["updated_at"]) > STALE),
                **tag,
            ),
        ]
    human = _merged((pr for pr in s.pulls.values() if not is_bot(pr.get("user"))), now)
    to_merge = [seconds_between(pr["created_at"], pr["merged_at"]) / 3600 for pr in human]
    if to_merge:
        out += [
            m.gauge("github.prs.avg_time_to_merge_hours", sum(to_merge) / len(to_merge), repo=repo),
            m.gauge("github.prs.time_to_merge_p50_hours", percentile(to_merge, 0.5), repo=repo),
            m.gauge("github.prs.time_to_merge_p90_hours", percentile(to_merge, 0.9), repo=repo),
        ]
    return out


def _reviews(detail: dict) -> list[tuple[dict | None, str | None]]:
    """(reviewer, submitted at) of every review GraphQL listed; a Bot's GraphQL login lacks REST's
    "[bot]", so is_bot reads the author's __typename."""
    return [(r.get("author"), r.get("submittedAt")) for r in detail["reviews"]["nodes"]]


def _reviewed_by_another_human(pr: dict, detail: dict) -> bool:
    return any(by_another_human(pr.get("user"), reviewer) for reviewer, _ in _reviews(detail))


def _first_commit(detail: dict) -> str | None:
    nodes = detail["commits"]["nodes"]
    return nodes[0]["commit"]["authoredDate"] if nodes else None


def _moments(pr: dict, detail: dict) -> dict[str, object]:
    """The moments of a merged pull request that its legs run between (orgpulse.definitions.LEGS)."""
    return {
        "first_commit": _first_commit(detail),
        "created": pr["created_at"],
        "merged": pr["merged_at"],
        "first_review": first_review(pr.get("user"), _reviews(detail), pr["merged_at"]),
    }


def leg_metrics(repo: str, human: list[tuple[dict, dict]], deployed_at: DeployedAt | None = None) -> list[m.Metric]:
    """p50/p90 of each leg over the human PRs that have it; a leg no PR has is not sent.
    The deploy leg (merge → the first successful production deployment containing the merge
    commit) needs DORA's records, `deployed_at`."""
    moments = [_moments(pr, d) for pr, d in human]
    if deployed_at is not None:
        for (pr, _), known in zip(human, moments, strict=True):
            known["deployed"] = deployed_at(repo, pr["merge_commit_sha"]) if pr.get("merge_commit_sha") else None
    out = []
    for name in [n for n in LEGS if n != "deploy" or deployed_at is not None]:
        hours = [v / 3600 for v in (leg(name, known) for known in moments) if v is not None]
        if hours:
            out += [
                m.gauge(f"github.prs.{name}_time_p50_hours", percentile(hours, 0.5), repo=repo),
                m.gauge(f"github.prs.{name}_time_p90_hours", percentile(hours, 0.9), repo=repo),
            ]
    return out


def pr_details(repo: str, s: RepoState, now: datetime, deployed_at: DeployedAt | None = None) -> list[m.Metric]:
    out = []
    for kind, prs in by_author(_merged(s.pulls.values(), now), lambda pr: pr.get("user")).items():
        detailed = [s.details[pr["number"]] for pr in prs if pr["number"] in s.details]
        tag = {"repo": repo, "author_type": kind}
        out += [
            m.gauge("github.code.lines_added_7d", sum(d["additions"] for d in detailed), **tag),
            m.gauge("github.code.lines_deleted_7d", sum(d["deletions"] for d in detailed), **tag),
            m.gauge("github.code.files_changed_7d", sum(d["changedFiles"] for d in detailed), **tag),
        ]
    human = [
        (pr, s.details[pr["number"]])
        for pr in _merged(s.pulls.values(), now)
        if pr["number"] in s.details and not is_bot(pr.get("user"))
    ]
    cycles = [seconds_between(_first_commit(d), pr["merged_at"]) for pr, d in human]
    cycles = [c / 3600 for c in cycles if c is not None]
    if cycles:  # first commit → merge; the FoM and the SLO use p90
        out += [
            m.gauge("github.prs.cycle_time_hours", percentile(cycles, 0.9), repo=repo),
            m.gauge("github.prs.cycle_time_p50_hours", percentile(cycles, 0.5), repo=repo),
        ]
    if human:
        reviewed = sum(_reviewed_by_another_human(pr, d) for pr, d in human)
        out += [
            m.gauge("github.prs.review_coverage_pct", 100 * reviewed / len(human), repo=repo),
            m.gauge(
                "github.prs.avg_comments_per_pr",
                sum(d["totalCommentsCount"] or 0 for _, d in human) / len(human),
                repo=repo,
            ),
        ]
    return out + leg_metrics(repo, human, deployed_at)


def commit_metrics(repo: str, s: RepoState, hotfix: re.Pattern) -> list[m.Metric]:
    out, human = [], 0
    for kind, commits in by_author(s.commits.values(), lambda c: c.get("author")).items():
        tag = {"repo": repo, "author_type": kind}
        authors = {(c.get("author") or {}).get("login") or c["commit"]["author"].get("email") for c in commits}
        authors.discard(None)
        out += [
            m.gauge("github.commits.total_7d", len(commits), **tag),
            m.gauge("github.commits.reverts", sum(is_revert(c["commit"]["message"]) for c in commits), **tag),
            m.gauge("github.commits.hotfix", sum(bool(hotfix.search(c["commit"]["message"])) for c in commits), **tag),
            m.gauge("github.developers.active_7d", len(authors), **tag),
        ]
        if kind == "human" and authors:
            human = len(commits) / len(authors)
    if human:
        out.append(m.gauge("github.commits.per_developer_7d", human, repo=repo))
    return out


def force_push_metrics(repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
    pushes = sum(within(t, now, WEEK) for t in s.force_pushes)
    return [m.gauge("github.commits.force_merge_7d", pushes, repo=repo)]


def branch_metrics(repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
    return [m.gauge("github.branches.active", sum(within(d, now, STALE) for _, d in s.branches), repo=repo)]


def ci_metrics(repo: str, s: RepoState, benchmark: re.Pattern, workflows: Callable[[str], str]) -> list[m.Metric]:
    tag = {"repo": repo}
    runs = list(s.runs.values())
    done = [r for r in runs if r.get("status") == "completed"]
    out = [
        m.gauge("github.ci.workflow_runs_7d", len(runs), **tag),
        m.gauge("github.ci.failed_workflows_7d", sum(r.get("conclusion") == "failure" for r in done), **tag),
        m.gauge("github.ci.timeout_cancellations_7d", sum(r.get("conclusion") == "timed_out" for r in done), **tag),
        m.gauge("github.ci.cancelled_7d", sum(r.get("conclusion") == "cancelled" for r in done), **tag),
    ]
    run_minutes = [seconds_between(r.get("run_started_at"), r.get("updated_at")) for r in done]
    run_minutes = [x / 60 for x in run_minutes if x is not None]
    if run_minutes:
        out += [m.gauge("github.ci.avg_workflow_duration_minutes", sum(run_minutes) / len(run_minutes), **tag)]
        out += [
            m.gauge(f"github.ci.duration_p{q}_minutes", percentile(run_minutes, q / 100), **tag) for q in (50, 90, 99)
        ]
    queue = [
        seconds_between(r.get("created_at"), r.get("run_started_at")) for r in runs if (r.get("run_attempt") or 1) == 1
    ]
    queue = [x / 60 for x in queue if x is not None]
    if queue:
        out += [
            m.gauge("github.ci.queue_time_p50_minutes", percentile(queue, 0.5), **tag),
            m.gauge("github.ci.queue_time_p90_minutes", percentile(queue, 0.9), **tag),
        ]
    latest: dict[str, dict] = {}
    for r in sorted(done, key=lambda r: r["created_at"]):
        own = (r.get("head_repository") or {}).get("full_name", repo).lower() == repo.lower()
        if r.get("head_branch") == s.default_branch and own and r.get("conclusion") in DECISIVE:
            latest[r.get("name") or "unnamed"] = r
    # tests_passing_on_main per test workflow (the FoM takes the minimum); benchmarks apart
    out += [
        m.gauge(passing_gauge(name, benchmark), DECISIVE[r["conclusion"]], workflow=workflows(name), **tag)
        for name, r in sorted(latest.items())
    ]
    return out


def flaky_metrics(repo: str, s: RepoState) -> list[m.Metric]:
    """(workflow, head SHA) pairs that failed and later succeeded in the window, by a re-run
    attempt or a new run: every completed attempt, in the order they finished."""
    done = sorted((a for a in s.attempts.values() if a.get("conclusion")), key=lambda a: a.get("updated_at") or "")
    flaky = count_flaky((flaky_key(repo, a), a["conclusion"]) for a in done)
    return [m.gauge("github.ci.flaky_checks_7d", flaky, repo=repo)]
