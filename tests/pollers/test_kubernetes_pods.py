"""Table tests of pods.py, cluster.py and quantity parsing on real pod shapes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from orgpulse import metrics as m
from pollers.kubernetes import cluster, pods
from pollers.kubernetes.quantity import parse_quantity
from tests.support.dogstatsd import PRODUCED, produced
from tests.support.k8s_pods import container_status, crashloop, kubelet_steps, oom, pod


def diff(old_pod, new_pod, old_state=None):
    old = old_state if old_state is not None else pods.summarize(old_pod)
    out = pods.transitions(old, pods.summarize(new_pod), new_pod, pods.Bounds.default())
    for x in out:
        assert m.problem(x) is None, x
        PRODUCED.add(x.name)
    return {
        (
            x.name,
            x.value,
            tuple(sorted((k, v) for k, v in x.tags if k not in ("namespace", "owner_kind", "owner_name"))),
        )
        for x in out
    }


@pytest.mark.parametrize(
    "text,value",
    [
        ("250m", 0.25),
        ("2", 2.0),
        ("1.5", 1.5),
        ("5713n", 5.713e-6),
        ("100u", 1e-4),
        ("1Ki", 1024),
        ("128Mi", 128 * 2**20),
        ("1.5Gi", 1.5 * 2**30),
        ("1k", 1000),
        ("3M", 3e6),
        ("2G", 2e9),
        ("12e6", 12e6),
        ("1E", 1e18),
        ("0", 0),
        (4, 4.0),
    ],
)
def test_quantities(text, value):
    assert parse_quantity(text) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["", "1.2.3", "5 Mi", "ten", "1Kb"])
def test_bad_quantities(bad):
    with pytest.raises(ValueError):
        parse_quantity(bad)


def test_owner_resolution():
    assert pods.owner_of(pod()) == ("Deployment", "trainer")
    assert pods.owner_of(pod(owner=("Job", "nightly-eval-29399520"), template_hash=None)) == ("CronJob", "nightly-eval")
    assert pods.owner_of(pod(owner=("StatefulSet", "redis"), template_hash=None)) == ("StatefulSet", "redis")
    assert pods.owner_of(pod(owner=None)) == ("Pod", "none")


def test_oom_kill_and_restart_counted_once():
    before = pod()
    after = pod(statuses=[container_status("main", restarts=1, last=oom())])
    labels = (("container", "main"), ("container_type", "app"), ("reason", "oomkilled"))
    assert diff(before, after) == {
        ("k8s.containers.restarts", 1.0, labels),
        ("k8s.containers.terminations", 1.0, labels),
    }
    assert diff(after, after) == set()  # the same state again: nothing


def test_crashloop_entered_once():
    first = pod(statuses=[container_status("main", 3, crashloop(), oom(), ready=False)])
    second = pod(statuses=[container_status("main", 4, crashloop(), oom("2026-11-26T10:09:00Z"), ready=False)])
    out = diff(pod(statuses=[container_status("main", 3, None, oom())]), first)
    assert (
        "k8s.containers.waiting_entered",
        1.0,
        (("container", "main"), ("container_type", "app"), ("reason", "crashloopbackoff")),
    ) in out
    again = diff(first, second)
    assert {x[0] for x in again} == {"k8s.containers.restarts", "k8s.containers.terminations"}


def test_image_pull_backoff_and_init_and_ephemeral_containers():
    waiting = {"waiting": {"reason": "ImagePullBackOff"}}
    before = pod(
        phase="Pending",
        statuses=[container_status("main", state={"waiting": {"reason": "PodInitializing"}}, ready=False)],
        init_statuses=[container_status("migrate", 0, {"running": {}})],
        ephemeral_statuses=[container_status("debugger", 0)],
    )
    after = pod(
        phase="Pending",
        statuses=[container_status("main", 0, waiting, ready=False)],
        init_statuses=[
            container_status(
                "migrate",
                2,
                {"running": {}},
                {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": "2026-11-26T10:01:00Z"}},
            )
        ],
        ephemeral_statuses=[
            container_status(
                "debugger",
                0,
                {"terminated": {"reason": "Completed", "exitCode": 0, "finishedAt": "2026-11-26T10:02:00Z"}},
            )
        ],
    )
    assert diff(before, after) == {
        (
            "k8s.containers.waiting_entered",
            1.0,
            (("container", "main"), ("container_type", "app"), ("reason", "imagepullbackoff")),
        ),
        ("k8s.containers.restarts", 2.0, (("container", "migrate"), ("container_type", "init"), ("reason", "error"))),
        (
            "k8s.containers.terminations",
            1.0,
            (("container", "migrate"), ("container_type", "init"), ("reason", "error")),
        ),
        (
            "k8s.containers.terminations",
            1.0,
            (("container", "debugger"), ("container_type", "ephemeral"), ("reason", "completed")),
        ),
    }


def test_pending_to_running_latency_and_phase_changes():
    pending = pod(
        phase="Pending",
        statuses=[container_status("main", state={"waiting": {"reason": "ContainerCreating"}}, ready=False)],
    )
    running = pod(statuses=[container_status("main", state={"running": {"startedAt": "2026-11-26T10:00:42Z"}})])
    assert diff(pending, running) == {
        ("k8s.pods.phase_changes", 1.0, (("phase", "running"),)),
        ("k8s.pods.pending_to_running", 42.0, ()),
    }


def test_eviction_and_success():
    evicted = pod(phase="Failed", reason="Evicted", statuses=[])
    assert diff(pod(), evicted) == {
        ("k8s.pods.phase_changes", 1.0, (("phase", "failed"),)),
        ("k8s.pods.evicted", 1.0, ()),
    }
    done = pod(
        phase="Succeeded",
        statuses=[
            container_status(
                "main", 0, {"terminated": {"reason": "Completed", "exitCode": 0, "finishedAt": "2026-11-26T11:00:00Z"}}
            )
        ],
    )
    assert ("k8s.pods.phase_changes", 1.0, (("phase", "succeeded"),)) in diff(pod(), done)


def test_a_new_pod_compared_with_its_baseline():
    created_then_restarted = pod(statuses=[container_status("main", 2, last=oom())])
    state = pods.summarize(created_then_restarted)
    out = diff(None, created_then_restarted, old_state=pods.baseline(state))
    assert (
        "k8s.containers.restarts",
        2.0,
        (("container", "main"), ("container_type", "app"), ("reason", "oomkilled")),
    ) in out
    assert ("k8s.pods.phase_changes", 1.0, (("phase", "running"),)) in out
    assert pods.transitions(None, state, created_then_restarted, pods.Bounds.default()) == []


def test_requests_and_gpus_summarized():
    state = pods.summarize(pod(cpu="1500m", memory="2Gi", gpus=4))
    assert (state.cpu_request, state.memory_request, state.gpu_request) == (1.5, 2 * 2**30, 4)


# ------------------------------------------------------------ terminations, as the kubelet reports them
# Three OOM kills and two errors of one container, with and without a CrashLoopBackOff wait.
SCENARIO = [("OOMKilled", False), ("OOMKilled", True), ("Error", True), ("OOMKilled", False), ("Error", False)]


def walk(statuses) -> Counter:
    """Every step the kubelet reports, seen one after the other (a live watch):
    (metric, reason) → total."""
    totals: Counter = Counter()
    before = pods.summarize(pod(uid="k", statuses=[statuses[0]]))
    for status in statuses[1:]:
        obj = pod(uid="k", statuses=[status])
        after = pods.summarize(obj)
        for x in produced(pods.transitions(before, after, obj, pods.Bounds.default())):
            totals[(x.name, x.tag("reason"))] += x.value
        before = after
    return totals


@pytest.mark.parametrize("crashloop", [False, True], ids=["restarted", "crashloopbackoff"])
def test_one_death_reported_in_two_steps_is_one_termination(crashloop):
    steps = kubelet_steps([("OOMKilled", crashloop)])
    assert steps[1]["state"]["terminated"]["reason"] == "OOMKilled"  # step 1
    assert steps[-1]["lastState"] == steps[1]["state"]  # step 2
    assert (steps[1]["restartCount"], steps[-1]["restartCount"]) == (0, 1)
    expected = {("k8s.containers.terminations", "oomkilled"): 1, ("k8s.containers.restarts", "oomkilled"): 1}
    if crashloop:
        expected[("k8s.containers.waiting_entered", "crashloopbackoff")] = 1
    assert walk(steps) == expected


def test_crashloopbackoff_reported_with_the_next_restart_count_is_still_one_termination():
    """The issue's reading of the second step (CrashLoopBackOff already at restartCount n+1):
    the termination is the same dead container, so still one, and one restart."""
    steps = kubelet_steps([("OOMKilled", True)])
    steps[2] = {**steps[2], "restartCount": 1}
    assert walk(steps) == {
        ("k8s.containers.terminations", "oomkilled"): 1,
        ("k8s.containers.restarts", "oomkilled"): 1,
        ("k8s.containers.waiting_entered", "crashloopbackoff"): 1,
    }


def test_three_oom_kills_and_two_errors():
    totals = walk(kubelet_steps(SCENARIO))
    assert {k: v for k, v in totals.items() if k[0] == "k8s.containers.terminations"} == {
        ("k8s.containers.terminations", "oomkilled"): 3,
        ("k8s.containers.terminations", "error"): 2,
    }
    assert {k: v for k, v in totals.items() if k[0] == "k8s.containers.restarts"} == {
        ("k8s.containers.restarts", "oomkilled"): 3,
        ("k8s.containers.restarts", "error"): 2,
    }


def test_termination_identity_is_the_dead_container_not_the_restart_count():
    first, _, _, restarted = kubelet_steps([("OOMKilled", True)])[:4]
    assert pods.termination(first) is None
    in_state = pods.termination(kubelet_steps([("OOMKilled", True)])[1])
    assert in_state == pods.termination(restarted)  # the same death, restartCount 0 then 1
    # A termination the kubelet inferred without a container: identified by the restart count.
    unknown = {"terminated": {"reason": "ContainerStatusUnknown", "exitCode": 137}}
    a, b = (container_status("main", n, last=unknown) for n in (3, 4))
    assert pods.termination(a) != pods.termination(b)
    assert [x[1:] for x in pods.oom_kills(pods.summarize(pod(statuses=[restarted])))] == [
        (pods.termination(restarted)[2], "2026-11-26T10:05:00Z")
    ]


# ------------------------------------------------------------ gauges
def test_cluster_gauges_from_states():
    now = datetime(2026, 11, 26, 10, 10, tzinfo=UTC)
    states = [
        pods.summarize(p)
        for p in (
            pod(uid="a"),
            pod(uid="b", phase="Pending"),
            pod(uid="c", namespace="infra", statuses=[container_status("main", 9)]),
        )
    ]
    gauges = produced(cluster.pod_gauges(states, now, ["configured"]))
    out = {(x.name, x.tag("namespace"), x.tag("phase")): x.value for x in gauges}
    assert out[("k8s.pods.count", "ml", "running")] == 1
    assert out[("k8s.pods.count", "ml", "pending")] == 1
    assert out[("k8s.pods.pending_over_5m", "ml", None)] == 1  # created 10:00, now 10:10
    assert out[("k8s.pods.high_restarts", "infra", None)] == 1
    assert out[("k8s.pods.count", "configured", "running")] == 0  # a watched namespace: measured zero
    assert not [x for x in gauges if x.tag("namespace") == "elsewhere"]


def test_seed_counts_containers_and_the_seed_names_count_pods():
    """k8s.pods.{high_restarts,crash_looping,image_pull_errors} count pods;
    k8s.containers.* count containers by type — {container_type:app} is the seed's figure."""
    two_bad = pod(
        uid="a",
        statuses=[container_status("main", 6), container_status("sidecar", 7)],
        init_statuses=[container_status("migrate", 8, crashloop(), oom())],
    )
    looping = pod(
        uid="b",
        statuses=[
            container_status("main", 2, crashloop(), oom(), ready=False),
            container_status("sidecar", 0, {"waiting": {"reason": "ErrImagePull"}}, ready=False),
        ],
    )
    pulling = pod(
        uid="c", statuses=[container_status("main", 0, {"waiting": {"reason": "ImagePullBackOff"}}, ready=False)]
    )
    fine = pod(uid="d", statuses=[container_status("main", 5)])  # 5 is not more than 5
    now = datetime(2026, 11, 26, 10, 10, tzinfo=UTC)
    out = {
        (x.name, x.tag("container_type")): x.value
        for x in produced(cluster.pod_gauges([pods.summarize(p) for p in (two_bad, looping, pulling, fine)], now))
    }
    assert out[("k8s.pods.high_restarts", None)] == 1
    assert out[("k8s.containers.high_restarts", "app")] == 2
    assert out[("k8s.containers.high_restarts", "init")] == 1
    assert out[("k8s.pods.crash_looping", None)] == 2
    assert (out[("k8s.containers.crash_looping", "app")], out[("k8s.containers.crash_looping", "init")]) == (1, 1)
    assert out[("k8s.pods.image_pull_errors", None)] == 2
    assert out[("k8s.containers.image_pull_errors", "app")] == 2


def test_oom_gauges_count_kills_in_the_window():
    out = {
        x.tag("namespace"): x.value
        for x in produced(
            cluster.oom_gauges([(100.0, "ml"), (50.0, "ml"), (200.0, "infra")], since=60.0, namespaces=["ml", "quiet"])
        )
    }
    assert out == {"ml": 1, "infra": 1, "quiet": 0}


def test_underutilization_over_pods_with_requests_and_usage():
    states = [
        pods.summarize(p)
        for p in (
            pod(name="idle", uid="1", cpu="1", memory="1Gi"),  # 0.5m, 5Mi: idle, low, overallocated
            pod(name="low-cpu", uid="2", cpu="100m", memory="100Mi"),  # 5m, 80Mi: low cpu, 5 % of cpu request
            pod(name="busy", uid="3", cpu="1", memory="1Gi"),  # 900m, 900Mi: none
            pod(name="unsampled", uid="4", cpu="1", memory="1Gi"),  # no sample yet: in no count
            pod(name="pending", uid="5", phase="Pending", cpu="8", memory="8Gi"),
        )
    ]
    usage = cluster.pod_usage(
        {
            "items": [
                {
                    "metadata": {"namespace": "ml", "name": name},
                    "containers": [{"name": "main", "usage": {"cpu": cpu, "memory": mem}}],
                }
                for name, cpu, mem in (
                    ("idle", "500u", "5Mi"),
                    ("low-cpu", "5m", "80Mi"),
                    ("busy", "900m", "900Mi"),
                    ("pending", "0", "0"),
                )
            ]
        }
    )
    out = {x.name: x.value for x in produced(cluster.resource_metrics(states, usage))}
    assert out["k8s.pods.idle_count"] == 1
    assert out["k8s.pods.low_cpu_usage"] == 2
    assert out["k8s.pods.low_memory_usage"] == 1
    assert out["k8s.resources.overallocated_pods"] == 2
    assert out["k8s.resources.cpu_requested_cores"] == pytest.approx(3.1)  # Running pods only


def test_gpus_held_and_waiting_against_allocatable():
    """8 allocatable, one Running 8-GPU pod, two Pending (unscheduled) 8-GPU pods: held 8."""
    states = [
        pods.summarize(p)
        for p in (
            pod(uid="run", gpus=8),
            pod(uid="w1", phase="Pending", gpus=8, node=None),
            pod(uid="w2", phase="Pending", gpus=8, node=None),
            pod(uid="cpu-only"),
            pod(uid="done", phase="Succeeded", gpus=8),
        )
    ]
    nodes = {"items": [{"status": {"allocatable": {"nvidia.com/gpu": "8"}}}, {"status": {"allocatable": {}}}]}
    out = {(x.name, x.tag("state")): x.value for x in produced(cluster.gpu_metrics(states, nodes))}
    assert out == {
        ("k8s.gpus.allocatable", None): 8,
        ("k8s.gpus.requested", "held"): 8,
        ("k8s.gpus.requested", "waiting"): 16,
    }
    # Bound to a node while its containers start: the scheduler has counted it there.
    starting = pods.summarize(pod(uid="s", phase="Pending", gpus=4))
    out = {x.tag("state"): x.value for x in cluster.gpu_metrics([starting], nodes) if x.tag("state")}
    assert out == {"held": 4, "waiting": 0}


def test_waste_and_efficiency():
    states = [
        pods.summarize(pod(uid="a", cpu="2", memory="4Gi")),
        pods.summarize(pod(uid="b", name="waiting", phase="Pending", cpu="8", memory="8Gi")),
    ]
    usage = cluster.pod_usage(
        {
            "items": [
                {
                    "metadata": {"namespace": "ml", "name": "trainer-7d9f8b6c5d-x2k4q"},
                    "containers": [{"name": "main", "usage": {"cpu": "500000000n", "memory": "1048576Ki"}}],
                }
            ]
        }
    )
    out = {x.name: x.value for x in produced(cluster.resource_metrics(states, usage))}
    assert out["k8s.resources.cpu_requested_cores"] == 2.0  # running pods only
    assert out["k8s.resources.cpu_used_cores"] == pytest.approx(0.5)
    assert out["k8s.resources.cpu_waste_cores"] == pytest.approx(1.5)
    assert out["k8s.resources.cpu_efficiency_pct"] == pytest.approx(25.0)
    assert out["k8s.resources.memory_waste_gb"] == pytest.approx(3.0)
    assert out["k8s.resources.memory_efficiency_pct"] == pytest.approx(25.0)
    no_requests = cluster.resource_metrics([pods.summarize(pod(cpu="0", memory="0"))], {})
    assert "k8s.resources.cpu_efficiency_pct" not in {x.name for x in no_requests}
