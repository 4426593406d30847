"""EC2 and cost — and the monitors on the monthly estimate and daily cost."""

from __future__ import annotations

from dashboards import alerting as a
from dashboards.board import Board
from dashboards.context import Context
from dashboards.layout import grid, group, row, span
from dashboards.widgets import timeseries, toplist, value

BOARD = Board(
    "ec2",
    "orgpulse · EC2 and cost",
    "Instances, vCPUs and GPUs, idle instances, EBS and unattached waste, hourly, monthly "
    "and month-to-date cost, spot savings.",
    ("region",),
)
THRESHOLDS = {
    "ec2_monthly_estimate_wow_pct": 20.0,  # week-over-week rise of the monthly estimate
    "cost_anomaly_deviations": 3.0,
}


def _instances(q) -> list:
    return [
        row(
            *BOARD.counts(
                ("Running", "ec2.instances.running"),
                ("Stopped", "ec2.instances.stopped"),
                ("All states", "ec2.instances.total"),
                ("With GPUs", "ec2.instances.gpu_instances"),
                ("vCPUs running", "ec2.instances.cpu_count"),
                ("GPUs running", "ec2.instances.gpu_count"),
            ),
            height=2,
        ),
        row(
            timeseries(
                "Running instances: spot and on-demand",
                {"spot": q("sum", "ec2.instances.spot"), "on_demand": q("sum", "ec2.instances.ondemand")},
                display="area",
            ),
            timeseries(
                "GPUs by accelerator",
                {"gpus": q("sum", "ec2.instances.gpu_count", by=("accelerator",))},
                display="area",
            ),
            timeseries(
                "Idle instances (CPU below aws.idle_cpu_pct for an hour)",
                {"idle": q("sum", "ec2.instances.idle"), "measured": q("sum", "ec2.instances.cpu_measured")},
            ),
        ),
        row(
            toplist("vCPUs by region", {"vcpus": q("sum", "ec2.instances.cpu_count", by=("region",))}),
            timeseries(
                "Instance age, days",
                {"mean": q("avg", "ec2.instances.avg_age_days"), "oldest": q("max", "ec2.instances.oldest_age_days")},
            ),
            value(
                "Idle share of measured, %",
                {"idle": q("sum", "ec2.instances.idle"), "measured": q("sum", "ec2.instances.cpu_measured")},
                [("100 * idle / measured", "idle %")],
                unit="%",
            ),
        ),
    ]


def _storage(q) -> list:
    return [
        row(
            span(
                timeseries(
                    "EBS volumes",
                    {
                        "attached": q("sum", "ec2.ebs.volumes.attached"),
                        "unattached": q("sum", "ec2.ebs.volumes.unattached"),
                        "all": q("sum", "ec2.ebs.volumes.total"),
                    },
                ),
                4,
            ),
            span(
                timeseries(
                    "EBS GiB: all and unattached (waste)",
                    {
                        "all": q("sum", "ec2.ebs.volumes.size_gb"),
                        "unattached": q("sum", "ec2.ebs.volumes.unattached_size_gb"),
                    },
                    display="area",
                ),
                4,
            ),
            *BOARD.counts(
                ("Snapshots", "ec2.ebs.snapshots.total"), ("Snapshot source GiB", "ec2.ebs.snapshots.size_gb")
            ),
        )
    ]


def _cost(q) -> list:
    return [
        row(
            value("Hourly, USD", {"usd": q("sum", "ec2.cost.running_hourly_estimate")}, unit="$"),
            value("Monthly estimate, USD", {"usd": q("sum", "ec2.cost.monthly_estimate")}, unit="$", precision=0),
            value("Month to date, USD", {"usd": q("sum", "ec2.cost.month_to_date_usd")}, unit="$", precision=0),
            value("Spot savings, %", {"pct": q("avg", "ec2.cost.spot_savings_pct")}, unit="%"),
            value("Unpriced instances", {"n": q("sum", "ec2.cost.unpriced_instances")}, precision=0),
            value(
                "Monthly estimate, week over week, %",
                {"now": q("sum", "ec2.cost.monthly_estimate")},
                [("100 * (now - week_before(now)) / week_before(now)", "change %")],
                unit="%",
            ),
            height=2,
        ),
        row(
            span(
                timeseries(
                    "Hourly cost by region, USD",
                    {"usd": q("sum", "ec2.cost.running_hourly_estimate", by=("region",))},
                    display="area",
                ),
                8,
            ),
            timeseries("Monthly estimate, USD", {"usd": q("sum", "ec2.cost.monthly_estimate")}),
        ),
    ]


def dashboard(ctx: Context) -> dict:
    q = BOARD.q
    return BOARD.body(
        ctx,
        grid(
            group("Instances", *_instances(q)),
            group("EBS", *_storage(q), color="vivid_orange"),
            group("Cost", *_cost(q), color="vivid_green"),
        ),
    )


# The hourly cost each compute source sends (its monitors only where the source is on).
HOURLY_COST = {"ec2": "ec2.cost.running_hourly_estimate", "skypilot": "skypilot.cost.hourly_estimate"}
COST_NAMES = {"ec2": "EC2 instances", "skypilot": "SkyPilot GPUs"}
BOARDS = {"ec2": "EC2 dashboard's", "skypilot": "SkyPilot dashboard's"}


def monitors(ctx: Context) -> dict[str, dict]:
    return {**(_monthly_estimate(ctx) if ctx.on("ec2") else {}), **_daily_cost(ctx)}


def _monthly_estimate(ctx: Context) -> dict[str, dict]:
    pct = ctx.threshold("ec2_monthly_estimate_wow_pct")
    return a.monitor(
        ctx,
        "ec2_monthly_estimate_rising",
        f"EC2 monthly estimate up {pct:g} % week over week",
        f"pct_change(avg(last_1h),last_1w):{a.q(ctx, 'sum', 'ec2.cost.monthly_estimate')} > {pct}",
        what="The EC2 monthly estimate (running instances × price × 730 h) is higher than a week ago "
        "by more than the threshold.",
        first="open the EC2 dashboard's Cost group: which region grew? Look for idle instances and "
        "forgotten GPU instances before anything else.",
        priority=3,
        critical=pct,
    )


def _daily_cost(ctx: Context) -> dict[str, dict]:
    """Each on source's hourly cost through default_zero(): one with no point (SkyPilot with no
    job, an EC2 estimate withheld while an instance is unpriced) does not blank the sum."""
    on = [source for source in HOURLY_COST if ctx.on(source)]
    terms = [f"default_zero({a.q(ctx, 'sum', HOURLY_COST[source])})" for source in on]
    if not terms:
        return {}
    deviations = ctx.threshold("cost_anomaly_deviations")
    what = " + ".join(COST_NAMES[source] for source in on)
    return a.monitor(
        ctx,
        "daily_cost_anomaly",
        f"Daily compute cost ({what}) is anomalous",
        f"avg(last_1d):anomalies(24 * ({' + '.join(terms)}), 'agile', {deviations:g}, direction='above', "
        "alert_window='last_6h', interval=3600, count_default_zero='true', seasonality='weekly') >= 1",
        what=f"The day's compute spend rate ({what}) is above what this day of the week usually costs.",
        first=f"compare the {' and '.join(BOARDS[source] for source in on)} cost widgets: new "
        "instances, more GPUs, or jobs that did not stop?",
        priority=3,
        critical=1,
        options={
            "threshold_windows": {"trigger_window": "last_6h", "recovery_window": "last_6h"},
            "thresholds": {"critical": 1, "critical_recovery": 0},
        },
    )
