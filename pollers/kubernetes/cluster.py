"""Pure point-in-time gauges over the informer's cache and the cluster's lists.

- pod health per namespace: pods by phase, pending longer than 5 minutes, and
  pods (k8s.pods.*) and containers (k8s.containers.*, the old collectors' count) with
  many restarts, in CrashLoopBackOff, or failing to pull their image;
- resources per namespace, over the same pods: requests of Running pods in the
  cache against the usage of those very pods (metrics.k8s.io `pods`, the
  resource the old collector misnamed, listed in the informer's scope), and
  the old collector's underutilization counts; GPUs held and waiting against
  nodes' allocatable;
- deployments: available / unavailable replicas, deployments scaled to zero.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import datetime

from orgpulse import metrics as m
from orgpulse.timeutil import parse_time
from pollers.kubernetes.pods import GPU_RESOURCES, PHASES, PodState
from pollers.kubernetes.quantity import parse_quantity

PENDING_TOO_LONG = 300.0
HIGH_RESTARTS = 5  # the old collectors' threshold: restartCount > 5
GIB = 2.0**30
MI = 2.0**20
# The old collectors' underutilization thresholds (kept, so the figures compare), per pod.
IDLE_CPU, IDLE_MEMORY = 0.001, 10 * MI
LOW_CPU, LOW_MEMORY = 0.010, 50 * MI
OVERALLOCATED = 0.2  # using less than 20 % of a request

# Container conditions counted twice: pods with such a container, and the containers.
CONDITIONS = {
    "high_restarts": lambda c: c.restarts > HIGH_RESTARTS,
    "crash_looping": lambda c: c.waiting == "CrashLoopBackOff",
    "image_pull_errors": lambda c: "ImagePull" in (c.waiting or ""),
}


def pod_gauges(states: Iterable[PodState], now: datetime, namespaces: Iterable[str] = ()) -> list[m.Metric]:
    """Gauges of every namespace with pods, and of the configured ones (zeros measured from a
    synced cache, not defaults standing in for a failure). A namespace whose last pod is gone
    drops out; the informer's VanishedSeries sends its series once as 0."""
    by_phase: Counter = Counter()
    pending_long: Counter = Counter()
    pods_with: Counter = Counter()  # (condition, namespace)
    containers_with: Counter = Counter()  # (condition, namespace, container_type)
    kinds: dict[str, set[str]] = defaultdict(lambda: {"app"})
    for s in states:
        by_phase[(s.namespace, s.phase if s.phase in PHASES else "Unknown")] += 1
        created = parse_time(s.created)
        if s.phase == "Pending" and created and (now - created).total_seconds() > PENDING_TOO_LONG:
            pending_long[s.namespace] += 1
        kinds[s.namespace].update(c.kind for c in s.containers.values())
        for condition, test in CONDITIONS.items():
            hits = [c for c in s.containers.values() if test(c)]
            pods_with[(condition, s.namespace)] += bool(hits)
            containers_with.update((condition, s.namespace, c.kind) for c in hits)
    out = []
    for ns in sorted({ns for ns, _ in by_phase} | set(namespaces)):
        out += [m.gauge("k8s.pods.count", by_phase[(ns, phase)], namespace=ns, phase=phase) for phase in sorted(PHASES)]
        out.append(m.gauge("k8s.pods.pending_over_5m", pending_long[ns], namespace=ns))
        for condition in CONDITIONS:
            out.append(m.gauge(f"k8s.pods.{condition}", pods_with[(condition, ns)], namespace=ns))
            out += [
                m.gauge(
                    f"k8s.containers.{condition}",
                    containers_with[(condition, ns, kind)],
                    namespace=ns,
                    container_type=kind,
                )
                for kind in sorted(kinds[ns])
            ]
    return out


def oom_gauges(kills: Iterable[tuple[float, str]], since: float, namespaces: Iterable[str]) -> list[m.Metric]:
    """k8s.containers.oom_kills_24h: the (finished time, namespace) kills after `since`, per
    namespace, zero for the namespaces given."""
    counts = Counter(ns for finished, ns in kills if finished >= since)
    return [
        m.gauge("k8s.containers.oom_kills_24h", counts[ns], namespace=ns)
        for ns in sorted(set(counts) | set(namespaces))
    ]


def pod_usage(pod_metrics: dict) -> dict[tuple[str, str], tuple[float, float]]:
    """metrics.k8s.io PodMetricsList → (namespace, pod name) → (cpu cores, memory bytes) in use."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for item in pod_metrics.get("items") or []:
        meta = item.get("metadata") or {}
        cpu = mem = 0.0
        for c in item.get("containers") or []:
            usage = c.get("usage") or {}
            cpu += parse_quantity(usage.get("cpu", 0))
            mem += parse_quantity(usage.get("memory", 0))
        out[(meta.get("namespace", "default"), meta.get("name", ""))] = (cpu, mem)
    return out


UNDERUSED = (
    "k8s.pods.idle_count",
    "k8s.pods.low_cpu_usage",
    "k8s.pods.low_memory_usage",
    "k8s.resources.overallocated_pods",
)


def _underused(s: PodState, cpu: float, mem: float) -> list[str]:
    """Which of the underutilization counts one pod falls in, from its requests and usage."""
    hits = (
        cpu < IDLE_CPU and mem < IDLE_MEMORY,
        cpu < LOW_CPU,
        mem < LOW_MEMORY,
        (s.cpu_request > 0 and cpu < OVERALLOCATED * s.cpu_request)
        or (s.memory_request > 0 and mem < OVERALLOCATED * s.memory_request),
    )
    return [name for name, hit in zip(UNDERUSED, hits, strict=True) if hit]


def resource_metrics(states: Iterable[PodState], usage: dict[tuple[str, str], tuple[float, float]]) -> list[m.Metric]:
    """Requests of the Running pods in the cache against the usage of those same pods, per
    namespace: a pod outside the informer's scope (namespaces, label selector) is in neither."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])  # cpu/mem req, used
    underused: Counter = Counter()
    for s in states:
        if s.phase != "Running":
            continue
        t = totals[s.namespace]
        t[0] += s.cpu_request
        t[1] += s.memory_request
        sample = usage.get((s.namespace, s.name))
        if sample is not None:  # metrics-server samples a new pod within its first minute
            t[2] += sample[0]
            t[3] += sample[1]
            underused.update((name, s.namespace) for name in _underused(s, *sample))
    out = []
    for ns, (cpu_req, mem_req, cpu_used, mem_used) in sorted(totals.items()):
        out += [
            m.gauge("k8s.resources.cpu_requested_cores", cpu_req, namespace=ns),
            m.gauge("k8s.resources.cpu_used_cores", cpu_used, namespace=ns),
            m.gauge("k8s.resources.cpu_waste_cores", max(cpu_req - cpu_used, 0.0), namespace=ns),
            m.gauge("k8s.resources.memory_requested_bytes", mem_req, namespace=ns),
            m.gauge("k8s.resources.memory_used_bytes", mem_used, namespace=ns),
            m.gauge("k8s.resources.memory_waste_gb", max(mem_req - mem_used, 0.0) / GIB, namespace=ns),
        ]
        out += [m.gauge(name, underused[(name, ns)], namespace=ns) for name in UNDERUSED]
        # Efficiency is undefined without requests: no point rather than a fake 0 or 100.
        if cpu_req > 0:
            out.append(m.gauge("k8s.resources.cpu_efficiency_pct", 100 * cpu_used / cpu_req, namespace=ns))
        if mem_req > 0:
            out.append(m.gauge("k8s.resources.memory_efficiency_pct", 100 * mem_used / mem_req, namespace=ns))
    return out


def gpu_metrics(states: Iterable[PodState], nodes: dict) -> list[m.Metric]:
    """GPUs held by pods bound to a node (Running, or Pending while their containers start: the
    scheduler has counted them against the node, so held never exceeds allocatable) and GPUs
    waiting in Pending pods not yet scheduled; the sum over `state` is every GPU requested."""
    requested: dict[tuple[str, str], float] = defaultdict(float)
    for s in states:
        if s.gpu_request and s.phase in ("Running", "Pending"):
            state = "held" if s.bound else "waiting"
            requested[(s.namespace, state)] += s.gpu_request
            requested.setdefault((s.namespace, "waiting" if s.bound else "held"), 0.0)
    allocatable = sum(
        parse_quantity((n.get("status") or {}).get("allocatable", {}).get(g, 0))
        for n in nodes.get("items") or []
        for g in GPU_RESOURCES
    )
    out = [m.gauge("k8s.gpus.allocatable", allocatable)]
    out += [m.gauge("k8s.gpus.requested", v, namespace=ns, state=state) for (ns, state), v in sorted(requested.items())]
    return out


def deployment_metrics(deployments: dict) -> list[m.Metric]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for d in deployments.get("items") or []:
        ns = (d.get("metadata") or {}).get("namespace", "default")
        spec, status = d.get("spec") or {}, d.get("status") or {}
        totals[ns][0] += int(status.get("availableReplicas") or 0)
        totals[ns][1] += int(status.get("unavailableReplicas") or 0)
        totals[ns][2] += spec.get("replicas", 1) == 0
    out = []
    for ns, (available, unavailable, zero) in sorted(totals.items()):
        out += [
            m.gauge("k8s.deployments.available_replicas", available, namespace=ns),
            m.gauge("k8s.deployments.unavailable_replicas", unavailable, namespace=ns),
            m.gauge("k8s.deployments.zero_replicas", zero, namespace=ns),
        ]
    return out
