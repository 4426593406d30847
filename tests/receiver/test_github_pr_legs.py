"""The PR cycle's legs in real time (receiver), on octokit's real payloads: pickup on the first
human review, review on the merge when that first review was seen."""

from __future__ import annotations

from receiver.sources.github.context import GithubContext
from tests.receiver.test_github_handlers import REPO, load, run

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
    return {
        x.name: (x.value, x.tags)
        for x in metrics
        if x.name in ("github.prs.time_to_first_review", "github.prs.review_time")
    }


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


def merge(number: int, merged_at: str, sha: str, user: dict | None = None) -> dict:
    payload = merged(merged_at)
    payload["pull_request"].update(
        number=number, merge_commit_sha=sha, created_at="2019-05-15T08:00:00Z", **({"user": user} if user else {})
    )
    return payload


def deployment(sha: str, at: str, environment: str = "production", state: str = "success", ident: int = 1) -> dict:
    payload = load("deployment_status/payload.json")
    payload["deployment"].update(sha=sha, id=ident)
    payload["deployment_status"].update(state=state, environment=environment, created_at=at)
    return payload


def deploys(metrics) -> list[tuple[float, str]]:
    return sorted((x.value, x.tag("author_type")) for x in metrics if x.name == "github.prs.deploy_time")


def test_deploy_leg_for_every_merge_a_production_deployment_shipped():
    ctx = GithubContext.from_options({})
    a, b, c = ("a" * 40, "b" * 40, "c" * 40)
    run("pull_request", merge(1, "2019-05-15T10:00:00Z", a), ctx)
    run("pull_request", merge(2, "2019-05-15T11:00:00Z", b, {"login": "dependabot[bot]", "id": 3, "type": "Bot"}), ctx)
    run("pull_request", merge(3, "2019-05-15T13:00:00Z", c), ctx)
    assert deploys(run("deployment_status", deployment(b, "2019-05-15T12:00:00Z", "staging"), ctx)) == []
    assert deploys(run("deployment_status", deployment(b, "2019-05-15T12:00:00Z", state="failure"), ctx)) == []
    out = run("deployment_status", deployment(b, "2019-05-15T12:00:00Z", ident=2), ctx)
    assert "dora.deployments" in {x.name for x in out}
    assert deploys(out) == [(3600.0, "bot"), (7200.0, "human")]  # #2 and the earlier #1; #3 not yet
    again = run("deployment_status", deployment(b, "2019-05-15T12:05:00Z", ident=2), ctx)  # the same one
    assert deploys(again) == [] and "dora.deployments" not in {x.name for x in again}
    assert deploys(run("deployment_status", deployment(b, "2019-05-15T15:00:00Z", ident=3), ctx)) == []  # shipped
    assert deploys(run("deployment_status", deployment(c, "2019-05-15T14:30:00Z", ident=4), ctx)) == [(5400.0, "human")]


def test_deploy_leg_from_a_deploy_workflow_and_nothing_for_an_unknown_sha():
    ctx = GithubContext.from_options({}, {"deploy_workflows": {"octo-org/octo-repo": "test.yml"}})
    payload = load("workflow_run/completed.payload.json")
    sha, repo_id = payload["workflow_run"]["head_sha"], payload["repository"]["id"]
    pr = merge(7, "2020-10-05T16:00:00Z", sha)
    pr["repository"] = payload["repository"]
    run("pull_request", pr, ctx)
    out = run("workflow_run", payload, ctx)  # succeeded at 16:33:49
    assert deploys(out) == [(2029.0, "human")] and ctx.merges.shipped(repo_id, sha, None) == []
    other = GithubContext.from_options({})
    assert deploys(run("deployment_status", deployment("f" * 40, "2019-05-15T12:00:00Z"), other)) == []


def test_the_review_leg_starts_at_the_earliest_review_even_one_delivered_late():
    """A redelivered review (its first delivery failed) arrives after a later one: the review
    leg still starts at the earlier; the pickup already sent from the later one stays."""
    ctx = GithubContext.from_options({})
    first = legs(run("pull_request_review", review("2019-05-15T19:20:33Z"), ctx))
    assert first == {"github.prs.time_to_first_review": (4 * 3600.0, (("repo", REPO),))}
    late = legs(
        run("pull_request_review", review("2019-05-15T17:20:33Z", {"login": "other", "id": 7, "type": "User"}), ctx)
    )
    assert late == {}  # the pickup was sent once
    out = legs(run("pull_request", merged(), ctx))
    assert out == {"github.prs.review_time": (3 * 3600.0, (("author_type", "human"), ("repo", REPO)))}


def test_a_review_after_the_merge_sends_no_pickup():
    after = review("2019-05-15T21:20:33Z")
    after["pull_request"]["merged_at"] = "2019-05-15T20:20:33Z"  # GitHub's payload once merged
    assert legs(run("pull_request_review", after)) == {}
