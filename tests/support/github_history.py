"""Generated GitHub histories for the fake API: pulls, commits, runs, force pushes, branches."""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

HUMAN = {"login": "octocat", "type": "User"}
BOT = {"login": "dependabot[bot]", "type": "Bot"}


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def pull(
    number,
    now,
    *,
    state="closed",
    created_h=-48,
    merged_h=None,
    closed_h=None,
    updated_h=None,
    draft=False,
    user=HUMAN,
    reviewers=("reviewer",),
    comments=2,
    review_comments=0,
    additions=10,
    deletions=3,
    changed_files=2,
    first_commit_h=None,
    merge_commit_sha=None,
):
    """A pull request as REST lists it, with what GraphQL serves in `_` keys. `reviewers`: logins
    (reviewing an hour after the PR was created) or (login, hours from now) pairs."""
    created = now + timedelta(hours=created_h)
    merged = now + timedelta(hours=merged_h) if merged_h is not None else None
    closed = now + timedelta(hours=closed_h) if closed_h is not None else merged
    updated = now + timedelta(hours=updated_h) if updated_h is not None else (closed or created)
    return {
        "number": number,
        "state": state,
        "draft": draft,
        "user": user,
        "created_at": iso(created),
        "updated_at": iso(updated),
        "closed_at": iso(closed) if closed else None,
        "merged_at": iso(merged) if merged else None,
        "merge_commit_sha": merge_commit_sha or (f"{number:x}".rjust(40, "e") if merged else None),
        "_additions": additions,
        "_deletions": deletions,
        "_changed_files": changed_files,
        "_comments": comments,
        "_review_comments": review_comments,
        "_reviews": [
            {"login": r, "at": iso(created + timedelta(hours=1))}
            if isinstance(r, str)
            else {"login": r[0], "at": iso(now + timedelta(hours=r[1]))}
            for r in reviewers
        ],
        "_first_commit_at": iso(
            now + timedelta(hours=first_commit_h if first_commit_h is not None else created_h - 24)
        ),
    }


def commit(sha, now, hours, message="Add things", author=HUMAN, email="dev@example.com"):
    t = iso(now + timedelta(hours=hours))
    return {
        "sha": sha,
        "author": author,
        "commit": {"message": message, "author": {"email": email, "date": t}, "committer": {"date": t}},
    }


def run(
    run_id,
    now,
    *,
    name="Tests",
    created_h=-2,
    queue_s=30,
    run_s=600,
    conclusion="success",
    branch="main",
    attempt=1,
    status="completed",
    repo="org/app",
    sha=None,
    earlier=None,
):
    """A workflow run as the REST list shows it (its latest attempt). `earlier`: the
    conclusions of attempts 1..attempt-1 (default: each failed), served by /attempts/{n}."""
    created = now + timedelta(hours=created_h)
    started = created + timedelta(seconds=queue_s)
    earlier = ["failure"] * (attempt - 1) if earlier is None else list(earlier)
    assert len(earlier) == attempt - 1
    return {
        "id": run_id,
        "name": name,
        "workflow_id": zlib.crc32(name.encode()),
        "head_branch": branch,
        "head_sha": sha or f"{run_id:040x}",
        "status": status,
        "conclusion": conclusion if status == "completed" else None,
        "run_attempt": attempt,
        "created_at": iso(created),
        "run_started_at": iso(started),
        "updated_at": iso(started + timedelta(seconds=run_s)),
        "head_repository": {"full_name": repo},
        "_attempts": [
            {
                "run_attempt": k + 1,
                "conclusion": c,
                "status": "completed",
                "updated_at": iso(created + timedelta(seconds=5 * (k + 1))),
            }
            for k, c in enumerate(earlier)
        ],
    }


def generated(
    fake,
    repo: str,
    now: datetime,
    prs: int,
    runs_per_day: int = 20,
    commits: int = 80,
    commit_every_h: float = 2.0,
    branches: int = 30,
):
    """A repository with `prs` pull requests over a year, `runs_per_day` workflow runs for nine
    days and `commits` default-branch commits every `commit_every_h` hours, newest first."""
    state = fake.add_repo(repo)
    for n in range(1, prs + 1):
        age_h = -(n * 24 * 365 / max(prs, 1))  # spread over a year, newest first
        if n % 10 == 0:
            state["pulls"].append(pull(n, now, state="open", created_h=age_h, updated_h=age_h / 2))
        else:
            state["pulls"].append(pull(n, now, created_h=age_h - 30, merged_h=age_h))
    for i in range(commits):
        state["commits"].append(commit(f"{i:040x}", now, -i * commit_every_h))
    k = 0
    for day in range(9):
        for j in range(runs_per_day):
            k += 1
            state["runs"].append(run(k, now, created_h=-day * 24 - j * 24 / runs_per_day - 0.1, repo=repo))
    state["branches"] = [(f"b{i}", iso(now - timedelta(days=i * 30 / branches))) for i in range(branches)]
    return state
