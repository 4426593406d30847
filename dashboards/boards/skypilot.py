"""SkyPilot jobs and clusters."""

from __future__ import annotations

from dashboards.board import Board
from dashboards.context import Context
from dashboards.layout import grid, group, row, span
from dashboards.widgets import timeseries, toplist, value

BOARD = Board(
    "skypilot",
    "orgpulse · SkyPilot jobs and clusters",
    "Managed jobs by status and their 7-day outcomes, queue wait and runtime, GPUs in use "
    "by accelerator, spot against on-demand, recoveries, hourly GPU cost, clusters.",
    ("region",),
)


def _jobs(q) -> list:
    return [
        row(
            *BOARD.counts(
                ("Running", "skypilot.jobs.running"),
                ("Queued (PENDING)", "skypilot.jobs.queued"),
                ("Started (7 d)", "skypilot.jobs.started_7d"),
                ("Succeeded (7 d)", "skypilot.jobs.succeeded_7d"),
                ("Failed (7 d)", "skypilot.jobs.failed_7d"),
                ("Cancelled (7 d)", "skypilot.jobs.cancelled_7d"),
            ),
            height=2,
        ),
        row(
            timeseries(
                "Jobs by status (non-terminal)",
                {"jobs": q("sum", "skypilot.jobs.active", by=("status",))},
                display="area",
            ),
            timeseries(
                "Failures over 7 days by kind",
                {"failed": q("sum", "skypilot.jobs.failed_7d", by=("status",))},
                display="bars",
            ),
            timeseries(
                "Success rate over 7 days, %",
                {"succeeded": q("sum", "skypilot.jobs.succeeded_7d"), "failed": q("sum", "skypilot.jobs.failed_7d")},
                [("100 * succeeded / (succeeded + failed)", "success %")],
            ),
        ),
        row(
            timeseries(
                "Queue wait of pending jobs, minutes",
                {
                    "p50": q("max", "skypilot.jobs.queue_wait_seconds.p50"),
                    "longest": q("max", "skypilot.jobs.queue_wait_seconds.max"),
                },
                [("p50 / 60", "p50"), ("longest / 60", "longest")],
            ),
            timeseries(
                "Runtime of running jobs, hours",
                {
                    "shortest": q("min", "skypilot.jobs.runtime_seconds.min"),
                    "p50": q("max", "skypilot.jobs.runtime_seconds.p50"),
                    "p90": q("max", "skypilot.jobs.runtime_seconds.p90"),
                    "p99": q("max", "skypilot.jobs.runtime_seconds.p99"),
                    "mean": q("avg", "skypilot.jobs.runtime_seconds.avg"),
                    "longest": q("max", "skypilot.jobs.runtime_seconds.max"),
                },
                [(f"{n} / 3600", n) for n in ("shortest", "p50", "p90", "p99", "mean", "longest")],
            ),
            toplist("Running jobs by region", {"jobs": q("sum", "skypilot.jobs.running_by_region", by=("region",))}),
        ),
        row(
            timeseries(
                "Running jobs by how long they have run",
                {
                    "under_1h": q("sum", "skypilot.jobs.runtime_buckets.0_1h"),
                    "h1_to_4": q("sum", "skypilot.jobs.runtime_buckets.1_4h"),
                    "h4_to_24": q("sum", "skypilot.jobs.runtime_buckets.4_24h"),
                    "over_24h": q("sum", "skypilot.jobs.runtime_buckets.over_24h"),
                },
                [("under_1h", "< 1 h"), ("h1_to_4", "1-4 h"), ("h4_to_24", "4-24 h"), ("over_24h", "≥ 24 h")],
                display="bars",
            )
        ),
    ]


def _capacity(q) -> list:
    return [
        row(
            span(
                timeseries(
                    "GPUs in use by accelerator",
                    {"gpus": q("sum", "skypilot.resources.gpus", by=("accelerator",))},
                    display="area",
                ),
                6,
            ),
            timeseries(
                "Spot against on-demand jobs",
                {
                    "spot": q("sum", "skypilot.resources.spot_jobs"),
                    "on_demand": q("sum", "skypilot.resources.ondemand_jobs"),
                },
                display="area",
            ),
            timeseries(
                "Recoveries of running jobs",
                {
                    "recovered_jobs": q("sum", "skypilot.jobs.with_recoveries"),
                    "most": q("max", "skypilot.jobs.recovery_count.max"),
                    "mean": q("avg", "skypilot.jobs.recovery_count.avg"),
                },
            ),
        ),
        row(
            span(
                timeseries(
                    "Hourly GPU cost by accelerator, USD",
                    {"usd": q("sum", "skypilot.cost.hourly_estimate", by=("accelerator",))},
                    display="area",
                ),
                6,
            ),
            value("Hourly GPU cost, USD", {"usd": q("sum", "skypilot.cost.hourly_estimate")}, unit="$"),
            *BOARD.counts(
                ("GPUs with no price", "skypilot.cost.unpriced_gpus"),
                ("Active users (7 d)", "skypilot.users.active_7d"),
            ),
        ),
    ]


def _clusters(q) -> list:
    return [
        row(
            *BOARD.counts(
                ("Clusters UP", "skypilot.clusters.active"),
                ("Clusters INIT", "skypilot.clusters.init"),
                ("Clusters STOPPED", "skypilot.clusters.stopped"),
            ),
            span(
                timeseries(
                    "GPUs held by UP clusters",
                    {"gpus": q("sum", "skypilot.clusters.gpus", by=("accelerator",))},
                    display="area",
                ),
                6,
            ),
        )
    ]


def dashboard(ctx: Context) -> dict:
    q = BOARD.q
    return BOARD.body(
        ctx,
        grid(
            group("Managed jobs", *_jobs(q)),
            group("GPUs and cost", *_capacity(q), color="vivid_green"),
            group("Clusters", *_clusters(q), color="vivid_purple"),
        ),
    )
