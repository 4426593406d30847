"""Training pipeline (cross-source): code → CI → SkyPilot jobs → W&B runs → GPU hours and cost."""

from __future__ import annotations

from dashboards.board import Board
from dashboards.context import Context
from dashboards.layout import Span, grid, group, row, span
from dashboards.widgets import note, table, timeseries, value

BOARD = Board(
    "pipeline",
    "orgpulse · Training pipeline (cross-source)",
    "One page following work from code to model: PRs merged and CI health, SkyPilot jobs "
    "launched and failed, W&B runs finished and crashed, GPU hours and cost.",
    ("repo", "project"),
)


def _stage(text: str) -> Span:
    return span(note(text, background="blue", size="16"), 2)


def _code(q) -> list:
    failed = q("sum", "github.ci.runs", where=("conclusion:failure", "branch_type:default"))
    return [
        row(
            _stage("**1 · Code**  \nPRs merged, CI on main"),
            span(timeseries("PRs merged", {"merged": q("sum", "github.prs.merged")}, display="bars"), 4),
            span(
                timeseries(
                    "CI failure rate on default branches, %",
                    {"failed": failed, "runs": q("sum", "github.ci.runs", where=("branch_type:default",))},
                    [("100 * failed / runs", "failure %")],
                ),
                3,
            ),
            span(
                table(
                    "Tests passing on main",
                    {"passing": q("min", "github.ci.tests_passing_on_main", by=("repo", "workflow"))},
                ),
                3,
            ),
        )
    ]


def _jobs(q) -> list:
    return [
        row(
            _stage("**2 · Jobs**  \nSkyPilot launched / failed"),
            span(value("Jobs started (7 d)", {"n": q("sum", "skypilot.jobs.started_7d")}, precision=0), 2),
            span(value("Jobs failed (7 d)", {"n": q("sum", "skypilot.jobs.failed_7d")}, precision=0), 2),
            span(
                timeseries(
                    "Running and queued jobs",
                    {"running": q("sum", "skypilot.jobs.running"), "queued": q("sum", "skypilot.jobs.queued")},
                    display="area",
                ),
                6,
            ),
        )
    ]


def _runs(q) -> list:
    return [
        row(
            _stage("**3 · Runs**  \nW&B finished / crashed"),
            span(value("Runs finished (7 d)", {"n": q("sum", "wandb.runs.completed_7d")}, precision=0), 2),
            span(value("Runs crashed (7 d)", {"n": q("sum", "wandb.runs.crashed_7d")}, precision=0), 2),
            span(
                timeseries(
                    "Run state changes", {"runs": q("sum", "wandb.runs.state_changes", by=("state",))}, display="bars"
                ),
                6,
            ),
        )
    ]


def _cost(q) -> list:
    return [
        row(
            _stage("**4 · GPUs and cost**"),
            span(value("GPU hours (7 d)", {"h": q("sum", "wandb.training.total_gpu_hours_7d")}, precision=0), 2),
            span(
                timeseries(
                    "GPUs in use (SkyPilot jobs)",
                    {"gpus": q("sum", "skypilot.resources.gpus", by=("accelerator",))},
                    display="area",
                ),
                4,
            ),
            span(
                timeseries(
                    "Compute cost per hour, USD",
                    {
                        "skypilot_gpus": q("sum", "skypilot.cost.hourly_estimate"),
                        "ec2": q("sum", "ec2.cost.running_hourly_estimate"),
                    },
                    display="area",
                ),
                4,
            ),
        )
    ]


def dashboard(ctx: Context) -> dict:
    q = BOARD.q
    return BOARD.body(ctx, grid(group("From code to model", *_code(q), *_jobs(q), *_runs(q), *_cost(q))))
