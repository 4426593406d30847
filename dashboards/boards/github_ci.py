"""The GitHub board's CI / CD group (boards/github.py): runs, their time and failures, jobs by
runner class, flaky checks and re-runs, tests and benchmarks on main, the 7-day CI figures."""

from __future__ import annotations

from dashboards.board import Board
from dashboards.layout import row
from dashboards.widgets import table, timeseries, toplist, value


def ci_rows(board: Board) -> list:
    q = board.q
    failed = q("sum", "github.ci.runs", where=("conclusion:failure",))
    return [
        row(
            timeseries("Runs by conclusion", {"runs": q("sum", "github.ci.runs", by=("conclusion",))}, display="bars"),
            toplist(
                "Failed runs by workflow",
                {"failed": q("sum", "github.ci.runs", where=("conclusion:failure",), by=("workflow",))},
            ),
            timeseries(
                "Failure rate, %",
                {"failed": failed, "runs": q("sum", "github.ci.runs")},
                [("100 * failed / runs", "failure %")],
            ),
        ),
        row(
            timeseries(
                "Run time by workflow, minutes",
                {
                    "p50": q("p50", "github.ci.run_time", by=("workflow",)),
                    "p90": q("p90", "github.ci.run_time", by=("workflow",)),
                },
                [("p50 / 60", "p50"), ("p90 / 60", "p90")],
            ),
            timeseries(
                "Queue time, seconds (first attempts)",
                {"p50": q("p50", "github.ci.queue_time"), "p90": q("p90", "github.ci.queue_time")},
            ),
            timeseries(
                "Jobs p90 by runner class, seconds",
                {
                    "queue": q("p90", "github.ci.job_queue_time", by=("runner_class",)),
                    "run": q("p90", "github.ci.job_run_time", by=("runner_class",)),
                },
            ),
        ),
        row(
            table(
                "Tests passing on main (1 = green)",
                {"passing": q("min", "github.ci.tests_passing_on_main", by=("repo", "workflow"))},
            ),
            table(
                "Benchmarks passing on main",
                {"passing": q("min", "github.ci.benchmarks_passing", by=("repo", "workflow"))},
            ),
            timeseries(
                "Jobs by conclusion and runner class",
                {"jobs": q("sum", "github.ci.jobs", by=("conclusion", "runner_class"))},
                display="bars",
            ),
        ),
        row(
            timeseries(
                "Flaky checks and re-runs",
                {
                    "flaky": q("sum", "github.ci.flaky_checks", by=("kind",)),
                    "reruns": q("sum", "github.ci.reruns", by=("conclusion",)),
                },
                display="bars",
            ),
            timeseries(
                "Checks completed by conclusion",
                {"checks": q("sum", "github.checks.completed", by=("conclusion",))},
                display="bars",
            ),
            timeseries(
                "Run and queue time over 7 days, minutes",
                {
                    "run_p50": q("max", "github.ci.duration_p50_minutes"),
                    "run_p90": q("max", "github.ci.duration_p90_minutes"),
                    "run_p99": q("max", "github.ci.duration_p99_minutes"),
                    "run_mean": q("avg", "github.ci.avg_workflow_duration_minutes"),
                    "queue_p50": q("max", "github.ci.queue_time_p50_minutes"),
                    "queue_p90": q("max", "github.ci.queue_time_p90_minutes"),
                },
            ),
        ),
        row(
            *board.counts(
                ("Runs (7 d)", "github.ci.workflow_runs_7d"),
                ("Failed (7 d)", "github.ci.failed_workflows_7d"),
                ("Cancelled (7 d)", "github.ci.cancelled_7d"),
                ("Timed out (7 d)", "github.ci.timeout_cancellations_7d"),
                ("Flaky (7 d)", "github.ci.flaky_checks_7d"),
            ),
            value("Run time p90 (7 d, min)", {"n": q("max", "github.ci.duration_p90_minutes")}),
            height=2,
        ),
    ]
