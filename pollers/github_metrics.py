"""Pure: a repository's 7-day windows (pollers/github.py) → the GitHub rolling gauges.

Definitions fix the seed's W1–W8: windows by merged_at / closed_at / created_at,
cycle time from the first commit, review coverage by non-authors, force pushes
from the activity API, timeouts apart from cancellations, run time without
queue time, tests passing per workflow on the repository's own default branch.
Bots are kept out of the human figures.
"""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from orgpulse import metrics as m
from orgpulse.timeutil import parse_time, seconds_between
from orgpulse.definitions import is_bot, is_revert

if TYPE_CHECKING:
    from pollers.github import RepoState

WEEK = timedelta(days=7)
STALE = timedelta(days=14)
DECISIVE = {"success": 1.0, "failure": 0.0, "timed_out": 0.0, "startup_failure": 0.0}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def repo_metrics(repo: str, s: RepoState, now: datetime, hotfix: re.Pattern,
                 benchmark: re.Pattern, workflows: Callable[[str], str]) -> list[m.Metric]:
    return (pr_metrics(repo, s, now) + commit_metrics(repo, s, now, hotfix)
            + ci_metrics(repo, s, now, benchmark, workflows))


def within(ts: str | None, now: datetime, span: timedelta = WEEK) -> bool:
    t = parse_time(ts)
    return t is not None and now - t <= span


def pr_metrics(repo: str, s: RepoState, now: datetime) -> list[m.Metric]:
    tag = {"repo": repo}
    humans = [pr for pr in s.pulls.values() if not is_bot(pr.get("user"))]
    open_prs = [pr for pr in humans if pr["state"] == "open"]
    merged = [pr for pr in humans if within(pr.get("merged_at"), now)]
    closed = [pr for pr in humans if not pr.get("merged_at") and pr["state"] == "closed"
              and within(pr.get("closed_at"), now)]
    out = [m.gauge("github.prs.open", len(open_prs), **tag),
           m.gauge("github.prs.merged_7d", len(merged), **tag),
           m.gauge("github.prs.closed_without_merge_7d", len(closed), **tag),
           m.gauge("github.prs.bot_merged_7d", sum(1 for pr in s.pulls.values()
                                                  if is_bot(pr.get("user")) and within(pr.get("merged_at"), now)), **tag),
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
           m.gauge("github.commits.force_merge_7d", sum(within(t, now) for t in s.force_pushes), **tag),
           m.gauge("github.developers.active_7d", len(authors), **tag),
           m.gauge("github.branches.active", sum(within(d, now, STALE) for _, d in s.branches), **tag)]
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
