"""DORA's pure parts: the 2023 report's bands (fom/delivery.py), the delivery FoM area, the
shared definitions, the `dora:` options, and the failure / restore rules on hand-made records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fom import delivery, scores
from orgpulse.definitions import deploy_workflow_of, has_label, is_deploy_workflow, is_production
from orgpulse.options import validate_options
from pollers.dora.figures import Deployment, Incident, Records, deployment_restores, failure_marks

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ALL = {"deployment_failure", "rollback", "revert", "hotfix", "incident"}


@pytest.mark.parametrize(
    "key,value,expected",
    [
        # deployments in 30 days: more than daily is on demand (multiple a day), daily to weekly
        # high (daily, 30, is its top), monthly medium
        ("deployment_frequency", 31, "elite"),
        ("deployment_frequency", 30, "high"),
        ("deployment_frequency", 29, "high"),
        ("deployment_frequency", 4, "high"),
        ("deployment_frequency", 3, "medium"),
        ("deployment_frequency", 1, "medium"),
        ("deployment_frequency", 0, "low"),
        # lead time p50 hours: under a day, a week, a month
        ("lead_time", 23.9, "elite"),
        ("lead_time", 24, "high"),
        ("lead_time", 167.9, "high"),
        ("lead_time", 168, "medium"),
        ("lead_time", 719, "medium"),
        ("lead_time", 720, "low"),
        # change failure rate: 5, 10, 15 % (the report's low cluster: 64 %)
        ("change_failure_rate", 0, "elite"),
        ("change_failure_rate", 5, "elite"),
        ("change_failure_rate", 5.1, "high"),
        ("change_failure_rate", 10, "high"),
        ("change_failure_rate", 15, "medium"),
        ("change_failure_rate", 64, "low"),
        # time to restore p50 hours: under an hour, a day, a week
        ("time_to_restore", 0.9, "elite"),
        ("time_to_restore", 1, "high"),
        ("time_to_restore", 23, "high"),
        ("time_to_restore", 100, "medium"),
        ("time_to_restore", 168, "low"),
    ],
)
def test_bands(key, value, expected):
    assert delivery.level(key, value) == expected


def test_the_delivery_area_scores_the_level_of_the_mean_repository():
    values = {
        "dora.deployments_30d": 45,
        "dora.lead_time_p50_hours_30d": 30,
        "dora.change_failure_rate_30d": 12,
        "dora.time_to_restore_p50_hours_30d": 500,
    }
    got = scores.evaluate(lambda name, agg, where: values.get(name) if agg == "avg" else None)
    assert {k[1]: v for k, v in got.items() if k[0] == "delivery"} == {
        "deployment_frequency": 1.0,
        "lead_time": 0.75,
        "change_failure_rate": 0.5,
        "time_to_restore": 0.25,
    }
    assert scores.composites(got)["delivery"] == pytest.approx(0.625)
    assert (
        scores.evaluate(lambda name, agg, where: values.get(name), {"delivery.time_to_restore": {"low": 0.0}})[
            ("delivery", "time_to_restore")
        ]
        == 0.0
    )


def test_definitions():
    assert is_production("Production", "^prod(uction)?$") and not is_production(None, "^prod")
    assert not is_production("production-eu", "^prod(uction)?$") and is_production("production-eu", "^prod")
    assert is_deploy_workflow("deploy.yml", ".github/workflows/deploy.yml")
    assert is_deploy_workflow(".github/workflows/deploy.yml", ".github/workflows/deploy.yml@refs/heads/main")
    assert not is_deploy_workflow("deploy.yml", ".github/workflows/test.yml")
    assert not is_deploy_workflow(None, ".github/workflows/deploy.yml") and not is_deploy_workflow("d.yml", None)
    assert has_label(["bug", "Incident"], "incident") and not has_label(["bug"], "incident")
    assert not has_label([""], "")
    assert deploy_workflow_of({"Org/App": "deploy.yml"}, "org/app") == "deploy.yml"
    assert deploy_workflow_of({"org/app": "deploy.yml"}, "org/web") is None


@pytest.mark.parametrize(
    "given,problem",
    [
        ({"production": "(unclosed"}, "dora.production invalid regular expression"),
        ({"deploy_workflows": {"org/app": "Deploy"}}, "dora.deploy_workflows must map"),
        ({"deploy_workflows": {"app": "deploy.yml"}}, "dora.deploy_workflows must map"),
        ({"failure_signals": ["rollback", "outage"]}, "unknown signal(s) ['outage']"),
        ({"failure_window_hours": 0}, "dora.failure_window_hours must be >= 1"),
        ({"incident_label": 3}, "dora.incident_label must be a label name"),
        ({"restore_from_failed_deployments": "yes"}, "must be true or false"),
        ({"deploy": {}}, "dora.deploy is not a known setting"),
    ],
)
def test_every_dora_option_is_validated(given, problem):
    problems: list[str] = []
    validate_options({"dora": given}, problems)
    assert len(problems) == 1 and problem in problems[0], problems


def dep(key, hours, outcome="success", sha=None, env="production", rollback=False):
    at = T0 + timedelta(hours=hours)
    return Deployment(key, sha or key, env, at, outcome, at, rollback, [])


def test_each_signal_marks_the_latest_success_before_it_within_the_window():
    r = Records(
        deployments={
            d.key: d
            for d in [
                dep("a", 0),
                dep("b", 10),
                dep("c", 20, "failure"),
                dep("d", 30, sha="a", rollback=True),
                dep("e", 100),
                dep("s", 101, env="production-eu"),
                dep("f", 200),
            ]
        }
    )
    r.changes = {
        "x1": (T0 + timedelta(hours=12), "revert"),  # after b (2 h)
        "x2": (T0 + timedelta(hours=140), "hotfix"),
    }  # 39 h after s: too late
    r.incidents = {1: Incident(T0 + timedelta(hours=101.5))}  # after s, of any environment
    marks = failure_marks(r, ALL, timedelta(hours=24))
    assert marks == {"b": {"revert", "rollback"}, "c": {"deployment_failure"}, "s": {"incident"}}
    assert failure_marks(r, {"hotfix"}, timedelta(hours=48)) == {"s": {"hotfix"}}
    assert failure_marks(r, set(), timedelta(hours=24)) == {}


def test_a_run_of_failures_restores_at_the_next_success_in_its_environment():
    deps = [
        dep("a", 0),
        dep("b", 1, "failure"),
        dep("c", 2, "failure"),
        dep("x", 2.5, env="eu"),
        dep("d", 4),
        dep("e", 5, "failure"),
    ]
    assert deployment_restores(deps) == [(T0 + timedelta(hours=1), T0 + timedelta(hours=4))]
