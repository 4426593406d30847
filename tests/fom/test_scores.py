"""FoM table tests: the old collectors' pinned examples, edges at 0 and 1, missing inputs, composites."""

from __future__ import annotations

import pytest

from fom import scores
from orgpulse import metrics as m
from pollers.values import ValueStore
from tests.support.dogstatsd import PRODUCED


def getter(values: dict[str, float]):
    return lambda name, agg, where: values.get(name)


def one(metric: str, value: float, key: tuple[str, str]) -> float | None:
    return scores.evaluate(getter({metric: value})).get(key)


@pytest.mark.parametrize(
    "metric,value,key,expected",
    [
        # the old collectors' pinned examples: the same inputs give the same scores
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
        # the accuracy scores are clamped below 0 now (the old ones went negative) and read % or fractions
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
    ],
)
def test_formula_table(metric, value, key, expected):
    assert one(metric, value, key) == pytest.approx(expected)


def test_missing_inputs_give_no_score():
    assert scores.evaluate(getter({})) == {}
    only_idle = scores.evaluate(getter({"ec2.instances.idle": 3}))  # needs cpu_measured too
    assert ("infra", "idle_instances") not in only_idle


def test_ratio_scores():
    got = scores.evaluate(
        getter(
            {
                "ec2.instances.idle": 2,
                "ec2.instances.cpu_measured": 8,
                "ec2.ebs.volumes.unattached_size_gb": 500,
                "ec2.ebs.volumes.size_gb": 1000,
                "k8s.resources.cpu_used_cores": 3,
                "k8s.resources.cpu_requested_cores": 10,
            }
        )
    )
    assert got[("infra", "idle_instances")] == pytest.approx(0.75)
    assert got[("infra", "unattached_ebs")] == pytest.approx(0.5)
    assert got[("infra", "cpu_efficiency")] == pytest.approx(0.5)  # 30 % of a 60 % target
    assert ("infra", "idle_instances") not in scores.evaluate(
        getter({"ec2.instances.idle": 0, "ec2.instances.cpu_measured": 0})
    )
    assert ("infra", "cpu_efficiency") not in scores.evaluate(
        getter({"k8s.resources.cpu_used_cores": 0, "k8s.resources.cpu_requested_cores": 0})
    )


def test_parameters_are_overridable():
    got = scores.evaluate(getter({"github.ci.failed_workflows_7d": 1}), {"ci.failing_workflows": {"limit": 10}})
    assert got[("ci", "failing_workflows")] == pytest.approx(0.9)


def test_every_score_is_in_unit_interval_for_wild_inputs():
    for value in (-1e9, -1, 0, 0.5, 1, 3, 100, 1e9):
        values = {metric: value for f in scores.FORMULAS for metric, _ in f.inputs}
        for score in scores.evaluate(getter(values)).values():
            assert 0.0 <= score <= 1.0


def test_composites_weighted_and_overall():
    got = scores.evaluate(
        getter(
            {
                "github.ci.tests_passing_on_main": 0,  # weight 2
                "github.ci.failed_workflows_7d": 0,  # weight 1
                "k8s.pods.high_restarts": 5,
            }
        )
    )
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


def store_getter(series: dict[str, dict[str, float]]):
    """The poller's real path: per-project gauges in a ValueStore, read as cli.py reads them."""
    store = ValueStore(clock=lambda: 1000.0)
    store.record(m.gauge(name, v, project=project) for name, by in series.items() for project, v in by.items())
    return lambda name, agg, where=None: store.get(name, 60, agg)  # training inputs filter no tag


def training(series: dict[str, dict[str, float]], name: str) -> float | None:
    return scores.evaluate(store_getter(series)).get(("training", name))


LOSS = "wandb.metrics.latest_loss"


@pytest.mark.parametrize(
    "losses,expected",
    [
        ({"a": 0.5}, 1 - 0.4 / 1.9),  # one project
        ({"a": 0.2, "b": 1.5}, 1 - 1.4 / 1.9),  # several: the worst, not the mean (0.85 → 0.61)
        ({"a": -1.0, "b": 0.5}, 1 - 0.4 / 1.9),  # a project below 0 does not judge the others
        ({"a": 0.0}, None),  # 0 is not a loss this scale judges (v > 0, as before)
        ({"a": -0.3}, None),  # negative: no score, not a perfect 1.0
        ({"a": 0.0, "b": -2.0}, None),
        ({}, None),  # missing
    ],
)
def test_latest_loss_is_the_worst_project_and_needs_a_positive_loss(losses, expected):
    got = training({LOSS: losses} if losses else {}, "latest_loss")
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    "name,metric,weight,series,expected",
    [
        # a 1-run project at 2 h and a 9-run project at 10 h: 9.2 h (the unweighted 6 h scored 1.0)
        (
            "duration",
            "wandb.training.avg_duration_hours",
            "wandb.runs.completed_7d",
            {"a": (2.0, 1), "b": (10.0, 9)},
            1 - 1.2 / 8,
        ),
        # 20 % busy over 1,000 GPU hours, 100 % over 10: 20.8 % (the unweighted 60 % scored 0.75)
        (
            "gpu_utilization",
            "wandb.training.gpu_utilization_avg",
            "wandb.training.total_gpu_hours_7d",
            {"a": (20.0, 1000), "b": (100.0, 10)},
            (20 * 1000 + 100 * 10) / 1010 / 80,
        ),
        # accuracy 0.9 of 1 run, 0.5 of 9 runs: 0.54 (unweighted 0.7)
        (
            "avg_accuracy",
            "wandb.metrics.avg_accuracy_7d",
            "wandb.metrics.accuracy_runs_7d",
            {"a": (0.9, 1), "b": (0.5, 9)},
            0.54,
        ),
        (
            "avg_accuracy",
            "wandb.metrics.avg_accuracy_7d",
            "wandb.metrics.accuracy_runs_7d",
            {"a": (0.8, 3)},
            0.8,
        ),  # one project
        (
            "duration",
            "wandb.training.avg_duration_hours",
            "wandb.runs.completed_7d",
            {"a": (2.0, 0), "b": (12.0, 4)},
            0.5,
        ),  # a 0 weight: left out
        (
            "duration",
            "wandb.training.avg_duration_hours",
            "wandb.runs.completed_7d",
            {"a": (2.0, 0)},
            None,
        ),  # no weight at all
    ],
)
def test_means_of_project_means_are_weighted_by_what_they_average(name, metric, weight, series, expected):
    values = {metric: {p: v for p, (v, _) in series.items()}, weight: {p: w for p, (_, w) in series.items()}}
    got = training(values, name)
    assert got == (pytest.approx(expected) if expected is not None else None)
    assert training({metric: values[metric]}, name) is None  # the weight missing: no score


def test_counts_sum_and_the_best_is_the_max_over_projects():
    got = scores.evaluate(
        store_getter(
            {
                "wandb.runs.completed_7d": {"a": 3, "b": 4},
                "wandb.runs.failed_7d": {"a": 1, "b": 2},
                "wandb.metrics.best_accuracy": {"a": 0.6, "b": 0.9},
            }
        )
    )
    assert got[("training", "run_success")] == pytest.approx(1.0)  # 7 of a target of 7
    assert got[("training", "run_failures")] == pytest.approx(0.0)  # 3 of a limit of 3
    assert got[("training", "best_accuracy")] == pytest.approx(0.9)
