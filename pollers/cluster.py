"""Pure point-in-time gauges over the informer's cache and the cluster's lists.

- pod gauges: pods by namespace and phase, pending longer than 5 minutes, pods
  with many restarts — computed from the cache every 60 s;
- resource waste per namespace: requests (cache) against usage (metrics.k8s.io
  `pods`, the resource the old collector misnamed), GPUs requested against
  nodes' allocatable;
- deployments: available / unavailable replicas, deployments scaled to zero.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Iterable

from orgpulse import metrics as m
from orgpulse.timeutil import parse_time
from pollers.pods import GPU_RESOURCES, PHASES, PodState
from pollers.quantity import parse_quantity

PENDING_TOO_LONG = 300.0
HIGH_RESTARTS = 5
GIB = 2.0 ** 30


def pod_gauges(states: Iterable[PodState], now: datetime,
               namespaces_seen: set[str]) -> list[m.Metric]:
    """Every namespace ever seen gets its gauges, zero included: these zeros are
    counted from a synced cache, not defaults standing in for a failure."""
    by_phase: dict[tuple[str, str], int] = defaultdict(int)
    pending_long: dict[str, int] = defaultdict(int)
    restarting: dict[str, int] = defaultdict(int)
    for s in states:
        namespaces_seen.add(s.namespace)
        by_phase[(s.namespace, s.phase if s.phase in PHASES else "Unknown")] += 1
        created = parse_time(s.created)
        if s.phase == "Pending" and created and (now - created).total_seconds() > PENDING_TOO_LONG:
            pending_long[s.namespace] += 1
        if sum(c.restarts for c in s.containers.values()) > HIGH_RESTARTS:
            restarting[s.namespace] += 1
    out = []
    for ns in sorted(namespaces_seen):
        for phase in sorted(PHASES):
            out.append(m.gauge("k8s.pods.count", by_phase.get((ns, phase), 0), namespace=ns, phase=phase))
        out.append(m.gauge("k8s.pods.pending_over_5m", pending_long.get(ns, 0), namespace=ns))
        out.append(m.gauge("k8s.pods.high_restarts", restarting.get(ns, 0), namespace=ns))
    return out


def usage_by_namespace(pod_metrics: dict) -> dict[str, tuple[float, float]]:
    """metrics.k8s.io PodMetricsList → namespace → (cpu cores, memory bytes) in use."""
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for item in pod_metrics.get("items") or []:
        ns = (item.get("metadata") or {}).get("namespace", "default")
        for c in item.get("containers") or []:
            usage = c.get("usage") or {}
            out[ns][0] += parse_quantity(usage.get("cpu", 0))
            out[ns][1] += parse_quantity(usage.get("memory", 0))
    return {ns: (cpu, mem) for ns, (cpu, mem) in out.items()}


def waste_metrics(states: Iterable[PodState], usage: dict[str, tuple[float, float]]) -> list[m.Metric]:
    """Requests of running pods against their usage, per namespace."""
    requested: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for s in states:
        if s.phase == "Running":
            requested[s.namespace][0] += s.cpu_request
            requested[s.namespace][1] += s.memory_request
    out = []
    for ns in sorted(set(requested) | set(usage)):
        cpu_req, mem_req = requested.get(ns, (0.0, 0.0))
        cpu_used, mem_used = usage.get(ns, (0.0, 0.0))
        out += [
            m.gauge("k8s.resources.cpu_requested_cores", cpu_req, namespace=ns),
            m.gauge("k8s.resources.cpu_used_cores", cpu_used, namespace=ns),
            m.gauge("k8s.resources.cpu_waste_cores", max(cpu_req - cpu_used, 0.0), namespace=ns),
            m.gauge("k8s.resources.memory_requested_bytes", mem_req, namespace=ns),
            m.gauge("k8s.resources.memory_used_bytes", mem_used, namespace=ns),
            m.gauge("k8s.resources.memory_waste_gb", max(mem_req - mem_used, 0.0) / GIB, namespace=ns),
        ]
        # Efficiency is undefined without requests: no point rather than a fake 0 or 100.
        if cpu_req > 0:
            out.append(m.gauge("k8s.resources.cpu_efficiency_pct", 100 * cpu_used / cpu_req, namespace=ns))
        if mem_req > 0:
            out.append(m.gauge("k8s.resources.memory_efficiency_pct", 100 * mem_used / mem_req,
                               namespace=ns))
    return out


def gpu_metrics(states: Iterable[PodState], nodes: dict) -> list[m.Metric]:
    """GPUs requested by pods that hold them (Running or Pending) against nodes' allocatable."""
    requested: dict[str, float] = defaultdict(float)
    for s in states:
        if s.phase in ("Running", "Pending") and s.gpu_request:
            requested[s.namespace] += s.gpu_request
    allocatable = sum(parse_quantity((n.get("status") or {}).get("allocatable", {}).get(g, 0))
                      for n in nodes.get("items") or [] for g in GPU_RESOURCES)
    out = [m.gauge("k8s.gpus.allocatable", allocatable)]
    out += [m.gauge("k8s.gpus.requested", v, namespace=ns) for ns, v in sorted(requested.items())]
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
        out += [m.gauge("k8s.deployments.available_replicas", available, namespace=ns),
                m.gauge("k8s.deployments.unavailable_replicas", unavailable, namespace=ns),
                m.gauge("k8s.deployments.zero_replicas", zero, namespace=ns)]
    return out
