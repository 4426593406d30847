"""Table tests of pods.py, cluster.py and quantity parsing on real pod shapes."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from orgpulse import metrics as m
from pollers import cluster, pods
from pollers.informer import baseline
from pollers.quantity import parse_quantity
from tests.dogstatsd import PRODUCED
from tests.k8s_pods import container_status, crashloop, oom, pod


def diff(old_pod, new_pod, old_state=None):
    old = old_state if old_state is not None else pods.summarize(old_pod)
    out = pods.transitions(old, pods.summarize(new_pod), new_pod, pods.Bounds.default())
    for x in out:
        assert m.problem(x) is None, x
        PRODUCED.add(x.name)
    return {(x.name, x.value, tuple(sorted((k, v) for k, v in x.tags if k not in (
        "namespace", "owner_kind", "owner_name")))) for x in out}


@pytest.mark.parametrize("text,value", [
    ("250m", 0.25), ("2", 2.0), ("1.5", 1.5), ("5713n", 5.713e-6), ("100u", 1e-4),
    ("1Ki", 1024), ("128Mi", 128 * 2 ** 20), ("1.5Gi", 1.5 * 2 ** 30), ("1k", 1000),
    ("3M", 3e6), ("2G", 2e9), ("12e6", 12e6), ("1E", 1e18), ("0", 0), (4, 4.0),
])
def test_quantities(text, value):
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["", "1.2.3", "5 Mi", "ten", "1Kb"])
def test_bad_quantities(bad):
    with pytest.raises(ValueError):
        parse_quantity(bad)


def test_owner_resolution():
    assert pods.owner_of(pod()) == ("Deployment", "trainer")
    assert pods.owner_of(pod(owner=("Job", "nightly-eval-29399520"), template_hash=None)) == (
        "CronJob", "nightly-eval")
    assert pods.owner_of(pod(owner=("StatefulSet", "redis"), template_hash=None)) == (
        "StatefulSet", "redis")
    assert pods.owner_of(pod(owner=None)) == ("Pod", "none")


def test_oom_kill_and_restart_counted_once():
    before = pod()
    after = pod(statuses=[container_status("main", restarts=1, last=oom())])
    labels = (("container", "main"), ("container_type", "app"), ("reason", "oomkilled"))
    assert diff(before, after) == {("k8s.containers.restarts", 1.0, labels),
                                   ("k8s.containers.terminations", 1.0, labels)}
    assert diff(after, after) == set()  # the same state again: nothing


def test_crashloop_entered_once():
    first = pod(statuses=[container_status("main", 3, crashloop(), oom(), ready=False)])
    second = pod(statuses=[container_status("main", 4, crashloop(), oom("2026-11-26T10:09:00Z"),
                                            ready=False)])
    out = diff(pod(statuses=[container_status("main", 3, None, oom())]), first)
    assert ("k8s.containers.waiting_entered", 1.0,
            (("container", "main"), ("container_type", "app"), ("reason", "crashloopbackoff"))) in out
    again = diff(first, second)
    assert {x[0] for x in again} == {"k8s.containers.restarts", "k8s.containers.terminations"}


def test_image_pull_backoff_and_init_and_ephemeral_containers():
    waiting = {"waiting": {"reason": "ImagePullBackOff"}}
    before = pod(phase="Pending", statuses=[container_status("main", state={"waiting": {
        "reason": "PodInitializing"}}, ready=False)],
        init_statuses=[container_status("migrate", 0, {"running": {}})],
        ephemeral_statuses=[container_status("debugger", 0)])
    after = pod(phase="Pending", statuses=[container_status("main", 0, waiting, ready=False)],
                init_statuses=[container_status("migrate", 2, {"running": {}}, {"terminated": {
                    "reason": "Error", "exitCode": 1, "finishedAt": "2026-11-26T10:01:00Z"}})],
                ephemeral_statuses=[container_status("debugger", 0, {"terminated": {
                    "reason": "Completed", "exitCode": 0, "finishedAt": "2026-11-26T10:02:00Z"}})])
    assert diff(before, after) == {
        ("k8s.containers.waiting_entered", 1.0, (("container", "main"), ("container_type", "app"),
                                                  ("reason", "imagepullbackoff"))),
        ("k8s.containers.restarts", 2.0, (("container", "migrate"), ("container_type", "init"),
                                          ("reason", "error"))),
        ("k8s.containers.terminations", 1.0, (("container", "migrate"), ("container_type", "init"),
                                              ("reason", "error"))),
        ("k8s.containers.terminations", 1.0, (("container", "debugger"),
                                              ("container_type", "ephemeral"), ("reason", "completed"))),
    }


def test_pending_to_running_latency_and_phase_changes():
    pending = pod(phase="Pending", statuses=[container_status("main", state={"waiting": {
        "reason": "ContainerCreating"}}, ready=False)])
    running = pod(statuses=[container_status("main", state={"running": {
        "startedAt": "2026-11-26T10:00:42Z"}})])
    assert diff(pending, running) == {
        ("k8s.pods.phase_changes", 1.0, (("phase", "running"),)),
        ("k8s.pods.pending_to_running", 42.0, ()),
    }


def test_eviction_and_success():
    evicted = pod(phase="Failed", reason="Evicted", statuses=[])
    assert diff(pod(), evicted) == {("k8s.pods.phase_changes", 1.0, (("phase", "failed"),)),
                                    ("k8s.pods.evicted", 1.0, ())}
    done = pod(phase="Succeeded", statuses=[container_status("main", 0, {"terminated": {
        "reason": "Completed", "exitCode": 0, "finishedAt": "2026-11-26T11:00:00Z"}})])
    assert ("k8s.pods.phase_changes", 1.0, (("phase", "succeeded"),)) in diff(pod(), done)


def test_a_new_pod_compared_with_its_baseline():
    created_then_restarted = pod(statuses=[container_status("main", 2, last=oom())])
    state = pods.summarize(created_then_restarted)
    out = diff(None, created_then_restarted, old_state=baseline(state))
    assert ("k8s.containers.restarts", 2.0, (("container", "main"), ("container_type", "app"),
                                             ("reason", "oomkilled"))) in out
    assert ("k8s.pods.phase_changes", 1.0, (("phase", "running"),)) in out
    assert pods.transitions(None, state, created_then_restarted, pods.Bounds.default()) == []


def test_requests_and_gpus_summarized():
    state = pods.summarize(pod(cpu="1500m", memory="2Gi", gpus=4))
    assert (state.cpu_request, state.memory_request, state.gpu_request) == (1.5, 2 * 2 ** 30, 4)


def test_cluster_gauges_from_states():
    now = datetime(2026, 11, 26, 10, 10, tzinfo=timezone.utc)
    states = [pods.summarize(p) for p in (
        pod(uid="a"), pod(uid="b", phase="Pending"),
        pod(uid="c", namespace="infra", statuses=[container_status("main", 9)]))]
    seen = {"old-namespace"}
    out = {(x.name, x.tag("namespace"), x.tag("phase")): x.value
           for x in cluster.pod_gauges(states, now, seen)}
    assert out[("k8s.pods.count", "ml", "running")] == 1
    assert out[("k8s.pods.count", "ml", "pending")] == 1
    assert out[("k8s.pods.pending_over_5m", "ml", None)] == 1  # created 10:00, now 10:10
    assert out[("k8s.pods.high_restarts", "infra", None)] == 1
    assert out[("k8s.pods.count", "old-namespace", "running")] == 0  # measured zero
    for x in cluster.pod_gauges(states, now, seen):
        PRODUCED.add(x.name)


def test_waste_and_efficiency():
    states = [pods.summarize(pod(uid="a", cpu="2", memory="4Gi")),
              pods.summarize(pod(uid="b", phase="Pending", cpu="8", memory="8Gi"))]
    usage = cluster.usage_by_namespace({"items": [{"metadata": {"namespace": "ml"}, "containers": [
        {"name": "main", "usage": {"cpu": "500000000n", "memory": "1048576Ki"}}]}]})
    out = {x.name: x.value for x in cluster.waste_metrics(states, usage)}
    assert out["k8s.resources.cpu_requested_cores"] == 2.0  # running pods only
    assert out["k8s.resources.cpu_used_cores"] == pytest.approx(0.5)
    assert out["k8s.resources.cpu_waste_cores"] == pytest.approx(1.5)
    assert out["k8s.resources.cpu_efficiency_pct"] == pytest.approx(25.0)
    assert out["k8s.resources.memory_waste_gb"] == pytest.approx(3.0)
    assert out["k8s.resources.memory_efficiency_pct"] == pytest.approx(25.0)
    no_requests = cluster.waste_metrics([pods.summarize(pod(cpu="0", memory="0"))], {})
    assert "k8s.resources.cpu_efficiency_pct" not in {x.name for x in no_requests}
