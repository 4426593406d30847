"""The definitions the receiver and the poller share (orgpulse/definitions.py), and the receiver
applying them: flaky per (repo, workflow, head SHA), benchmarks apart from tests; the same
account, the first review by another human, the legs of a pull request's cycle (the two sides
agreeing on one pull request: test_pr_legs_agree.py)."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime

import pytest

from orgpulse import definitions
from orgpulse import metrics as m
from orgpulse.definitions import count_flaky, flaky_step, passing_gauge
from receiver.payload import View
from receiver.sources.github import HANDLERS
from receiver.sources.github.context import GithubContext
from tests.conftest import GITHUB
from tests.support.dogstatsd import produced


def completed_run(**fields) -> dict:
    payload = json.loads((GITHUB / "workflow_run/completed.payload.json").read_text())
    payload["workflow_run"].update(fields)
    return payload


def names(payload: dict, ctx: GithubContext) -> list[str]:
    return [x.name for x in produced(HANDLERS["workflow_run"](View(payload), ctx))]


@pytest.mark.parametrize(
    "conclusions,flaky",
    [
        (["failure", "success"], 1),
        (["timed_out", "success"], 1),
        (["success", "failure"], 0),  # passing first, then failing: broken, not flaky
        (["failure", "cancelled", "success"], 1),  # a cancelled attempt says nothing
        (["failure", "success", "failure", "success"], 1),  # counted once per (workflow, SHA)
        (["cancelled", "success"], 0),
        (["failure", "failure"], 0),
    ],
)
def test_flaky_rule(conclusions, flaky):
    assert count_flaky(("key", c) for c in conclusions) == flaky


def test_flaky_step_keeps_keys_apart():
    assert count_flaky([("a", "failure"), ("b", "success"), ("b", "failure"), ("a", "success")]) == 1
    assert flaky_step(None, "success") == (None, False)  # nothing to remember for a plain pass


def test_passing_gauge():
    bench = re.compile("(?i)bench")
    assert passing_gauge("Benchmarks", bench) == "github.ci.benchmarks_passing"
    assert passing_gauge("Tests", bench) == "github.ci.tests_passing_on_main"


def test_receiver_new_run_on_the_same_sha_after_a_failure_is_flaky():
    ctx = GithubContext.from_options({})
    failed = completed_run(id=1, name="Tests", conclusion="failure", run_attempt=1)
    assert "github.ci.flaky_checks" not in names(failed, ctx)
    other_sha = completed_run(id=2, name="Tests", conclusion="success", run_attempt=1, head_sha="f" * 40)
    assert "github.ci.flaky_checks" not in names(other_sha, ctx)
    other_workflow = completed_run(id=3, name="Lint", workflow_id=99, conclusion="success", run_attempt=1)
    assert "github.ci.flaky_checks" not in names(other_workflow, ctx)
    new_run = completed_run(id=4, name="Tests", conclusion="success", run_attempt=1)  # workflow_dispatch, a re-push…
    out = produced(HANDLERS["workflow_run"](View(new_run), ctx))
    flakes = [x for x in out if x.name == "github.ci.flaky_checks"]
    assert [(x.value, x.tags) for x in flakes] == [(1.0, (("kind", "workflow_run"), ("repo", "octo-org/octo-repo")))]
    again = copy.deepcopy(new_run)
    assert "github.ci.flaky_checks" not in names(again, ctx)  # once per (workflow, head SHA)


def test_receiver_benchmark_never_turns_tests_passing_red():
    ctx = GithubContext.from_options({"benchmark_workflows": "(?i)perf"})
    out = produced(HANDLERS["workflow_run"](View(completed_run(name="Perf suite", conclusion="failure")), ctx))
    gauges = {x.name: x.value for x in out if x.type == m.GAUGE}
    assert gauges == {"github.ci.benchmarks_passing": 0.0}
    out = produced(HANDLERS["workflow_run"](View(completed_run(name="Tests", conclusion="success")), ctx))
    assert {x.name: x.value for x in out if x.type == m.GAUGE} == {"github.ci.tests_passing_on_main": 1.0}


# ------------------------------------------------------------------ first review and legs
@pytest.mark.parametrize(
    "a, b, same",
    [
        ({"id": 1, "login": "octocat"}, {"id": 1, "login": "renamed"}, True),  # an account renamed
        ({"id": 1, "login": "octocat"}, {"id": 2, "login": "octocat"}, False),  # ids decide when both have one
        ({"id": 1, "login": "Octocat"}, {"login": "octocat"}, True),  # GraphQL: logins, no case
        ({"id": 1, "login": "octocat"}, {"id": "MDQ6VXNlcjE=", "login": "x"}, False),  # a node id is no id
        ({"login": "octocat"}, None, False),
        ({}, {}, False),  # nobody is nobody else
    ],
)
def test_same_account(a, b, same):
    assert definitions.same_account(a, b) is same


def test_the_first_review_is_the_earliest_by_another_human_before_the_merge():
    author = {"login": "octocat", "id": 1, "type": "User"}
    reviews = [
        ({"login": "bob", "id": 3}, "2026-11-26T09:00:00Z"),  # listed first, later
        ({"login": "octocat", "id": 1}, "2026-11-26T07:00:00Z"),  # the author
        ({"login": "coderabbitai", "__typename": "Bot"}, "2026-11-26T07:30:00Z"),
        ({"login": "alice", "id": 2}, "2026-11-26T08:00:00Z"),
        ({"login": "dave", "id": 5}, None),  # pending: no time
        (None, "2026-11-26T06:00:00Z"),  # a deleted account
        ({"login": "carol", "id": 4}, "2026-11-26T13:00:00Z"),
    ]  # after the merge
    merged = "2026-11-26T12:00:00Z"
    assert definitions.first_review(author, reviews, merged) == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert definitions.first_review(author, reviews[1:3] + reviews[4:], merged) is None
    assert definitions.first_review(author, reviews[-1:], None) is not None  # not merged yet: any time


def test_legs_run_from_one_moment_to_the_next_and_none_is_never_a_zero():
    moments = {
        "first_commit": "2026-11-25T08:00:00Z",
        "created": "2026-11-25T10:00:00Z",
        "first_review": "2026-11-25T13:00:00Z",
        "merged": "2026-11-26T01:00:00Z",
    }
    assert {n: definitions.leg(n, moments) for n in definitions.LEGS} == {
        "coding": 7200.0,
        "pickup": 10800.0,
        "review": 43200.0,
        "deploy": None,
    }
    assert definitions.leg("coding", {**moments, "first_commit": "2026-11-25T11:00:00Z"}) is None  # negative
