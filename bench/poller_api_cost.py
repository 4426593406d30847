"""GitHub API requests per cycle: orgpulse's incremental collector vs the old collector's pattern.

The fake GitHub (tests/fakes/github_api.py) is seeded with a small and a large
repository — 100 and 10,000 pull requests over a year, with runs, commits and
branches in proportion — and the real collector runs a first (backfill) cycle
and then two hours of steady 15-minute cycles through PyGithub's requester, counting every
request. The old collector is re-created as a request-count model of what it
requested each cycle (not its code): open PRs ⌈O/100⌉, closed PRs 2×⌈C/100⌉,
branches ⌈B/100⌉, commits 2×⌈M/100⌉ plus one GET per commit, workflow runs
10 pages + 1 (the 1,000 cap) — the same every cycle.
Flaky checks need earlier attempts of runs re-run to success: 1 in 20 runs of the
history was, and every steady cycle one run fails and is re-run to success two cycles
later (a re-run keeps created_at: the failed run is re-read while it stays failed).
Goals: steady state ≤ 20 requests per cycle per repository; 10,000 PRs ≤ 1.5× 100 PRs.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from github import Auth, Github

from orgpulse.timeutil import parse_time
from pollers.github.collector import GithubCollector
from pollers.github.http import GithubHttp
from tests.fakes.github_api import FakeGithub
from tests.support.github_history import generated, iso, pull, run

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SIZES = {
    100: {"runs_per_day": 20, "commits": 80, "commit_every_h": 2.0, "branches": 30},
    10_000: {"runs_per_day": 2000, "commits": 8000, "commit_every_h": 0.02, "branches": 3000},
}


def old_model(state: dict, now: datetime) -> int:
    """The old collector's requests in one cycle (every cycle alike)."""
    week = now - timedelta(days=7)
    open_prs = sum(p["state"] == "open" for p in state["pulls"])
    closed_recent = sum(p["state"] == "closed" and parse_time(p["updated_at"]) >= week for p in state["pulls"])
    commits = sum(parse_time(c["commit"]["committer"]["date"]) >= week for c in state["commits"])
    return (
        math.ceil(open_prs / 100)
        + 2 * max(1, math.ceil(closed_recent / 100))
        + math.ceil(len(state["branches"]) / 100)
        + 2 * max(1, math.ceil(commits / 100))
        + commits
        + 11
    )


def measure(prs: int) -> tuple[int, list[int], int]:
    fake = FakeGithub()
    try:
        state = generated(fake, "org/app", NOW, prs, **SIZES[prs])
        for r in state["runs"][::20]:  # re-run once to success after a failure
            r.update(
                run_attempt=2,
                _attempts=[
                    {"run_attempt": 1, "conclusion": "failure", "status": "completed", "updated_at": r["created_at"]}
                ],
            )
        gh = Github(
            auth=Auth.Token(fake.token),
            base_url=fake.url,
            retry=None,
            seconds_between_requests=0,
            seconds_between_writes=0,
        )
        collector = GithubCollector(GithubHttp(gh.requester, 1.0), ["org/app"], {"budget_share": 1.0})
        collector.collect(NOW)
        first = collector.requests
        steady, failures = [], []
        for cycle in range(1, 9):  # two hours of steady cycles with activity between them
            now = NOW + timedelta(minutes=15 * cycle)
            state["pulls"].append(pull(prs + cycle, now, merged_h=-0.05, created_h=-5))
            for k in range(max(1, SIZES[prs]["runs_per_day"] // 96)):
                state["runs"].append(run(10_000_000 + cycle * 1000 + k, now, created_h=-0.05))
            if len(failures) > 1:  # the failure of two cycles ago re-run to success: same run, attempt 2
                failed = failures.pop(0)
                failed.update(
                    run_attempt=2,
                    conclusion="success",
                    updated_at=iso(now - timedelta(minutes=1)),
                    _attempts=[
                        {
                            "run_attempt": 1,
                            "conclusion": "failure",
                            "status": "completed",
                            "updated_at": failed["updated_at"],
                        }
                    ],
                )
            failures.append(run(9_000_000 + cycle, now, created_h=-0.05, conclusion="failure", run_s=60))
            state["runs"].append(failures[-1])
            before = collector.requests
            collector.collect(now)
            steady.append(collector.requests - before)
        return first, steady, old_model(state, NOW)
    finally:
        fake.close()


def main() -> None:
    results = {}
    for prs in SIZES:
        first, steady, old = measure(prs)
        results[prs] = (sum(steady) / len(steady), max(steady))
        print(
            f"{prs:>6,} PRs: orgpulse first cycle {first:,} requests, steady cycles {steady} "
            f"(goal <= 20); old collector {old:,} requests every cycle"
        )
    (small_mean, small_max), (big_mean, big_max) = results[100], results[10_000]
    print(
        f"steady cost 10,000 PRs / 100 PRs: mean {big_mean / small_mean:.2f}, "
        f"worst cycle {big_max / small_max:.2f} (goal <= 1.5; branches are re-listed hourly)"
    )


if __name__ == "__main__":
    main()
