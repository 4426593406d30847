"""Generated delivery histories for the fake GitHub's DORA routes (tests/fakes/github_dora.py).

A seeded random walk over `days`: commits land on the default branch (plain, squash-merged
pull requests whose first commit is older, merge commits, reverts, hotfixes), production
and staging deployments of the branch head follow with statuses (success, failure, error,
or never decided), now and then a rollback to an earlier deployed SHA, and labelled
incident issues open and close. A repository given a deploy workflow gets workflow runs
instead of deployments. Everything is plain records: a test computes the truth from them.
"""

from __future__ import annotations

import random
import zlib
from datetime import datetime, timedelta

from tests.support.github_history import HUMAN, iso

OUTCOMES = ("success",) * 16 + ("failure", "failure", "error", None)


def _commit(state: dict, sha: str, t: datetime, message: str, parents: list[str], authored: datetime):
    c = {
        "sha": sha,
        "author": HUMAN,
        "parents": [{"sha": p} for p in parents],
        "commit": {
            "message": message,
            "author": {"email": "dev@example.com", "date": iso(authored)},
            "committer": {"date": iso(t)},
        },
    }
    state.setdefault("history", []).append(c)
    state.setdefault("commits", []).append(c)
    return sha


class History:
    def __init__(self, fake, repo: str, seed: int = 1, workflow: str | None = None):
        self.fake, self.repo, self.workflow = fake, repo, workflow
        self.state = fake.repos.get(repo) or fake.add_repo(repo)
        self.rng = random.Random(seed)
        self.n = 0
        self.deployed: list[str] = []  # SHAs of successful production deployments

    def sha(self) -> str:
        self.n += 1
        return f"{zlib.crc32(self.repo.encode()) % 65536:04x}{self.n:036x}"

    def head(self) -> str:
        return self.state["history"][-1]["sha"]

    def land(self, t: datetime) -> None:
        """One change on the default branch at t, of a random kind."""
        head = self.head() if self.state.get("history") else None
        parents = [head] if head else []
        kind = self.rng.random()
        authored = t - timedelta(hours=self.rng.uniform(0.5, 72))
        if kind < 0.4:  # a squash merge: its lead time starts at the PR's first commit
            sha = _commit(self.state, self.sha(), t, "Add a feature (#12)", parents, t)
            self.state.setdefault("commit_prs", {})[sha] = {"first_commit_at": iso(authored)}
        elif kind < 0.6:  # a merge commit of a pull request's own commit
            side = _commit(self.state, self.sha(), t - timedelta(minutes=1), "Work", parents, authored)
            _commit(self.state, self.sha(), t, "Merge pull request #7 from org/work", [*parents, side], t)
        elif kind < 0.68:
            _commit(
                self.state,
                self.sha(),
                t,
                'Revert "Add a feature"\n\nThis reverts commit ' + (head or "0" * 40) + ".",
                parents,
                authored,
            )
        elif kind < 0.74:
            _commit(self.state, self.sha(), t, "hotfix: nil check", parents, authored)
        else:
            _commit(self.state, self.sha(), t, "Refactor", parents, authored)

    def deploy(
        self,
        t: datetime,
        sha: str,
        environment: str = "production",
        outcome: str | None = "success",
        took: timedelta = timedelta(minutes=7),
    ) -> None:
        if self.workflow:
            self._run(t, sha, outcome, took)
        else:
            deployments = self.state.setdefault("deployments", [])
            statuses = [{"state": "in_progress", "created_at": iso(t), "environment": environment}]
            if outcome:
                statuses.append({"state": outcome, "created_at": iso(t + took), "environment": environment})
            deployments.append(
                {
                    "id": 1000 + len(deployments),
                    "sha": sha,
                    "ref": "main",
                    "environment": environment,
                    "created_at": iso(t),
                    "statuses": statuses,
                }
            )
        if outcome == "success" and environment == "production":
            self.deployed.append(sha)

    def _run(self, t: datetime, sha: str, outcome: str | None, took: timedelta) -> None:
        conclusion = {"success": "success", "failure": "failure", "error": "timed_out", None: "cancelled"}[outcome]
        runs = self.state.setdefault("runs", [])
        runs.append(
            {
                "id": 5000 + len(runs),
                "name": "Deploy",
                "path": f".github/workflows/{self.workflow}",
                "head_branch": "main",
                "head_sha": sha,
                "status": "completed",
                "conclusion": conclusion,
                "run_attempt": 1,
                "created_at": iso(t),
                "run_started_at": iso(t),
                "updated_at": iso(t + took),
                "head_repository": {"full_name": self.repo},
            }
        )

    def incident(self, opened: datetime, hours: float | None, label: str = "incident") -> None:
        issues = self.state.setdefault("issues", [])
        closed = opened + timedelta(hours=hours) if hours is not None else None
        issues.append(
            {
                "number": len(issues) + 1,
                "labels": [{"name": label}],
                "state": "closed" if closed else "open",
                "created_at": iso(opened),
                "closed_at": iso(closed) if closed else None,
                "updated_at": iso(closed or opened),
            }
        )

    def walk(self, start: datetime, end: datetime, step_hours: tuple[float, float] = (6, 20)) -> None:
        """Changes, deployments and incidents from start to end."""
        t = start
        self.land(t - timedelta(hours=1))
        while True:
            t += timedelta(hours=self.rng.uniform(*step_hours))
            if t >= end:
                return
            for _ in range(self.rng.randint(1, 3)):
                self.land(t - timedelta(minutes=self.rng.uniform(10, 300)))
            roll = self.rng.random()
            if roll < 0.08 and len(self.deployed) > 1:  # a rollback to the previous deployed SHA
                self.deploy(t, self.deployed[-2])
            else:
                if not self.workflow and roll < 0.3:
                    self.deploy(t - timedelta(minutes=30), self.head(), "staging")
                self.deploy(t, self.head(), outcome=self.rng.choice(OUTCOMES))
            opened = t + timedelta(hours=self.rng.uniform(0.5, 30))
            if self.rng.random() < 0.15 and opened < end:
                self.incident(opened, self.rng.choice([None, 0.5, 3, 20, 60]))
