"""FoM table tests: the seed's pinned examples, edges at 0 and 1, missing inputs, composites."""
from __future__ import annotations

import pytest

from fom import scores
from orgpulse import metrics as m
from tests.dogstatsd import PRODUCED


def getter(values: dict[str, float]):
    return lambda name, agg, where: values.get(name)


def one(metric: str, value: float, key: tuple[str, str]) -> float | None:
    return scores.evaluate(getter({metric: value})).get(key)


@pytest.mark.parametrize("metric,value,key,expected", [
    # the seed's pinned examples (seed-system.md §3)
    ("github.ci.failed_workflows_7d", 1, ("ci", "failing_workflows"), 0.8),
    ("github.prs.stale_count_14d", 20, ("ci", "stale_prs"), 0.6),
    ("github.ci.duration_p90_minutes", 5, ("ci", "duration_p90"), 1 - 2 / 7),
    ("github.prs.cycle_time_hours", 60, ("ci", "pr_cycle_time"), 0.25),
    ("github.commits.hotfix", 3, ("ci", "hotfix_count"), 0.7),
    # edges at 1 and 0
    ("github.ci.failed_workflows_7d", 0, ("ci", "failing_workflows"), 1.0),
    ("github.ci.failed_workflows_7d", 9, ("ci", "failing_workflows"), 0.0),
    ("github.prs.cycle_time_hours", 10, ("ci", "pr_cycle_time"), 1.0),
    ("github.prs.cycle_time_hours", 500, ("ci", "pr_cycle_time"), 0.0),
    ("github.ci.duration_p90_minutes", 2, ("ci", "duration_p90"), 1.0),
    ("github.commits.reverts", 2, ("ci", "revert_count"), 0.0),
    # binary inputs are binary: min over workflows, 0 when any fails
    ("github.ci.tests_passing_on_main", 0, ("ci", "tests_passing"), 0.0),
    ("github.ci.tests_passing_on_main", 1, ("ci", "tests_passing"), 1.0),
    # the accuracy scores are clamped below 0 now (W17) and read % or fractions
    ("wandb.metrics.best_accuracy", -0.4, ("training", "best_accuracy"), 0.0),
    ("wandb.metrics.best_accuracy", 87, ("training", "best_accuracy"), 0.87),
    ("wandb.metrics.best_accuracy", 0.9, ("training", "best_accuracy"), 0.9),
    ("wandb.metrics.latest_loss", 0.05, ("training", "latest_loss"), 1.0),
    ("wandb.metrics.latest_loss", 1.05, ("training", "latest_loss"), 0.5),
    ("wandb.training.avg_duration_hours", 0.5, ("training", "duration"), 0.3),
    ("wandb.training.avg_duration_hours", 8, ("training", "duration"), 1.0),
    ("wandb.training.avg_duration_hours", 12, ("training", "duration"), 0.5),
    ("wandb.training.gpu_utilization_avg", 100, ("training", "gpu_utilization"), 1.0),
    ("wandb.runs.completed_7d", 14, ("training", "run_success"), 1.0),
    ("github.ci.flaky_checks_7d", 5, ("ci", "flaky_checks"), 0.75),
    ("k8s.pods.high_restarts", 5, ("infra", "pod_restarts"), 0.5),
    ("asana.projects.bugs.avg_age_days", 30, ("project", "bug_backlog_age"), 0.0),
])
def test_formula_table(metric, value, key, expected):
    assert one(metric, value, key) == pytest.approx(expected)


def test_missing_inputs_give_no_score():
    assert scores.evaluate(getter({})) == {}
    only_idle = scores.evaluate(getter({"ec2.instances.idle": 3}))  # needs cpu_measured too
    assert ("infra", "idle_instances") not in only_idle


def test_ratio_scores():
    got = scores.evaluate(getter({"ec2.instances.idle": 2, "ec2.instances.cpu_measured": 8,
                                  "ec2.ebs.volumes.unattached_size_gb": 500, "ec2.ebs.volumes.size_gb": 1000,
                                  "k8s.resources.cpu_used_cores": 3, "k8s.resources.cpu_requested_cores": 10}))
    assert got[("infra", "idle_instances")] == pytest.approx(0.75)
    assert got[("infra", "unattached_ebs")] == pytest.approx(0.5)
    assert got[("infra", "cpu_efficiency")] == pytest.approx(0.5)  # 30 % of a 60 % target
    assert ("infra", "idle_instances") not in scores.evaluate(getter({
        "ec2.instances.idle": 0, "ec2.instances.cpu_measured": 0}))
    assert ("infra", "cpu_efficiency") not in scores.evaluate(getter({
        "k8s.resources.cpu_used_cores": 0, "k8s.resources.cpu_requested_cores": 0}))


def test_parameters_are_overridable():
    got = scores.evaluate(getter({"github.ci.failed_workflows_7d": 1}),
                          {"ci.failing_workflows": {"limit": 10}})
    assert got[("ci", "failing_workflows")] == pytest.approx(0.9)


def test_every_score_is_in_unit_interval_for_wild_inputs():
    for value in (-1e9, -1, 0, 0.5, 1, 3, 100, 1e9):
        values = {metric: value for f in scores.FORMULAS for metric, _ in f.inputs}
        for score in scores.evaluate(getter(values)).values():
            assert 0.0 <= score <= 1.0


def test_composites_weighted_and_overall():
    got = scores.evaluate(getter({"github.ci.tests_passing_on_main": 0,      # weight 2
                                  "github.ci.failed_workflows_7d": 0,        # weight 1
                                  "k8s.pods.high_restarts": 5}))
    areas = scores.composites(got)
    assert areas["ci"] == pytest.approx(1 / 3)
    assert areas["infra"] == pytest.approx(0.5)
    assert areas["overall"] == pytest.approx((1 / 3 + 0.5) / 2)
    assert "training" not in areas and "project" not in areas


def test_thresholds():
    t = {"green": 0.7, "yellow": 0.3}
    assert [scores.status(v, t) for v in (0.7, 0.69, 0.3, 0.29)] == ["green", "yellow", "yellow", "red"]


def test_score_metrics_names_every_formula_and_area():
    values = {metric: 1.0 for f in scores.FORMULAS for metric, _ in f.inputs}
    out = scores.score_metrics(getter(values), {})
    names = {x.name for x in out}
    assert len(names) == len(scores.FORMULAS) + len(scores.AREA_WEIGHTS) + 1  # areas + overall
    assert all(m.problem(x) is None and 0 <= x.value <= 1 for x in out)
    PRODUCED.update(names)
