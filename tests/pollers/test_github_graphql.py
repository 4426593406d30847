"""GraphQL against GitHub's real schema: what the fake refuses, and the poller when GraphQL
fails (an outage, its own points limit spent, a query refused) — the REST parts go on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from github import Auth, Github

from pollers.github.http import GithubHttp, GraphqlRejected
from tests.pollers.test_github_collector import (
    NOW,
    REPO,
    Clock,
    collect,
    collector,
    errors,
    hand_made,
    pending,
)
from tests.support.github_history import pull

REST_PARTS = {
    "github.prs.open",
    "github.prs.merged_7d",
    "github.prs.time_to_merge_p90_hours",
    "github.commits.total_7d",
    "github.ci.workflow_runs_7d",
    "github.ci.flaky_checks_7d",
    "github.ci.tests_passing_on_main",
    "github.commits.force_merge_7d",
}
GRAPHQL_PARTS = {
    "github.code.lines_added_7d",
    "github.prs.cycle_time_hours",
    "github.prs.review_coverage_pct",
    "github.prs.avg_comments_per_pr",
    "github.branches.active",
}


def http(fake_github) -> GithubHttp:
    gh = Github(
        auth=Auth.Token(fake_github.token),
        base_url=fake_github.url,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    return GithubHttp(gh.requester, 1.0)


@pytest.mark.parametrize(
    "selection,refusal",
    [
        ("pullRequest(number: 1) { reviewCount }", "Cannot query field 'reviewCount' on type 'PullRequest'"),
        ("pullRequest(number: 1) { reviews(first: 5, kind: HUMAN) { totalCount } }", "Unknown argument 'kind'"),
        (
            'refs(refPrefix: "refs/heads/", first: 5, orderBy: {field: COMMIT_DATE, direction: DESC}) { totalCount }',
            "Value 'COMMIT_DATE' does not exist in 'RefOrderField' enum",
        ),
        ("pullRequest(number: 1) { reviews(first: 101) { totalCount } }", "exceeds the `first` limit of 100"),
        ("pullRequest(number: 1) { commits { nodes { url } } }", "You must provide a `first` or `last` value"),
        (
            "pullRequest(number: 1) { ... on PullRequest { reviews { edges { cursor } } } }",
            "You must provide a `first` or `last` value",
        ),
    ],
)
def test_the_fake_refuses_what_github_refuses(fake_github, selection, refusal):
    fake_github.add_repo(REPO)["pulls"].append(pull(1, NOW, merged_h=-1))
    query = "query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { " + selection + " } }"
    with pytest.raises(GraphqlRejected) as caught:
        http(fake_github).graphql(query, {"owner": "org", "name": "app"})
    assert caught.value.reason == "graphql_rejected"
    assert refusal in " ".join(fake_github.rejected_queries), fake_github.rejected_queries
    fake_github.rejected_queries.clear()


def test_a_bots_graphql_login_has_no_bot_suffix(fake_github):
    fake_github.add_repo(REPO)["pulls"].append(pull(1, NOW, merged_h=-1, reviewers=("renovate[bot]", "octocat")))
    query = (
        "query($owner: String!, $name: String!) { rateLimit { cost remaining resetAt } "
        "repository(owner: $owner, name: $name) { pullRequest(number: 1) { "
        "reviews(first: 10) { nodes { author { __typename login } } } } } }"
    )
    data = http(fake_github).graphql(query, {"owner": "org", "name": "app"})
    authors = [n["author"] for n in data["repository"]["pullRequest"]["reviews"]["nodes"]]
    assert authors == [{"__typename": "Bot", "login": "renovate"}, {"__typename": "User", "login": "octocat"}]
    assert data["rateLimit"]["cost"] == 1 and data["rateLimit"]["remaining"] == 4999


def _outage(fake_github):
    fake_github.fail("/graphql", *[(502, {}, 0)] * 5)


def _points_spent(fake_github):
    fake_github.graphql_remaining = 0


def _refused(fake_github):
    fake_github.fail("/graphql", *[(200, {}, 0)] * 5)  # HTTP 200 with `errors`: how GitHub refuses a query


@pytest.mark.parametrize(
    "break_graphql,reasons,graphql_requests",
    [
        (_outage, ["fetch_failed"] * 2, 2),
        # GitHub's points spent during the first cycle's backfill: a limit to wait out, pending
        # while the backfill progresses (pollers/github/backfill.py), not an error yet
        (_points_spent, [], 1),
        (_refused, ["graphql_rejected"] * 2, 2),
    ],
)
def test_graphql_failing_never_takes_the_rest_parts_down(fake_github, break_graphql, reasons, graphql_requests):
    hand_made(fake_github)
    break_graphql(fake_github)
    out = collector(fake_github).collect(NOW)
    assert errors(out) == reasons  # merged PRs' details and branches
    names = {x.name for x in out}
    assert names >= REST_PARTS and not GRAPHQL_PARTS & names
    # a spent points limit is not asked again before it resets
    assert fake_github.requests["/graphql"] == graphql_requests


def test_graphql_points_are_spent_within_the_limit_and_asked_again_after_reset(fake_github):
    clock = Clock()
    fake_github.graphql_clock = clock
    fake_github.graphql_reset = clock() + 3600
    hand_made(fake_github)
    fake_github.graphql_remaining = 1  # one query left this hour
    c = collector(fake_github, clock=clock)
    out = c.collect(NOW)
    # the branches query was not even sent: their first read waits (pending, not an error)
    assert errors(out) == [] and pending(out) == 1
    assert "github.prs.cycle_time_hours" in {x.name for x in out} and fake_github.requests["/graphql"] == 1
    clock.now += 1800
    out = c.collect(NOW + timedelta(minutes=30))
    assert errors(out) == [] and pending(out) == 1 and fake_github.requests["/graphql"] == 1
    clock.now += 1801  # past resetAt: GitHub gives the points back
    got = collect(c, NOW + timedelta(hours=1, minutes=1))
    assert got[("github.branches.active", None)] == 2 and fake_github.requests["/graphql"] == 2
    # backfilled: a spent points limit now fails what needs GraphQL (a newly merged PR's details)
    fake_github.graphql_remaining, fake_github.graphql_reset = 0, clock() + 3600
    fake_github.repos[REPO]["pulls"].append(pull(3, NOW, merged_h=1.2, created_h=-5))
    out = c.collect(NOW + timedelta(hours=1, minutes=16))
    assert errors(out) == ["graphql_rate_limited"] and pending(out) == 0
