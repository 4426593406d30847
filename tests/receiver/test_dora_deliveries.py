"""DORA in the receiver: real `deployment`, `deployment_status`, `workflow_run` and `issues`
deliveries (octokit's examples, and two derived from them — fixtures/github/DERIVED.md),
signed, through the Flask app, to a real DogStatsD listener."""

from __future__ import annotations

import copy
import json

import pytest

from orgpulse.emit import DogStatsdSink, Emitter
from receiver import create_app
from tests.conftest import GITHUB, github_headers, received

REPO = "codertocat/hello-world"
OPTIONS = {"dora": {"incident_label": "bug", "deploy_workflows": {"octo-org/octo-repo": "test.yml"}}}


def load(name: str) -> dict:
    return json.loads((GITHUB / name).read_text())


@pytest.fixture
def make_app(make_settings, receiver_env):
    def make(options: dict = OPTIONS):
        settings = make_settings(receiver_env, options)
        app = create_app(settings, Emitter(DogStatsdSink(settings), strict=True))
        app.config["TESTING"] = True
        return app

    return make


def deliver(app, event: str, payload: dict | str, delivery: str | None = None) -> int:
    body = (GITHUB / payload).read_bytes() if isinstance(payload, str) else json.dumps(payload).encode()
    return (
        app.test_client().post("/webhooks/github", data=body, headers=github_headers(body, event, delivery)).status_code
    )


def dora(app, statsd) -> list[tuple]:
    return sorted(
        (x.name, x.value, tuple(sorted(t for t in x.tags if not t.startswith(("env:", "service:")))))
        for x in received(app, statsd)
        if x.name.startswith("dora.")
    )


def test_a_production_success_counts_once_per_deployment(make_app, statsd):
    app = make_app()
    assert deliver(app, "deployment", "deployment/payload.json") == 202  # created: not a deployment
    assert deliver(app, "deployment_status", "deployment_status/gh-pages.payload.json") == 200
    assert dora(app, statsd) == []  # github-pages, in progress
    assert deliver(app, "deployment_status", "deployment_status/payload.json", "d-1") == 200
    assert deliver(app, "deployment_status", "deployment_status/payload.json", "d-1") == 200  # redelivery
    # the same deployment's success again, in another delivery (the installation's copy)
    assert deliver(app, "deployment_status", "deployment_status/with-installation.payload.json") == 200
    assert dora(app, statsd) == [("dora.deployments", 1.0, ("environment:production", f"repo:{REPO}"))]


def test_a_failed_status_is_no_deployment(make_app, statsd):
    app = make_app()
    assert deliver(app, "deployment_status", "deployment_status/failure.derived.payload.json") == 200
    lines = received(app, statsd)
    assert [x.tag_map["state"] for x in lines if x.name == "github.deployments.statuses"] == ["failure"]
    assert not [x for x in lines if x.name.startswith("dora.")]


@pytest.mark.parametrize(
    "environment,counted",
    [
        ("production", True),
        ("Production", True),
        ("prod", True),
        ("production-eu", False),
        ("staging", False),
        ("preprod", False),
    ],
)
def test_production_is_the_configured_pattern(make_app, statsd, environment, counted):
    payload = load("deployment_status/payload.json")
    payload["deployment_status"]["environment"] = payload["deployment"]["environment"] = environment
    app = make_app()
    deliver(app, "deployment_status", payload)
    assert bool(dora(app, statsd)) is counted


def test_a_repository_with_a_deploy_workflow_counts_its_runs_not_its_deployments(make_app, statsd):
    app = make_app(
        {"dora": {"deploy_workflows": {"codertocat/hello-world": "deploy.yml", "octo-org/octo-repo": "test.yml"}}}
    )
    deliver(app, "deployment_status", "deployment_status/payload.json")
    deliver(app, "workflow_run", "workflow_run/requested.payload.json")  # not completed
    assert dora(app, statsd) == []
    deliver(app, "workflow_run", "workflow_run/completed.payload.json")  # test.yml, success, master
    deliver(app, "workflow_run", "workflow_run/completed.with-pull-requests.payload.json")  # same run
    assert dora(app, statsd) == [("dora.deployments", 1.0, ("environment:production", "repo:octo-org/octo-repo"))]


@pytest.mark.parametrize(
    "change",
    [
        {"head_branch": "feature"},
        {"conclusion": "failure"},
        {"path": ".github/workflows/ci.yml"},
        {"head_repository": {"id": 1}},
    ],
)  # a fork's branch named like the default one
def test_other_runs_are_not_deployments(make_app, statsd, change):
    payload = load("workflow_run/completed.payload.json")
    payload["workflow_run"].update(change)
    app = make_app()
    deliver(app, "workflow_run", payload)
    assert dora(app, statsd) == []


def test_labelled_issues_are_incidents(make_app, statsd):
    app = make_app()
    tags = ("repo:" + REPO, "source:github")
    assert deliver(app, "issues", "issues/opened.payload.json") == 200
    assert deliver(app, "issues", "issues/labeled.payload.json") == 202  # the same issue: once
    deliver(app, "issues", "issues/unlabeled.payload.json")
    deliver(app, "issues", "issues/edited.payload.json")
    assert deliver(app, "issues", "issues/closed.derived.payload.json") == 200
    assert dora(app, statsd) == [("dora.incidents.opened", 1.0, tags), ("dora.incidents.resolved", 1.0, tags)]


def test_an_issue_without_the_label_or_a_pull_request_is_no_incident(make_app, statsd):
    app = make_app({"dora": {"incident_label": "incident"}})  # the examples carry "bug"
    for name in ("issues/opened.payload.json", "issues/labeled.payload.json", "issues/closed.derived.payload.json"):
        assert deliver(app, "issues", name) == 202
    app = make_app()
    payload = load("issues/opened.payload.json")
    payload["issue"]["pull_request"] = {"url": "https://api.github.com/repos/o/r/pulls/1"}
    deliver(app, "issues", payload)
    assert dora(app, statsd) == []


def test_derived_payloads_are_the_real_ones_with_only_the_documented_changes():
    failed = load("deployment_status/payload.json")
    failed["deployment_status"]["state"] = "failure"
    assert load("deployment_status/failure.derived.payload.json") == failed
    closed = copy.deepcopy(load("issues/opened.payload.json"))
    closed["action"] = "closed"
    closed["issue"].update(state="closed", closed_at="2019-05-15T16:20:18Z", updated_at="2019-05-15T16:20:18Z")
    assert load("issues/closed.derived.payload.json") == closed
    assert closed["issue"]["created_at"] == "2019-05-15T15:20:18Z"  # one hour before it closed
    assert "derived" in (GITHUB / "DERIVED.md").read_text()


def test_tasks_of_the_asana_incidents_project_are_incidents(make_settings, statsd):
    """Asana's real deliveries (tests/fixtures/asana): the task added to projects 1100 and
    1900, then completed — with 1900 as dora.incidents_project, one incident opened and resolved."""
    from receiver.sources.asana.enrich import AsanaContext, membership_metrics
    from tests.fakes.asana_api import FakeAsana
    from tests.receiver.test_asana_webhooks import API, enricher_of, ready
    from tests.receiver.test_asana_webhooks import deliver as asana_deliver

    fake = FakeAsana()
    fake.tasks.update(API["tasks"])
    fake.projects.update(API["projects"])
    try:
        host, port = statsd.address
        settings = make_settings(
            {
                "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
                "ASANA_ACCESS_TOKEN": fake.token,
                "ASANA_BASE_URL": fake.base_url,
            },
            {"asana": {"requests_per_minute": 6000}, "dora": {"incidents_project": "1900"}},
        )
        app = ready(create_app(settings, Emitter(DogStatsdSink(settings), strict=True)))
        for name in ("task_added_to_project", "task_completed"):
            assert asana_deliver(app.test_client(), name).status_code == 200
        assert enricher_of(app).wait_idle(10)
        assert dora(app, statsd) == [
            ("dora.incidents.opened", 1.0, ("source:asana",)),
            ("dora.incidents.resolved", 1.0, ("source:asana",)),
        ]
    finally:
        fake.close()
    assert [x.name for x in membership_metrics("added", "1900", "Trainer", AsanaContext({}))] == [
        "asana.tasks.added"
    ]  # no incidents project configured: no incident
