"""The PR cycle's legs in real time (receiver), on octokit's real payloads: pickup on the first
human review, review on the merge when that first review was seen."""
from __future__ import annotations

from receiver.sources.github.context import GithubContext
from tests.test_github_handlers import REPO, load, run

REVIEWER = {"login": "reviewer", "id": 99, "type": "User"}


def review(submitted_at: str, user: dict = REVIEWER) -> dict:
    payload = load("pull_request_review/submitted.payload.json")
    payload["review"].update(user=user, submitted_at=submitted_at)
    return payload


def merged(merged_at: str | None = "2019-05-15T20:20:33Z") -> dict:
    payload = load("pull_request/closed.payload.json")
    payload["pull_request"]["merged_at"] = merged_at
    return payload


def legs(metrics) -> dict[str, tuple[float, tuple]]:
    return {x.name: (x.value, x.tags) for x in metrics
            if x.name in ("github.prs.time_to_first_review", "github.prs.review_time")}


def test_review_leg_from_the_first_human_review_to_the_merge():
    ctx = GithubContext.from_options({})
    run("pull_request_review", review("2019-05-15T16:20:33Z", {"login": "copilot[bot]", "id": 5, "type": "Bot"}), ctx)
    first = legs(run("pull_request_review", review("2019-05-15T17:20:33Z"), ctx))
    assert first == {"github.prs.time_to_first_review": (7200.0, (("repo", REPO),))}  # pickup: 2 h
    run("pull_request_review", review("2019-05-15T19:20:33Z", {"login": "other", "id": 7, "type": "User"}), ctx)
    out = legs(run("pull_request", merged(), ctx))  # merged 5 h after creation
    assert out == {"github.prs.review_time": (3 * 3600.0, (("author_type", "human"), ("repo", REPO)))}
    assert legs(run("pull_request", merged(), ctx)) == {}  # a redelivered merge: the leg was sent


def test_no_review_leg_without_a_review_seen_or_after_the_merge():
    assert legs(run("pull_request", merged())) == {}  # the receiver saw no review: the poller covers it
    ctx = GithubContext.from_options({})
    run("pull_request_review", review("2019-05-15T21:20:33Z"), ctx)  # reviewed after the merge
    assert legs(run("pull_request", merged(), ctx)) == {}
    ctx = GithubContext.from_options({})
    run("pull_request_review", review("2019-05-15T17:20:33Z"), ctx)
    assert legs(run("pull_request", merged(None), ctx)) == {}  # closed unmerged: no leg
