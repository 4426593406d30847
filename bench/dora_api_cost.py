"""GitHub API requests per repository per cycle of the DORA collector: the first (30-day
backfill) cycle vs steady 15-minute cycles.

The fake GitHub (tests/fakes/github_dora.py) is seeded with generated delivery histories
(tests/support/dora_history.py) — 35 days of commits (squash merges, merge commits, reverts,
hotfixes), production and staging deployments with statuses, rollbacks and labelled
incidents — for a repository that deploys about once a day, one that deploys about ten
times a day, and one that records deployments as runs of a deploy workflow. The real
collector runs through PyGithub's requester; then eight steady cycles (two hours) with a
change and a production deployment landing between every two cycles. Requests are counted
by the fake, per kind. Goal: steady cost small and bounded, whatever the history.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from github import Auth, Github

from pollers.dora.collector import DoraCollector
from pollers.dora.marks import Marks
from pollers.github.http import GithubHttp
from receiver.sources.github.context import dora_options
from tests.fakes.github_dora import DoraGithub
from tests.support.dora_history import History

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
REPOS = {  # name → (hours between deployments, deploy workflow)
    "org/daily": ((12, 36), None),
    "org/busy": ((1.2, 3.6), None),
    "org/workflow": ((12, 36), "deploy.yml"),
}
KINDS = [
    ("deployment statuses", r"/deployments/\d+/statuses$"),
    ("deployments", r"/deployments$"),
    ("workflow runs", r"/actions/workflows/"),
    ("compare", r"/compare/"),
    ("graphql", r"^/graphql$"),
    ("commits", r"/commits$"),
    ("issues", r"/issues$"),
    ("repository", r"^/repos/[^/]+/[^/]+$"),
]


def kind(path: str) -> str:
    return next((name for name, pattern in KINDS if re.search(pattern, path)), "other")


def measure(name: str, step: tuple[float, float], workflow: str | None) -> tuple[Counter, list[int]]:
    fake = DoraGithub()
    try:
        history = History(fake, name, seed=7, workflow=workflow)
        history.walk(NOW - timedelta(days=35), NOW, step_hours=step)
        gh = Github(
            auth=Auth.Token(fake.token),
            base_url=fake.url,
            retry=None,
            seconds_between_requests=0,
            seconds_between_writes=0,
        )
        options = dora_options(
            {"deploy_workflows": {name: workflow} if workflow else {}, "restore_from_failed_deployments": True}
        )
        with tempfile.TemporaryDirectory() as data:
            collector = DoraCollector(
                GithubHttp(gh.requester, 1.0), [name], options, {}, Marks(Path(data) / "marks.json")
            )
            collector.collect(NOW)
            first = Counter(kind(r.path) for r in fake.log)
            steady = []
            for cycle in range(1, 9):
                now = NOW + timedelta(minutes=15 * cycle)
                if cycle % 2 == 0:  # a change lands and ships between every two cycles
                    history.land(now - timedelta(minutes=10))
                    history.deploy(now - timedelta(minutes=9), history.head(), took=timedelta(minutes=2))
                before = len(fake.log)
                collector.collect(now)
                steady.append(len(fake.log) - before)
        return first, steady
    finally:
        fake.close()


def main() -> None:
    print("DORA collector: GitHub API requests per repository per cycle (fake GitHub, PyGithub)")
    for name, (step, workflow) in REPOS.items():
        first, steady = measure(name, step, workflow)
        deployments = f"every {step[0]}-{step[1]} h" + (f", as runs of {workflow}" if workflow else "")
        print(f"\n{name} (deploys {deployments}):")
        print(
            f"  first cycle (30-day backfill): {sum(first.values())} requests — "
            + ", ".join(f"{k} {v}" for k, v in first.most_common())
        )
        print(
            f"  steady cycles: mean {statistics.mean(steady):.1f}, worst {max(steady)}, "
            f"best {min(steady)} (cycles: {steady})"
        )


if __name__ == "__main__":
    main()
