"""W&B training — and the training-run failure-rate monitor."""

from __future__ import annotations

from dashboards import alerting as a
from dashboards.board import Board
from dashboards.context import Context
from dashboards.layout import grid, group, row, span
from dashboards.widgets import table, timeseries, value

BOARD = Board(
    "wandb",
    "orgpulse · W&B training",
    "Run states, failures by run class, durations, GPU hours and utilisation, accuracy and loss.",
    ("project",),
)
THRESHOLDS = {
    "training_failure_rate_pct": 30.0,  # failed or crashed / runs that ended in 7 days
    "training_failure_rate_pct_warning": 15.0,
}


def _runs(q) -> list:
    return [
        row(
            *BOARD.counts(
                ("Running", "wandb.runs.active"),
                ("Runs created (7 d)", "wandb.runs.total_7d"),
                ("Finished (7 d)", "wandb.runs.completed_7d"),
                ("Failed or crashed (7 d)", "wandb.runs.failed_7d"),
                ("Crashed (7 d)", "wandb.runs.crashed_7d"),
            ),
            value(
                "Failure rate (ended in 7 d)",
                {"failed": q("sum", "wandb.runs.failed_7d"), "finished": q("sum", "wandb.runs.completed_7d")},
                [("100 * failed / (failed + finished)", "failure %")],
                unit="%",
            ),
            height=2,
        ),
        row(
            timeseries(
                "Run state changes", {"runs": q("sum", "wandb.runs.state_changes", by=("state",))}, display="bars"
            ),
            timeseries(
                "Metric alerts fired", {"alerts": q("sum", "wandb.runs.metric_alerts", by=("kind",))}, display="bars"
            ),
            table(
                "Run classes over 7 days",
                {
                    "finished": q("sum", "wandb.runs.class_finished_7d", by=("run_class",)),
                    "failed": q("sum", "wandb.runs.class_failed_7d", by=("run_class",)),
                    "success_pct": q("avg", "wandb.runs.class_success_rate_pct", by=("run_class",)),
                },
            ),
        ),
    ]


def _training(q) -> list:
    return [
        row(
            timeseries(
                "Duration of finished runs, hours (7 d)",
                {
                    "p50": q("max", "wandb.training.duration_p50_hours"),
                    "p90": q("max", "wandb.training.duration_p90_hours"),
                    "mean": q("avg", "wandb.training.avg_duration_hours"),
                },
            ),
            timeseries(
                "GPU hours over 7 days",
                {"hours": q("sum", "wandb.training.total_gpu_hours_7d", by=("project",))},
                display="area",
            ),
            timeseries("GPU utilisation, %", {"pct": q("avg", "wandb.training.gpu_utilization_avg")}),
        ),
        row(
            timeseries(
                "Accuracy (7 d): mean and best; runs reporting it",
                {
                    "mean": q("avg", "wandb.metrics.avg_accuracy_7d"),
                    "best": q("max", "wandb.metrics.best_accuracy"),
                    "runs": q("sum", "wandb.metrics.accuracy_runs_7d"),
                },
                [("mean", "mean"), ("best", "best")],
            ),
            timeseries(
                "Loss of the latest finished run", {"loss": q("avg", "wandb.metrics.latest_loss", by=("project",))}
            ),
            timeseries(
                "Steps per second (newest run)", {"sps": q("avg", "wandb.metrics.steps_per_second", by=("project",))}
            ),
        ),
    ]


def _artifacts(q) -> list:
    return [
        row(
            span(
                timeseries(
                    "Artifacts: versions, aliases, tags, links",
                    {
                        "versions": q("sum", "wandb.artifacts.versions_created"),
                        "aliases": q("sum", "wandb.artifacts.aliases_added"),
                        "tags": q("sum", "wandb.artifacts.tags_added"),
                        "links": q("sum", "wandb.artifacts.linked"),
                    },
                    display="bars",
                ),
                12,
            )
        )
    ]


def dashboard(ctx: Context) -> dict:
    q = BOARD.q
    return BOARD.body(
        ctx,
        grid(
            group("Runs", *_runs(q)),
            group("Training", *_training(q), color="vivid_green"),
            group("Artifacts", *_artifacts(q), color="vivid_purple"),
        ),
    )


def monitors(ctx: Context) -> dict[str, dict]:
    if not ctx.on("wandb"):  # no such monitor where the source is off (monitors.sources)
        return {}
    pct = ctx.threshold("training_failure_rate_pct")
    failed = a.q(ctx, "sum", "wandb.runs.failed_7d")
    finished = a.q(ctx, "sum", "wandb.runs.completed_7d")
    return a.monitor(
        ctx,
        "training_failure_rate",
        f"Training runs failing: over {pct:g} % in 7 days",
        f"avg(last_1h):100 * {failed} / ({failed} + {finished}) > {pct}",
        what="More than the threshold share of the W&B runs that ended in the last 7 days failed or crashed.",
        first="the W&B dashboard's run-class table says which kind of run fails; open the newest failed "
        "runs' logs in W&B (crashed = the process died: OOM, preemption, node loss).",
        priority=3,
        critical=pct,
        warning=ctx.threshold("training_failure_rate_pct_warning"),
    )
