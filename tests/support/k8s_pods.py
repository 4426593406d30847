"""Pod objects shaped as the API server returns them (kubectl get pod -o json)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

EXIT_CODES = {"OOMKilled": 137, "Error": 1, "Completed": 0}


def container_status(name, restarts=0, state=None, last=None, ready=True):
    return {
        "name": name,
        "image": f"registry.example/{name}:1.0",
        "imageID": "",
        "containerID": f"containerd://{name}{restarts}",
        "ready": ready,
        "started": ready,
        "restartCount": restarts,
        "state": state or {"running": {"startedAt": "2026-11-26T10:00:30Z"}},
        "lastState": last or {},
    }


def oom(finished="2026-11-26T10:05:00Z"):
    return {
        "terminated": {
            "exitCode": 137,
            "reason": "OOMKilled",
            "startedAt": "2026-11-26T10:00:30Z",
            "finishedAt": finished,
            "containerID": "containerd://x",
        }
    }


def crashloop():
    return {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}}


def _at(base: datetime, minutes: float) -> str:
    return (base + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def kubelet_steps(deaths, name="main", base=datetime(2026, 11, 26, 10, tzinfo=UTC)):
    """The container statuses the kubelet reports, in order, for a container that dies once per
    (reason, crashloop) in `deaths`, each time restarted (kubelet_pods.go,
    convertToAPIContainerStatuses). Attempt i runs in container `<name>-i`; its death is reported
    first as state.terminated with restartCount i; with a back-off, then as state.waiting
    CrashLoopBackOff with that termination in lastState and restartCount still i (no new container
    exists yet); and once attempt i+1 runs, as lastState.terminated with restartCount i+1."""

    def status(attempt, state, last):
        return {
            "name": name,
            "image": f"registry.example/{name}:1.0",
            "imageID": "",
            "containerID": f"containerd://{name}-{attempt}",
            "ready": "running" in state,
            "started": "running" in state,
            "restartCount": attempt,
            "state": state,
            "lastState": last,
        }

    last: dict = {}
    steps = [status(0, {"running": {"startedAt": _at(base, 0)}}, last)]
    for i, (reason, backoff) in enumerate(deaths):
        dead = {
            "terminated": {
                "exitCode": EXIT_CODES.get(reason, 2),
                "reason": reason,
                "startedAt": _at(base, 10 * i),
                "finishedAt": _at(base, 10 * i + 5),
                "containerID": f"containerd://{name}-{i}",
            }
        }
        steps.append(status(i, dead, last))
        if backoff:
            steps.append(status(i, crashloop(), dead))
        last = dead
        steps.append(status(i + 1, {"running": {"startedAt": _at(base, 10 * i + 8)}}, last))
    return steps


def pod(
    name="trainer-7d9f8b6c5d-x2k4q",
    namespace="ml",
    uid=None,
    phase="Running",
    statuses=None,
    init_statuses=None,
    ephemeral_statuses=None,
    owner=("ReplicaSet", "trainer-7d9f8b6c5d"),
    template_hash="7d9f8b6c5d",
    cpu="500m",
    memory="1Gi",
    gpus=None,
    reason=None,
    node="node-1",
    labels=None,
):
    resources = {"requests": {"cpu": cpu, "memory": memory}}
    if gpus:
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
    labels = {"app": name.split("-")[0], **(labels or {})}
    if template_hash:
        labels["pod-template-hash"] = template_hash
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"uid-{namespace}-{name}",
            "creationTimestamp": "2026-11-26T10:00:00Z",
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": owner[0],
                    "name": owner[1],
                    "uid": "owner-uid",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
            if owner
            else [],
        },
        "spec": {
            "containers": [{"name": "main", "image": "registry.example/main:1.0", "resources": resources}],
            "restartPolicy": "Always",
        },
        "status": {
            "phase": phase,
            "hostIP": "10.0.0.1",
            "podIP": "10.1.0.5",
            "startTime": "2026-11-26T10:00:05Z",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": statuses if statuses is not None else [container_status("main")],
        },
    }
    if node:  # scheduled; a Pending pod the scheduler has not placed has no nodeName
        obj["spec"]["nodeName"] = node
    if init_statuses:
        obj["status"]["initContainerStatuses"] = init_statuses
    if ephemeral_statuses:
        obj["status"]["ephemeralContainerStatuses"] = ephemeral_statuses
    if reason:
        obj["status"]["reason"] = reason
    return copy.deepcopy(obj)
