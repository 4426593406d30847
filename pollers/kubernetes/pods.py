"""Pure pod logic: a pod object → the small state kept per pod, and (old, new) state → metrics.

Nothing here talks to the API server. The informer (informer.py) feeds raw pod
dicts in and emits what comes out; tests feed real pod JSON shapes directly.
State per pod is a few slots and a tuple per container, not the object: the
cache must stay small at 10,000 pods.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from orgpulse import metrics as m
from orgpulse.tags import BoundedValues
from orgpulse.timeutil import parse_time, seconds_between
from pollers.kubernetes.quantity import parse_quantity

WAITING_ALERTS = {
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
}
TERMINATION_REASONS = {
    "OOMKilled",
    "Error",
    "Completed",
    "ContainerCannotRun",
    "DeadlineExceeded",
    "Evicted",
    "StartError",
}
NEVER = datetime.max.replace(tzinfo=UTC)  # sorts after every readable time
PHASES = {"Pending", "Running", "Succeeded", "Failed", "Unknown"}
GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")
_CRONJOB_JOB = re.compile(r"^(.+)-\d{8,10}$")  # a CronJob's Job: <cronjob>-<scheduled minute>


@dataclass(slots=True, frozen=True)
class Container:
    kind: str  # app | init | ephemeral
    restarts: int
    terminated: tuple | None  # (reason, finishedAt, identity) of the last termination
    waiting: str | None  # current waiting reason


@dataclass(slots=True, frozen=True)
class PodState:
    namespace: str
    name: str  # kept to pair metrics.k8s.io usage with requests; never a tag
    owner_kind: str
    owner_name: str
    phase: str
    reason: str | None  # status.reason, e.g. Evicted
    created: str | None
    containers: dict[str, Container]
    cpu_request: float  # cores, app containers (what the scheduler reserves)
    memory_request: float  # bytes
    gpu_request: float
    bound: bool = False  # scheduled to a node (spec.nodeName): it holds its requests there


def owner_of(pod: dict) -> tuple[str, str]:
    """The controlling workload: a ReplicaSet's Deployment and a Job's CronJob are resolved
    from their naming conventions (no extra API calls); bare pods are their own owner."""
    meta = pod.get("metadata") or {}
    ref = next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), None)
    if ref is None:
        return "Pod", "none"
    kind, name = ref.get("kind", "Unknown"), ref.get("name", "unknown")
    template_hash = (meta.get("labels") or {}).get("pod-template-hash")
    if kind == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
        return "Deployment", name[: -len(template_hash) - 1]
    if kind == "Job" and (match := _CRONJOB_JOB.match(name)):
        return "CronJob", match.group(1)
    return kind, name


def termination(status: dict) -> tuple | None:
    """A container status's last termination as (reason, finishedAt, identity).

    The kubelet reports one termination in two steps: `state.terminated` (restartCount n), then,
    once the container restarted or entered CrashLoopBackOff, `lastState.terminated` (restartCount
    n+1 when restarted). Its identity is what both steps share — the dead container's id and its
    start and finish times — never the restart count, so it is one termination in either step,
    across a re-list and across a restart of the informer. Only a termination the kubelet inferred
    without a container (ContainerStatusUnknown: no id, no times) falls back to the restart count.
    """
    term = (status.get("state") or {}).get("terminated") or (status.get("lastState") or {}).get("terminated")
    if not term:
        return None
    what = (term.get("containerID") or "", term.get("startedAt") or "", term.get("finishedAt") or "")
    if not any(what):
        what = ("inferred", str(status.get("restartCount") or 0), "")
    # A hash keeps the cache small (the id alone is ~80 characters); it is compared only
    # within this process, which recomputes it from the pod after any restart.
    return term.get("reason") or "Unknown", term.get("finishedAt"), hash(what)


def _container(kind: str, status: dict) -> Container:
    waiting = (status.get("state") or {}).get("waiting")
    return Container(
        kind=kind,
        restarts=int(status.get("restartCount") or 0),
        terminated=termination(status),
        waiting=waiting.get("reason") if waiting else None,
    )


def _requests(pod: dict) -> tuple[float, float, float]:
    cpu = mem = gpu = 0.0
    for c in (pod.get("spec") or {}).get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        lim = (c.get("resources") or {}).get("limits") or {}
        cpu += parse_quantity(req.get("cpu", 0))
        mem += parse_quantity(req.get("memory", 0))
        # Extended resources (GPUs) are requested through limits; requests default to them.
        gpu += sum(parse_quantity(req.get(g, lim.get(g, 0))) for g in GPU_RESOURCES)
    return cpu, mem, gpu


def summarize(pod: dict) -> PodState:
    status = pod.get("status") or {}
    containers = {}
    for kind, key in (
        ("init", "initContainerStatuses"),
        ("app", "containerStatuses"),
        ("ephemeral", "ephemeralContainerStatuses"),
    ):
        for cs in status.get(key) or []:
            containers[cs.get("name", "unnamed")] = _container(kind, cs)
    owner_kind, owner_name = owner_of(pod)
    cpu, mem, gpu = _requests(pod)
    meta = pod.get("metadata") or {}
    return PodState(
        namespace=meta.get("namespace", "default"),
        name=meta.get("name", ""),
        owner_kind=owner_kind,
        owner_name=owner_name,
        phase=status.get("phase") or "Unknown",
        reason=status.get("reason"),
        created=meta.get("creationTimestamp"),
        containers=containers,
        cpu_request=cpu,
        memory_request=mem,
        gpu_request=gpu,
        bound=bool((pod.get("spec") or {}).get("nodeName")),
    )


def oom_kills(state: PodState) -> list[tuple[str, int, str | None]]:
    """(container, identity, finishedAt) of each container whose last termination is an OOM kill."""
    return [
        (name, c.terminated[2], c.terminated[1])
        for name, c in state.containers.items()
        if c.terminated and c.terminated[0] == "OOMKilled"
    ]


@dataclass
class Bounds:
    """Caps on the tag values that come from workloads."""

    owners: BoundedValues
    containers: BoundedValues

    @classmethod
    def default(cls) -> Bounds:
        return cls(owners=BoundedValues(limit=500), containers=BoundedValues(limit=200))


def baseline(state: PodState) -> PodState:
    """What a pod looked like when it was created: the 'old' state of a pod first
    seen after it was created (live ADDED, or created while we were disconnected)."""
    fresh = {name: Container(c.kind, 0, None, None) for name, c in state.containers.items()}
    return dataclasses.replace(
        state,
        phase="Pending",
        reason=None,
        containers=fresh,
        cpu_request=0.0,
        memory_request=0.0,
        gpu_request=0.0,
        bound=False,
    )


def _running_since(pod: dict) -> str | None:
    starts = [
        ((cs.get("state") or {}).get("running") or {}).get("startedAt")
        for cs in (pod.get("status") or {}).get("containerStatuses") or []
    ]
    starts = [s for s in starts if s]
    return min(starts, key=lambda s: parse_time(s) or NEVER) if starts else None  # unreadable: last


def transitions(old: PodState | None, new: PodState, pod: dict, bounds: Bounds) -> list[m.Metric]:
    """Metrics for what changed between two states of one pod (old None: nothing to compare)."""
    if old is None:
        return []
    base = {"namespace": new.namespace, "owner_kind": new.owner_kind, "owner_name": bounds.owners(new.owner_name)}
    out: list[m.Metric] = []
    for name, c in new.containers.items():
        before = old.containers.get(name)
        ctags = {**base, "container": bounds.containers(name), "container_type": c.kind}
        restarts = c.restarts - (before.restarts if before else 0)
        reason = c.terminated[0] if c.terminated else "Unknown"
        if restarts > 0:
            out.append(m.count("k8s.containers.restarts", restarts, reason=_reason(reason), **ctags))
        if c.terminated and c.terminated[2] != _identity(before):
            out.append(m.count("k8s.containers.terminations", reason=_reason(reason), **ctags))
        if c.waiting in WAITING_ALERTS and c.waiting != (before.waiting if before else None):
            out.append(m.count("k8s.containers.waiting_entered", reason=c.waiting, **ctags))
    if new.phase != old.phase:
        phase = new.phase if new.phase in PHASES else "Unknown"
        out.append(m.count("k8s.pods.phase_changes", phase=phase, **base))
        if old.phase == "Pending" and new.phase == "Running":
            latency = seconds_between(new.created, _running_since(pod))
            if latency is not None:
                out.append(m.distribution("k8s.pods.pending_to_running", latency, **base))
        if new.reason == "Evicted":
            out.append(m.count("k8s.pods.evicted", **base))
    return out


def _identity(container: Container | None) -> int | None:
    return container.terminated[2] if container and container.terminated else None


def _reason(reason: str) -> str:
    return reason if reason in TERMINATION_REASONS else "Other"
