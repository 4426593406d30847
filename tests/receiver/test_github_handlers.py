"""Table tests of the pure GitHub handlers on real payloads (octokit's examples)."""

from __future__ import annotations

import copy
import json

import pytest

from orgpulse import metrics as m
from orgpulse.definitions import is_revert
from receiver.payload import View
from receiver.sources.github import HANDLERS
from receiver.sources.github.ci import runner_class
from receiver.sources.github.context import GithubContext
from tests.conftest import GITHUB
from tests.support.dogstatsd import PRODUCED


def load(name: str) -> dict:
    return json.loads((GITHUB / name).read_text())


def run(event: str, payload: dict, ctx: GithubContext | None = None):
    ctx = ctx or GithubContext.from_options({})
    out = HANDLERS[event](View(payload), ctx)
    for metric in out or []:
        assert m.problem(metric) is None, metric
        PRODUCED.add(metric.name)
    return out


def as_set(metrics) -> set[tuple]:
    return {(x.name, x.type, x.value, x.tags) for x in metrics}


def tags(**kw) -> tuple:
    return tuple(sorted(kw.items()))


REPO = "codertocat/hello-world"
PR_TAGS = {"repo": REPO, "author_type": "human", "branch_type": "default"}


def test_pr_opened_ready():
    out = run("pull_request", load("pull_request/opened.payload.json"))
    assert as_set(out) == {("github.prs.opened", "count", 1.0, tags(draft="false", **PR_TAGS))}


def test_pr_opened_draft_by_bot():
    payload = load("pull_request/opened.payload.json")
    payload["pull_request"]["draft"] = True
    payload["pull_request"]["user"] = {"login": "dependabot[bot]", "type": "Bot", "id": 49699333}
    out = run("pull_request", payload)
    assert as_set(out) == {("github.prs.opened", "count", 1.0, tags(draft="true", **{**PR_TAGS, "author_type": "bot"}))}


def test_pr_closed_without_merge():
    out = run("pull_request", load("pull_request/closed.payload.json"))
    assert as_set(out) == {("github.prs.closed_without_merge", "count", 1.0, tags(**PR_TAGS))}


def test_pr_merged_time_and_size_from_payload():
    payload = load("pull_request/closed.payload.json")
    pr = payload["pull_request"]
    pr.update(
        merged=True, merged_at="2019-05-16T17:20:33Z", additions=120, deletions=7, changed_files=4
    )  # created 2019-05-15T15:20:33Z: 26 h before
    out = run("pull_request", payload)
    t = tags(**PR_TAGS)
    assert as_set(out) == {
        ("github.prs.merged", "count", 1.0, t),
        ("github.prs.time_to_merge", "distribution", 26 * 3600.0, t),
        ("github.prs.lines_added", "count", 120.0, t),
        ("github.prs.lines_deleted", "count", 7.0, t),
        ("github.prs.files_changed", "count", 4.0, t),
    }


def test_pr_to_other_base_branch():
    payload = load("pull_request/reopened.payload.json")
    payload["pull_request"]["base"]["ref"] = "release-1.2"
    out = run("pull_request", payload)
    assert as_set(out) == {("github.prs.reopened", "count", 1.0, tags(**{**PR_TAGS, "branch_type": "other"}))}


def test_pr_ready_for_review_and_ignored_actions():
    out = run("pull_request", load("pull_request/ready_for_review.payload.json"))
    assert [x.name for x in out] == ["github.prs.ready_for_review"]
    for action in ("labeled", "assigned", "synchronize", "review_requested"):
        assert run("pull_request", load(f"pull_request/{action}.payload.json")) is None


def test_self_review_is_not_a_review():
    # In the example the reviewer is the PR's own author.
    assert run("pull_request_review", load("pull_request_review/submitted.payload.json")) is None


def test_review_by_other_with_pickup_time_once():
    payload = load("pull_request_review/submitted.payload.json")
    payload["review"]["user"] = {"login": "reviewer", "id": 99, "type": "User"}
    payload["review"]["state"] = "APPROVED"
    payload["review"]["submitted_at"] = "2019-05-15T17:20:33Z"  # 2 h after creation
    ctx = GithubContext.from_options({})
    first = run("pull_request_review", payload, ctx)
    assert as_set(first) == {
        ("github.prs.reviews", "count", 1.0, tags(repo=REPO, author_type="human", state="approved")),
        ("github.prs.time_to_first_review", "distribution", 7200.0, tags(repo=REPO)),
    }
    second = run("pull_request_review", payload, ctx)  # a later review: no pickup time
    assert [x.name for x in second] == ["github.prs.reviews"]


def test_bot_review_has_no_pickup_time():
    payload = load("pull_request_review/submitted.payload.json")
    payload["review"]["user"] = {"login": "copilot[bot]", "id": 5, "type": "Bot"}
    out = run("pull_request_review", payload)
    assert as_set(out) == {("github.prs.reviews", "count", 1.0, tags(repo=REPO, author_type="bot", state="commented"))}


def _push(branch: str, messages: list[str], forced=False, distinct=True) -> dict:
    payload = load("push/with-new-branch.payload.json")
    payload.update(ref=f"refs/heads/{branch}", forced=forced, deleted=False)
    template = {"id": "0" * 40, "distinct": distinct, "author": {"name": "x", "email": "x@y"}}
    payload["commits"] = [{**template, "message": msg} for msg in messages]
    return payload


def test_push_to_default_branch_counts_reverts_hotfixes_forced():
    payload = _push(
        "master",
        [
            'Revert "Add feature"\n\nThis reverts commit abcdef1.',
            "revert(api): drop v1",
            "hotfix: null deref",
            "Add docs",
        ],
        forced=True,
    )
    repo = payload["repository"]["full_name"].lower()
    t = tags(repo=repo, branch_type="default")
    out = run("push", payload)
    assert as_set(out) == {
        ("github.push.commits", "count", 4.0, tags(repo=repo, branch_type="default", author_type="human")),
        ("github.push.forced", "count", 1.0, t),
        ("github.push.reverts", "count", 2.0, t),
        ("github.push.hotfixes", "count", 1.0, t),
    }


def test_push_to_hotfix_branch_counts_distinct_commits_only():
    payload = _push("hotfix/login", ["fix a", "fix b"])
    payload["commits"][1]["distinct"] = False
    out = {x.name: x.value for x in run("push", payload)}
    assert out == {"github.push.commits": 1.0, "github.push.hotfixes": 1.0}


def test_tag_push_and_branch_deletion_are_ignored():
    assert run("push", load("push/payload.json")) is None  # refs/tags/…, deleted


@pytest.mark.parametrize(
    "message,expected",
    [
        ('Revert "feat: x"', True),
        ("revert: x", True),
        ("revert(ui)!: x", True),
        ("Fix the revert button", False),
        ("reverted nothing", False),
        ("Squash\n\nThis reverts commit 1234567.", True),
    ],
)
def test_is_revert(message, expected):
    assert is_revert(message) is expected


def test_create_delete_refs():
    out = run("create", load("create/payload.json"))
    assert as_set(out) == {("github.refs.created", "count", 1.0, tags(repo=REPO, ref_type="tag"))}
    out = run("delete", load("delete/payload.json"))
    assert [x.name for x in out] == ["github.refs.deleted"]


WF_REPO = "octo-org/octo-repo"


def test_workflow_run_completed_on_default_branch():
    payload = load("workflow_run/completed.payload.json")
    run_ = payload["workflow_run"]
    run_.update(
        name="Tests",
        conclusion="failure",
        created_at="2020-10-05T16:33:24Z",
        run_started_at="2020-10-05T16:34:00Z",
        updated_at="2020-10-05T16:44:00Z",
    )
    out = run("workflow_run", payload)
    t = {"repo": WF_REPO, "workflow": "tests"}
    assert as_set(out) == {
        ("github.ci.runs", "count", 1.0, tags(conclusion="failure", branch_type="default", **t)),
        ("github.ci.run_time", "distribution", 600.0, tags(conclusion="failure", branch_type="default", **t)),
        ("github.ci.queue_time", "distribution", 36.0, tags(**t)),
        ("github.ci.tests_passing_on_main", "gauge", 0.0, tags(**t)),
    }


def test_cancelled_run_does_not_move_tests_passing():
    payload = load("workflow_run/completed.payload.json")
    payload["workflow_run"]["conclusion"] = "cancelled"
    names = [x.name for x in run("workflow_run", payload)]
    assert "github.ci.tests_passing_on_main" not in names
    payload["workflow_run"]["conclusion"] = "timed_out"
    gauges = [x for x in run("workflow_run", payload) if x.type == "gauge"]
    assert [(x.name, x.value) for x in gauges] == [("github.ci.tests_passing_on_main", 0.0)]


def test_fork_pr_from_its_own_main_is_not_main():
    payload = load("workflow_run/completed.payload.json")
    payload["workflow_run"]["head_repository"] = {"id": 1234, "full_name": "fork/octo-repo"}
    out = run("workflow_run", payload)
    assert {x.tag("branch_type") for x in out if x.tag("branch_type")} == {"other"}
    assert "github.ci.tests_passing_on_main" not in [x.name for x in out]


def test_benchmark_workflow_and_rerun_flake():
    ctx = GithubContext.from_options({"benchmark_workflows": "(?i)perf"})
    payload = load("workflow_run/completed.payload.json")
    payload["workflow_run"].update(name="Perf suite", conclusion="failure", run_attempt=1)
    first = run("workflow_run", payload, ctx)
    assert ("github.ci.benchmarks_passing", 0.0) in [(x.name, x.value) for x in first]
    rerun = copy.deepcopy(payload)
    rerun["workflow_run"].update(conclusion="success", run_attempt=2)
    out = run("workflow_run", rerun, ctx)
    names = {x.name: x for x in out}
    assert names["github.ci.benchmarks_passing"].value == 1.0
    assert names["github.ci.reruns"].tags == tags(repo=WF_REPO, workflow="perf_suite", conclusion="success")
    assert names["github.ci.flaky_checks"].tags == tags(repo=WF_REPO, kind="workflow_run")
    assert "github.ci.queue_time" not in names  # a re-run keeps the first created_at


def test_workflow_run_requested_is_ignored():
    assert run("workflow_run", load("workflow_run/requested.payload.json")) is None


def test_workflow_job_completed():
    out = run("workflow_job", load("workflow_job/completed.failure.with-organization.payload.json"))
    t = {"repo": REPO, "workflow": "codeql", "runner_class": "github_hosted_linux"}
    assert as_set(out) == {
        ("github.ci.jobs", "count", 1.0, tags(conclusion="failure", **t)),
        ("github.ci.job_queue_time", "distribution", 60.0, tags(**t)),
        ("github.ci.job_run_time", "distribution", 198.0, tags(conclusion="failure", **t)),
    }
    assert run("workflow_job", load("workflow_job/queued.payload.json")) is None


@pytest.mark.parametrize(
    "labels,expected",
    [
        (["ubuntu-latest"], "github_hosted_linux"),
        (["self-hosted", "linux", "gpu"], "self_hosted_linux"),
        (["macos-14"], "github_hosted_macos"),
        (["windows-2022"], "github_hosted_windows"),
        (["self-hosted", "h100"], "self_hosted_other"),
        ([], "github_hosted_other"),
    ],
)
def test_runner_class_is_bounded(labels, expected):
    assert runner_class(View({"labels": labels})) == expected


def test_check_run_failed_then_passed_is_flaky_once():
    ctx = GithubContext.from_options({})
    payload = load("check_run/completed.payload.json")
    payload["check_run"]["conclusion"] = "failure"
    assert [x.name for x in run("check_run", payload, ctx)] == ["github.checks.completed"]
    payload["check_run"]["conclusion"] = "success"
    out = run("check_run", payload, ctx)
    assert as_set(out) == {
        ("github.checks.completed", "count", 1.0, tags(repo=REPO, kind="check_run", conclusion="success")),
        ("github.ci.flaky_checks", "count", 1.0, tags(repo=REPO, kind="check_run")),
    }
    assert [x.name for x in run("check_run", payload, ctx)] == ["github.checks.completed"]


def test_check_suite_flake_keyed_by_head_sha():
    ctx = GithubContext.from_options({})
    failed = load("check_suite/completed.payload.json")
    failed["check_suite"]["conclusion"] = "failure"
    run("check_suite", failed, ctx)
    other_commit = copy.deepcopy(failed)
    other_commit["check_suite"].update(conclusion="success", head_sha="f" * 40)
    assert "github.ci.flaky_checks" not in [x.name for x in run("check_suite", other_commit, ctx)]
    same = copy.deepcopy(failed)
    same["check_suite"]["conclusion"] = "success"
    assert "github.ci.flaky_checks" in [x.name for x in run("check_suite", same, ctx)]


def test_deployment_status_environment_is_bounded():
    ctx = GithubContext.from_options({"environments": ["production", "staging"]})
    out = run("deployment_status", load("deployment_status/payload.json"), ctx)
    assert as_set(out) == {
        ("github.deployments.statuses", "count", 1.0, tags(repo=REPO, environment="production", state="success")),
        ("dora.deployments", "count", 1.0, tags(repo=REPO, environment="production")),
    }
    payload = load("deployment_status/payload.json")
    payload["deployment_status"]["environment"] = "pr-1234-preview"
    assert run("deployment_status", payload, ctx)[0].tag("environment") == "other"


def test_workflow_tag_is_capped():
    ctx = GithubContext.from_options({"max_workflows": 2})
    payload = load("workflow_run/completed.payload.json")
    seen = []
    for name in ("a", "b", "c", "a"):
        payload["workflow_run"]["name"] = name
        seen.append(run("workflow_run", payload, ctx)[0].tag("workflow"))
    assert seen == ["a", "b", "other", "a"]
