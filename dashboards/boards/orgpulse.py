"""orgpulse itself: deliveries, rejections, handling time, enrichment, collectors, the
informer, the DogStatsD client — with the self-health monitors and the three SLOs."""

from __future__ import annotations

from dashboards import alerting as a
from dashboards.board import Board
from dashboards.context import Context
from dashboards.layout import grid, group, row
from dashboards.widgets import table, timeseries, toplist

BOARD = Board(
    "orgpulse",
    "orgpulse · orgpulse itself",
    "Webhook deliveries by source and outcome, rejections by reason (401 spikes: a wrong "
    "secret or an attack), handling time, duplicates, enrichment, collectors' success, run "
    "time and last success, the informer's watch errors, DogStatsD client drops.",
)
THRESHOLDS = {
    "collector_silent_minutes": 30.0,  # failing (success 0) or silent this long
    "receiver_rejections_per_10m": 20.0,  # per source and reason
    "informer_silent_minutes": 10.0,  # no pod gauge (every 60 s) this long
    "webhook_availability_target": 99.9,  # % of deliveries not answered 5xx, 30 days
    "delivery_latency_p99_seconds": 1.0,  # a 5-minute slice is good when p99 <= this
    "delivery_latency_target": 99.0,  # % of good slices, 30 days
    "collector_freshness_target": 99.0,  # % of time every collector succeeded within 30 min
    "burn_rate_critical": 14.4,  # 2 % of a 30-day budget in an hour
    "burn_rate_warning": 7.2,
}
# Results the receiver answers with a 5xx (receiver/envelope.py STATUS; a test checks them).
SERVER_ERRORS = ("handler_error", "not_configured", "store_unavailable")


def _deliveries(q) -> list:
    return [
        row(
            timeseries(
                "Deliveries by source",
                {"received": q("sum", "orgpulse.receiver.received", by=("source",))},
                display="bars",
            ),
            timeseries(
                "Rejections by reason (401 spikes: wrong secret or an attack)",
                {
                    "rejected": q("sum", "orgpulse.receiver.rejected", by=("reason",)),
                    "malformed_in_batch": q("sum", "orgpulse.receiver.malformed_events", by=("source",)),
                },
                display="bars",
            ),
            timeseries(
                "Handling time p99 by source, ms",
                {"p99": q("p99", "orgpulse.receiver.handling_time", by=("source",))},
                [("1000 * p99", "p99 ms")],
            ),
        ),
        row(
            timeseries(
                "Duplicates, ignored events, shared-dedup (Redis) fallbacks",
                {
                    "duplicates": q("sum", "orgpulse.receiver.duplicates", by=("source",)),
                    "ignored": q("sum", "orgpulse.receiver.ignored", by=("source",)),
                    "redis_fallbacks": q("sum", "orgpulse.receiver.dedup_fallbacks", by=("reason",)),
                },
                display="bars",
            ),
            timeseries(
                "Source metrics emitted from deliveries",
                {"emitted": q("sum", "orgpulse.receiver.emitted", by=("source",))},
                display="bars",
            ),
            toplist(
                "Deliveries by source and event",
                {"received": q("sum", "orgpulse.receiver.received", by=("source", "event"))},
            ),
        ),
        row(
            timeseries(
                "Asana webhooks: heartbeats and handshakes",
                {
                    "heartbeats": q("sum", "asana.webhooks.heartbeats", by=("webhook",)),
                    "handshakes": q("sum", "asana.webhooks.handshakes", by=("webhook",)),
                },
                display="bars",
            ),
            timeseries(
                "GitHub deliveries redelivered by the poller",
                {"redelivered": q("sum", "github.deliveries.redelivered", by=("repo",))},
                display="bars",
            ),
            timeseries(
                "Enrichment jobs by outcome",
                {"jobs": q("sum", "orgpulse.enrichment.jobs", by=("source", "outcome"))},
                display="bars",
            ),
        ),
    ]


def _collectors(q) -> list:
    return [
        row(
            table(
                "Collectors",
                {
                    "success": q("min", "orgpulse.collector.success", by=("collector",)),
                    "run_time_p90_s": q("p90", "orgpulse.collector.duration", by=("collector",)),
                    "last_success_unix": q("max", "orgpulse.collector.last_success", by=("collector",)),
                    "backfilling_repos": q("sum", "orgpulse.collector.backfill_pending", by=("collector",)),
                },
            ),
            timeseries(
                "Collector errors by reason",
                {"errors": q("sum", "orgpulse.collector.errors", by=("collector", "reason"))},
                display="bars",
            ),
            timeseries(
                "Collector run time p90, seconds", {"p90": q("p90", "orgpulse.collector.duration", by=("collector",))}
            ),
        ),
        row(
            timeseries(
                "Informer: watching (1) and pods cached",
                {"watching": q("min", "orgpulse.informer.watching"), "pods": q("sum", "orgpulse.informer.pods_cached")},
            ),
            timeseries(
                "Informer: watch restarts and re-lists (gone = 410)",
                {
                    "restarts": q("sum", "orgpulse.informer.watch_restarts", by=("reason",)),
                    "relists": q("sum", "orgpulse.informer.relists", by=("reason",)),
                },
                display="bars",
            ),
            timeseries(
                "Metrics dropped by the catalog check (a bug)",
                {"invalid": q("sum", "orgpulse.metrics.invalid", by=("reason",))},
                display="bars",
            ),
        ),
    ]


def _dogstatsd(q) -> list:
    return [
        row(
            timeseries(
                "DogStatsD packets dropped",
                {
                    "queue_full": q("sum", "datadog.dogstatsd.client.packets_dropped_queue"),
                    "write_failed": q("sum", "datadog.dogstatsd.client.packets_dropped_writer"),
                    "all": q("sum", "datadog.dogstatsd.client.packets_dropped"),
                },
                display="bars",
            ),
            timeseries(
                "DogStatsD packets sent and metrics handed",
                {
                    "packets": q("sum", "datadog.dogstatsd.client.packets_sent"),
                    "metrics": q("sum", "datadog.dogstatsd.client.metrics"),
                },
            ),
            timeseries(
                "DogStatsD bytes dropped", {"bytes": q("sum", "datadog.dogstatsd.client.bytes_dropped")}, display="bars"
            ),
        )
    ]


def dashboard(ctx: Context) -> dict:
    q = BOARD.q
    return BOARD.body(
        ctx,
        grid(
            group("Webhook deliveries", *_deliveries(q)),
            group("Collectors and informer", *_collectors(q), color="vivid_green"),
            group("DogStatsD client", *_dogstatsd(q), color="gray"),
        ),
    )


# Sources that run a collector in the poller (the informer reports on its own gauge).
COLLECTED = frozenset({"github", "dora", "asana", "wandb", "ec2", "skypilot"})


def _collecting(ctx: Context) -> bool:
    """Any collector on: else collector_failing would page on silence where no poller runs."""
    return bool(ctx.sources & COLLECTED)


def monitors(ctx: Context) -> dict[str, dict]:
    return {
        **(_collector_failing(ctx) if _collecting(ctx) else {}),
        **_receiver_rejections(ctx),
        **(_informer(ctx) if ctx.on("kubernetes") else {}),
        **_burn_rate_alerts(ctx),
    }


def _collector_failing(ctx: Context) -> dict[str, dict]:
    silent = int(ctx.threshold("collector_silent_minutes"))
    return a.monitor(
        ctx,
        "collector_failing",
        "Collector failing or silent: {{collector.name}}",
        f"max(last_{silent}m):{a.q(ctx, 'min', 'orgpulse.collector.success', by=('collector',))} < 1",
        what=f"This collector has not measured everything for {silent} minutes (success 0), or "
        "reported nothing at all: its metrics are stale or missing.",
        first="read the poller's log lines for this collector (error and reason), and the orgpulse "
        "dashboard's 'Collector errors by reason': credentials, rate limit, or the API down?",
        priority=2,
        critical=1,
        silent_minutes=silent,
    )


def _receiver_rejections(ctx: Context) -> dict[str, dict]:
    rejections = ctx.threshold("receiver_rejections_per_10m")
    return a.monitor(
        ctx,
        "receiver_rejections",
        "Receiver rejecting deliveries: {{reason.name}} from {{source.name}}",
        f"sum(last_10m):{a.q(ctx, 'sum', 'orgpulse.receiver.rejected', by=('source', 'reason'))} > {rejections}",
        what="Deliveries from this source are refused. 401 (bad_signature, missing_signature): the "
        "webhook secret is wrong (a rotation half done?) or someone is probing the endpoint. "
        "400 (malformed, missing_header): the sender's payload or headers changed.",
        first="compare the secret configured at the provider with GITHUB_WEBHOOK_SECRET / the Asana "
        "store; the receiver's log lines carry the delivery ids to look up at the provider.",
        priority=2,
        critical=rejections,
    )


def _informer(ctx: Context) -> dict[str, dict]:
    return a.monitor(
        ctx,
        "informer_not_watching",
        "Kubernetes informer not watching",
        f"max(last_{int(ctx.threshold('informer_silent_minutes'))}m):"
        f"{a.q(ctx, 'min', 'orgpulse.informer.watching')} < 1",
        what="The pod informer has not had every pod watch open for this long (orgpulse.informer.watching "
        "0), or its gauge (every 60 s from the replica holding the Lease) stopped: restarts and "
        "OOM kills go unseen.",
        first="check the poller pods (`kubectl get pods`, the Lease holder), their logs for watch "
        "errors, and RBAC for list/watch pods.",
        priority=2,
        critical=1,
        silent_minutes=int(ctx.threshold("informer_silent_minutes")),
    )


def _burn_rate_alerts(ctx: Context) -> dict[str, dict]:
    out = {}
    for key, what in (
        ("webhook_availability", "Webhook deliveries are failing (5xx)"),
        ("delivery_latency", "Webhook handling is slow (p99)"),
        ("collector_freshness", "Collectors are not succeeding"),
    ):
        if key == "collector_freshness" and not _collecting(ctx):
            continue
        out.update(
            a.burn_rate_alert(
                ctx,
                key,
                f"SLO burning fast: {key.replace('_', ' ')}",
                what=f"{what} fast enough to spend the SLO's 30-day error budget early.",
                first="open the SLO, then the orgpulse dashboard: which source or collector?",
                critical=ctx.threshold("burn_rate_critical"),
                warning=ctx.threshold("burn_rate_warning"),
            )
        )
    return out


def slos(ctx: Context) -> dict[str, dict]:
    good = ",".join(f"!outcome:{r}" for r in SERVER_ERRORS)
    timed = "orgpulse.receiver.handling_time"
    return {
        **a.metric_slo(
            ctx,
            "webhook_availability",
            "Webhook delivery availability",
            "Deliveries not answered with a 5xx, of all deliveries (each delivery is timed once).",
            numerator=a.q(ctx, "count", timed, where=(good,)),
            denominator=a.q(ctx, "count", timed),
            target=ctx.threshold("webhook_availability_target"),
        ),
        **a.time_slice_slo(
            ctx,
            "delivery_latency",
            "Webhook delivery latency",
            "5-minute slices whose handling-time p99 is within the threshold.",
            text=a.q(ctx, "p99", timed),
            comparator="<=",
            threshold=ctx.threshold("delivery_latency_p99_seconds"),
            target=ctx.threshold("delivery_latency_target"),
        ),
        **(
            a.monitor_slo(
                ctx,
                "collector_freshness",
                "Collector freshness",
                "Time during which every collector succeeded within 30 minutes (the collector monitor is OK).",
                monitor_key="collector_failing",
                target=ctx.threshold("collector_freshness_target"),
            )
            if _collecting(ctx)
            else {}
        ),
    }
