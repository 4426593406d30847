"""Kubernetes — and the monitors on OOM kills and CrashLoopBackOff bursts."""

from __future__ import annotations

from dashboards import alerting as a
from dashboards.board import Board
from dashboards.context import Context
from dashboards.layout import grid, group, row, span
from dashboards.widgets import table, timeseries, toplist, value

BOARD = Board(
    "kubernetes",
    "orgpulse · Kubernetes",
    "Restarts and OOM kills by namespace and owner, CrashLoopBackOff entries, pending pods "
    "and pending→running latency, requests against usage and waste, GPUs requested against "
    "allocatable.",
    ("namespace",),
)
THRESHOLDS = {
    "oom_kills_per_15m": 3.0,  # per namespace
    "crashloop_entries_per_15m": 5.0,  # per namespace
}
OOM = ("reason:oomkilled",)
CRASHLOOP = ("reason:crashloopbackoff",)


def _failures(q) -> list:
    return [
        row(
            toplist(
                "Restarts by namespace and owner",
                {"restarts": q("sum", "k8s.containers.restarts", by=("namespace", "owner_kind", "owner_name"))},
            ),
            toplist(
                "OOM kills by namespace and owner",
                {"oom": q("sum", "k8s.containers.terminations", where=OOM, by=("namespace", "owner_name"))},
            ),
            toplist(
                "CrashLoopBackOff entries by owner",
                {
                    "entries": q(
                        "sum", "k8s.containers.waiting_entered", where=CRASHLOOP, by=("namespace", "owner_name")
                    )
                },
            ),
        ),
        row(
            timeseries(
                "Restarts by last termination reason",
                {"restarts": q("sum", "k8s.containers.restarts", by=("reason",))},
                display="bars",
            ),
            timeseries(
                "Terminations by reason",
                {"terminations": q("sum", "k8s.containers.terminations", by=("reason",))},
                display="bars",
            ),
            timeseries(
                "Waiting states entered",
                {"entered": q("sum", "k8s.containers.waiting_entered", by=("reason",))},
                display="bars",
            ),
        ),
        row(
            *BOARD.counts(
                ("OOM kills (24 h)", "k8s.containers.oom_kills_24h"),
                ("Pods with > 5 restarts", "k8s.pods.high_restarts"),
                ("Evicted pods", "k8s.pods.evicted"),
            ),
            span(
                timeseries(
                    "Pod phase transitions",
                    {"changes": q("sum", "k8s.pods.phase_changes", by=("phase",))},
                    display="bars",
                ),
                6,
            ),
            height=2,
        ),
        row(
            timeseries(
                "Now: containers crash-looping, restarted > 5 times, failing to pull",
                {
                    "crash_looping": q("sum", "k8s.containers.crash_looping", by=("container_type",)),
                    "high_restarts": q("sum", "k8s.containers.high_restarts", by=("container_type",)),
                    "image_pull": q("sum", "k8s.containers.image_pull_errors", by=("container_type",)),
                },
            ),
            *BOARD.counts(
                ("Pods crash-looping", "k8s.pods.crash_looping"), ("Pods failing to pull", "k8s.pods.image_pull_errors")
            ),
            span(
                toplist(
                    "Crash-looping pods by namespace", {"pods": q("sum", "k8s.pods.crash_looping", by=("namespace",))}
                ),
                4,
            ),
        ),
    ]


def _scheduling(q) -> list:
    return [
        row(
            timeseries("Pods by phase", {"pods": q("sum", "k8s.pods.count", by=("phase",))}, display="area"),
            timeseries(
                "Pending > 5 min by namespace", {"pending": q("sum", "k8s.pods.pending_over_5m", by=("namespace",))}
            ),
            timeseries(
                "Pending → running latency, seconds",
                {"p50": q("p50", "k8s.pods.pending_to_running"), "p90": q("p90", "k8s.pods.pending_to_running")},
            ),
        ),
        row(
            timeseries(
                "Deployments' replicas",
                {
                    "available": q("sum", "k8s.deployments.available_replicas"),
                    "unavailable": q("sum", "k8s.deployments.unavailable_replicas"),
                },
                display="area",
            ),
            value("Deployments scaled to zero", {"n": q("sum", "k8s.deployments.zero_replicas")}, precision=0),
            span(
                timeseries(
                    "GPUs: held (bound to a node) against allocatable; waiting",
                    {
                        "held": q("sum", "k8s.gpus.requested", where=("state:held",)),
                        "waiting": q("sum", "k8s.gpus.requested", where=("state:waiting",)),
                        "allocatable": q("sum", "k8s.gpus.allocatable"),
                    },
                ),
                4,
            ),
        ),
    ]


def _resources(q) -> list:
    return [
        row(
            timeseries(
                "CPU cores: requested, used, wasted",
                {
                    "requested": q("sum", "k8s.resources.cpu_requested_cores"),
                    "used": q("sum", "k8s.resources.cpu_used_cores"),
                    "wasted": q("sum", "k8s.resources.cpu_waste_cores"),
                },
            ),
            timeseries(
                "Memory GiB: requested, used, wasted",
                {
                    "requested": q("sum", "k8s.resources.memory_requested_bytes"),
                    "used": q("sum", "k8s.resources.memory_used_bytes"),
                    "wasted": q("sum", "k8s.resources.memory_waste_gb"),
                },
                [("requested / 1073741824", "requested"), ("used / 1073741824", "used"), ("wasted", "wasted")],
            ),
            table(
                "Efficiency by namespace, % of requests used",
                {
                    "cpu": q("avg", "k8s.resources.cpu_efficiency_pct", by=("namespace",)),
                    "memory": q("avg", "k8s.resources.memory_efficiency_pct", by=("namespace",)),
                },
            ),
        ),
        row(
            timeseries(
                "Running pods using little of what they requested",
                {
                    "overallocated": q("sum", "k8s.resources.overallocated_pods"),
                    "low_cpu": q("sum", "k8s.pods.low_cpu_usage"),
                    "low_memory": q("sum", "k8s.pods.low_memory_usage"),
                    "idle": q("sum", "k8s.pods.idle_count"),
                },
                [
                    ("overallocated", "< 20 % of a request"),
                    ("low_cpu", "< 10m CPU"),
                    ("low_memory", "< 50Mi memory"),
                    ("idle", "idle"),
                ],
            ),
            span(
                toplist(
                    "Over-allocated pods by namespace",
                    {"pods": q("sum", "k8s.resources.overallocated_pods", by=("namespace",))},
                ),
                4,
            ),
        ),
    ]


def dashboard(ctx: Context) -> dict:
    q = BOARD.q
    return BOARD.body(
        ctx,
        grid(
            group("Restarts, OOM kills, crash loops", *_failures(q)),
            group("Scheduling", *_scheduling(q), color="vivid_purple"),
            group("Requests against usage", *_resources(q), color="vivid_green"),
        ),
    )


def monitors(ctx: Context) -> dict[str, dict]:
    if not ctx.on("kubernetes"):  # no such monitor where the source is off (monitors.sources)
        return {}
    oom, crash = ctx.threshold("oom_kills_per_15m"), ctx.threshold("crashloop_entries_per_15m")
    return {
        **a.monitor(
            ctx,
            "oom_kill_burst",
            "OOM kills in {{namespace.name}}",
            f"sum(last_15m):{a.q(ctx, 'sum', 'k8s.containers.terminations', where=OOM, by=('namespace',))} > {oom}",
            what="Containers in this namespace were OOM-killed repeatedly in 15 minutes.",
            first="the Kubernetes dashboard's 'OOM kills by namespace and owner' names the workload; "
            "compare its memory limit with its usage, raise the limit or fix the leak.",
            priority=3,
            critical=oom,
        ),
        **a.monitor(
            ctx,
            "crashloop_burst",
            "CrashLoopBackOff in {{namespace.name}}",
            f"sum(last_15m):{a.q(ctx, 'sum', 'k8s.containers.waiting_entered', where=CRASHLOOP, by=('namespace',))}"
            f" > {crash}",
            what="Containers in this namespace keep entering CrashLoopBackOff.",
            first="`kubectl -n <namespace> logs --previous` on the owner the dashboard names; check "
            "the last deploy of that workload.",
            priority=3,
            critical=crash,
        ),
    }
