"""The receiver and the poller agree on a pull request's first review and its cycle's legs
(orgpulse/definitions.py): the same pull request is fed once as webhook deliveries, signed,
through the real receiver app, in the order GitHub sends them, and once as API records through
the GitHub collector and PyGithub against the fake GitHub (REST and GraphQL) — and both give the
same pickup, review and deploy legs, or both give none.

Before the definitions were shared, the receiver compared user ids and took the first review it
saw (even one after the merge); the poller compared logins and required the review before the
merge: the "reviewed only after the merge" rows below told them apart."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from github import Auth, Github

from pollers.github.collector import GithubCollector
from pollers.github.http import GithubHttp
from tests.conftest import GITHUB
from tests.fakes.github_api import FakeGithub
from tests.support.dogstatsd import produced
from tests.support.github_history import iso, pull
from tests.support.inprocess import Receiver

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
REPO, REPO_ID, NUMBER = "org/app", 4242, 7
MERGE_SHA = "a" * 40
# People as webhooks show them (REST: numeric id, login, type); the fake's GraphQL shows logins.
PEOPLE = {
    "octocat": {"login": "octocat", "id": 1, "type": "User"},
    "alice": {"login": "alice", "id": 2, "type": "User"},
    "bob": {"login": "bob", "id": 3, "type": "User"},
    "coderabbitai[bot]": {"login": "coderabbitai[bot]", "id": 4, "type": "Bot"},
}
AUTHOR = "octocat"
CREATED_H, MERGED_H, DEPLOYED_H = -30, -20, -19  # hours from NOW

# (reviews as (login, hours from NOW), expected legs in hours: pickup, review, deploy)
ROWS = {
    "one reviewer": ([("alice", -28)], (2, 8, 1)),
    "the author's own review first": ([(AUTHOR, -29), ("alice", -27)], (3, 7, 1)),
    "a bot first": ([("coderabbitai[bot]", -29.5), ("alice", -26)], (4, 6, 1)),
    "two people: the earliest": ([("alice", -27), ("bob", -25)], (3, 7, 1)),
    "reviewed only after the merge": ([("alice", -10)], (None, None, 1)),
    "one review after the merge, one before": ([("alice", -22), ("bob", -10)], (8, 2, 1)),
    "only the author and a bot": ([(AUTHOR, -29), ("coderabbitai[bot]", -28)], (None, None, 1)),
}


def _at(hours: float) -> str:
    return iso(NOW + timedelta(hours=hours))


def _fixture(name: str) -> dict:
    return json.loads((GITHUB / name).read_text())


def _pr(payload: dict, merged: bool) -> dict:
    payload["repository"].update(full_name=REPO, id=REPO_ID)
    payload["pull_request"].update(
        number=NUMBER,
        user=PEOPLE[AUTHOR],
        created_at=_at(CREATED_H),
        merged_at=_at(MERGED_H) if merged else None,
        merge_commit_sha=MERGE_SHA if merged else None,
    )
    return payload


def deliveries(reviews: list[tuple[str, float]]) -> list[tuple[float, str, dict]]:
    """(when, event, payload) in the order GitHub sends them: each review as submitted, the
    merge, the production deployment. A review after the merge shows the merged PR, as GitHub's do."""
    out = []
    for login, hours in reviews:
        payload = _pr(copy.deepcopy(_fixture("pull_request_review/submitted.payload.json")), hours > MERGED_H)
        payload["review"].update(user=PEOPLE[login], submitted_at=_at(hours), state="commented")
        out.append((hours, "pull_request_review", payload))
    out.append((MERGED_H, "pull_request", _pr(_fixture("pull_request/closed.payload.json"), merged=True)))
    deployment = _fixture("deployment_status/payload.json")
    deployment["repository"].update(full_name=REPO, id=REPO_ID)
    deployment["deployment"].update(sha=MERGE_SHA, id=99, environment="production")
    deployment["deployment_status"].update(state="success", environment="production", created_at=_at(DEPLOYED_H))
    out.append((DEPLOYED_H, "deployment_status", deployment))
    return sorted(out, key=lambda d: d[0])


def receiver_legs(tmp_path, reviews) -> tuple:
    config = tmp_path / "orgpulse.yaml"
    config.write_text(json.dumps({"github": {"repositories": [REPO]}}))
    receiver = Receiver(tmp_path / "data", {"ORGPULSE_CONFIG": str(config)})
    for _, event, payload in deliveries(reviews):
        response = receiver.github(json.dumps(payload).encode(), event)
        assert response.json["result"] in ("accepted", "ignored"), response.json  # ignored: an own review
    sent = {x.name: x.value for x in receiver.lines() if x.type == "distribution"}
    return tuple(
        None if (v := sent.get(f"github.prs.{name}")) is None else v / 3600
        for name in ("time_to_first_review", "review_time", "deploy_time")
    )


def poller_legs(reviews) -> tuple:
    fake = FakeGithub()
    try:
        fake.add_repo(REPO)["pulls"].append(
            pull(
                NUMBER,
                NOW,
                created_h=CREATED_H,
                merged_h=MERGED_H,
                user=PEOPLE[AUTHOR],
                merge_commit_sha=MERGE_SHA,
                reviewers=reviews,
            )
        )
        gh = Github(
            auth=Auth.Token(fake.token),
            base_url=fake.url,
            retry=None,
            seconds_between_requests=0,
            seconds_between_writes=0,
        )
        deployed = {(REPO, MERGE_SHA): NOW + timedelta(hours=DEPLOYED_H)}
        collector = GithubCollector(
            GithubHttp(gh.requester, 1.0), [REPO], {"budget_share": 1.0}, lambda repo, sha: deployed.get((repo, sha))
        )
        got = {x.name: x.value for x in produced(collector.collect(NOW))}
        assert not fake.rejected_queries, fake.rejected_queries
    finally:
        fake.close()
    return tuple(got.get(f"github.prs.{name}_time_p50_hours") for name in ("pickup", "review", "deploy"))


@pytest.mark.parametrize("row", ROWS)
def test_the_receiver_and_the_poller_give_the_same_legs(tmp_path, row):
    reviews, expected = ROWS[row]
    assert receiver_legs(tmp_path, reviews) == pytest.approx(expected)
    assert poller_legs(reviews) == pytest.approx(expected)
