"""The informer against a fake API server speaking the real list/watch protocol,
driven through the real kubernetes client; leader election through real Leases."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from kubernetes import client

from orgpulse.emit import DogStatsdSink, Emitter
from pollers.informer import Informer
from pollers.lease import LeaderElector
from tests.dogstatsd import udp_listener
from tests.fakes.kube_api import FakeKube
from tests.k8s_pods import container_status, oom, pod


def api_client(fake: FakeKube) -> client.ApiClient:
    cfg = client.Configuration()
    cfg.host = fake.url
    return client.ApiClient(cfg)


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def fake():
    server = FakeKube()
    yield server
    server.drop()
    server.close()


@pytest.fixture
def make_informer(make_settings, fake):
    made = []

    def make(options=None, elector=None, listener=None):
        listener = listener or udp_listener()
        host, port = listener.address
        settings = make_settings({"DD_DOGSTATSD_URL": f"udp://{host}:{port}"})
        emitter = Emitter(DogStatsdSink(settings), strict=True)
        informer = Informer(api_client(fake), emitter,
                            {"watch_timeout_seconds": 2, "gauge_interval_seconds": 3600, **(options or {})},
                            elector=elector)
        made.append((informer, listener, emitter))
        return informer, listener, emitter
    yield make
    for informer, listener, _ in made:
        informer.stop()
        listener.close()


def restarts(listener, emitter, quiet=0.3):
    emitter.flush()
    return sum(x.value for x in listener.settle(quiet) if x.name == "k8s.containers.restarts")


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_history_is_not_news_and_a_live_restart_counts_once(fake, make_informer):
    fake.put(pod(uid="p1", statuses=[container_status("main", 3, last=oom())]))
    informer, listener, emitter = make_informer()
    informer.start()
    assert wait_until(lambda: "" in informer.synced)
    fake.put(pod(uid="p1", statuses=[container_status("main", 4, last=oom("2026-11-26T10:20:00Z"))]))
    assert wait_until(lambda: informer.cache["p1"].containers["main"].restarts == 4)
    lines = [x for x in (emitter.flush() or listener.settle(0.3)) if x.name.startswith("k8s.")]
    assert {(x.name, x.value, x.tag_map["reason"], x.tag_map["owner_kind"], x.tag_map["owner_name"])
            for x in lines} == {("k8s.containers.restarts", 1.0, "oomkilled", "deployment", "trainer"),
                                ("k8s.containers.terminations", 1.0, "oomkilled", "deployment", "trainer")}


def test_dropped_connection_resumes_without_double_counting(fake, make_informer):
    fake.put(pod(uid="p1"))
    informer, listener, emitter = make_informer()
    informer.start()
    assert wait_until(lambda: "p1" in informer.cache)
    fake.put(pod(uid="p1", statuses=[container_status("main", 1, last=oom())]))
    assert wait_until(lambda: informer.cache["p1"].containers["main"].restarts == 1)
    for _ in range(3):
        fake.drop()
        time.sleep(0.1)
    fake.put(pod(uid="p1", statuses=[container_status("main", 2, last=oom("2026-11-26T10:30:00Z"))]))
    assert wait_until(lambda: informer.cache["p1"].containers["main"].restarts == 2)
    assert restarts(listener, emitter) == 2.0


def test_410_gone_relists_and_counts_the_missed_restart_once(fake, make_informer):
    fake.put(pod(uid="p1"))
    fake.put(pod(uid="p2", name="old-pod"))
    informer, listener, emitter = make_informer()
    informer.start()
    assert wait_until(lambda: "p2" in informer.cache)
    fake.put(pod(uid="p1", statuses=[container_status("main", 1, last=oom())]))  # seen live
    assert wait_until(lambda: informer.cache["p1"].containers["main"].restarts == 1)
    # While disconnected: p1 restarts again, p2 is deleted, p3 is created and restarts;
    # then the API server compacts: resuming the watch answers 410 Gone.
    fake.drop()
    fake.put(pod(uid="p1", statuses=[container_status("main", 2, last=oom("2026-11-26T10:40:00Z"))]))
    fake.delete("p2")
    fresh = pod(uid="p3", name="new-pod", statuses=[container_status("main", 1, last=oom())])
    fresh["metadata"]["creationTimestamp"] = now_iso()
    fake.put(fresh)
    fake.compact()
    assert wait_until(lambda: "p3" in informer.cache and "p2" not in informer.cache)
    assert informer.cache["p1"].containers["main"].restarts == 2
    emitter.flush()
    lines = listener.settle(0.3)
    by_pod = {}
    for x in lines:
        if x.name == "k8s.containers.restarts":
            by_pod[x.tag_map["owner_name"]] = by_pod.get(x.tag_map["owner_name"], 0) + x.value
    assert by_pod == {"trainer": 3.0}  # p1: 1 live + 1 missed; p3 (same owner): 1 after creation
    assert any(x.name == "orgpulse.collector.errors" and x.tag_map["reason"] == "gone" for x in lines)


def test_bookmarks_keep_the_resource_version_fresh(fake, make_informer):
    fake.put(pod(uid="p1"))
    informer, listener, emitter = make_informer()
    informer.start()
    assert wait_until(lambda: "p1" in informer.cache)
    for i in range(5):  # other activity moves the resourceVersion on
        fake.put(pod(uid="p1"))
    time.sleep(0.8)  # idle: the fake sends a BOOKMARK
    fake.compact()   # everything older than now is gone
    fake.drop()      # resuming from the bookmark's version needs no 410 and no relist
    fake.put(pod(uid="p1", statuses=[container_status("main", 1, last=oom())]))
    assert wait_until(lambda: informer.cache["p1"].containers["main"].restarts == 1)
    emitter.flush()
    errors = [x.tag_map["reason"] for x in listener.settle(0.3) if x.name == "orgpulse.collector.errors"]
    assert "gone" not in errors  # the dropped connection itself is counted as watch_error
    lists = [r for r in fake.log if r.path == "/api/v1/pods" and "watch" not in r.query]
    assert len(lists) == 1


def test_deleted_pod_leaves_the_cache(fake, make_informer):
    fake.put(pod(uid="p1"))
    informer, _, _ = make_informer()
    informer.start()
    assert wait_until(lambda: "p1" in informer.cache)
    fake.delete("p1")
    assert wait_until(lambda: "p1" not in informer.cache)


def test_namespaced_watch_only_sees_its_namespaces(fake, make_informer):
    fake.put(pod(uid="a", namespace="ml"))
    fake.put(pod(uid="b", namespace="other"))
    informer, _, _ = make_informer({"namespaces": ["ml"]})
    informer.start()
    assert wait_until(lambda: "ml" in informer.synced)
    fake.put(pod(uid="c", namespace="ml"))
    assert wait_until(lambda: "c" in informer.cache)
    assert "b" not in informer.cache


def test_gauges_with_and_without_metrics_server(fake, make_informer):
    fake.put(pod(uid="a", cpu="2", memory="4Gi", gpus=2))
    fake.node_list["items"] = [{"metadata": {"name": "gpu-1"}, "status": {"allocatable": {
        "cpu": "96", "memory": "1Ti", "nvidia.com/gpu": "8"}}}]
    fake.deployment_list["items"] = [
        {"metadata": {"namespace": "ml", "name": "trainer"}, "spec": {"replicas": 3},
         "status": {"availableReplicas": 2, "unavailableReplicas": 1}},
        {"metadata": {"namespace": "ml", "name": "idle"}, "spec": {"replicas": 0}, "status": {}}]
    fake.metrics_list["items"] = [{"metadata": {"namespace": "ml", "name": "x"}, "containers": [
        {"name": "main", "usage": {"cpu": "250m", "memory": "1Gi"}}]}]
    informer, listener, emitter = make_informer()
    informer.start()
    assert wait_until(lambda: "" in informer.synced)
    fake.put(pod(uid="a", cpu="2", memory="4Gi", gpus=2, statuses=[container_status("main", 1, last=oom())]))
    assert wait_until(lambda: informer.cache["a"].containers["main"].restarts == 1)
    values = {x.name: x.value for x in informer.gauges()}
    assert values["k8s.containers.oom_kills_24h"] == 1
    assert values["k8s.resources.cpu_efficiency_pct"] == pytest.approx(12.5)
    assert values["k8s.gpus.allocatable"] == 8 and values["k8s.gpus.requested"] == 2
    assert values["k8s.deployments.unavailable_replicas"] == 1
    assert values["k8s.deployments.zero_replicas"] == 1
    informer.emit(informer.gauges())
    fake.metrics_list = None  # metrics-server uninstalled
    gauges = informer.gauges()
    names = {x.name for x in gauges}
    assert not {n for n in names if n.startswith("k8s.resources.")}
    assert [(x.tag("collector"), x.tag("reason")) for x in gauges
            if x.name == "orgpulse.collector.errors"] == [("metrics_server", "fetch_failed")]
    informer.emit(gauges)
    emitter.flush()
    assert listener.metrics("k8s.resources.cpu_waste_cores", wait_for=1)


def test_only_the_lease_holder_emits_and_the_other_takes_over(fake, make_informer):
    electors = [LeaderElector(api_client(fake), "observability", "orgpulse", f"replica-{i}",
                              lease_seconds=2, renew_seconds=0.2) for i in range(2)]
    electors[0].try_acquire_or_renew()
    informers = [make_informer(elector=e) for e in electors]
    for e in electors:
        e.start()
    try:
        _takeover(fake, electors, informers)
    finally:
        for e in electors:
            e.stop()


def _takeover(fake, electors, informers):
    fake.put(pod(uid="p1"))
    for informer, _, _ in informers:
        informer.start()
    assert wait_until(lambda: all("p1" in i.cache for i, _, _ in informers))
    assert electors[0].is_leader() and not electors[1].is_leader()
    fake.put(pod(uid="p1", statuses=[container_status("main", 1, last=oom())]))
    assert wait_until(lambda: all(i.cache["p1"].containers["main"].restarts == 1
                                  for i, _, _ in informers))
    assert [restarts(listener, emitter) for _, listener, emitter in informers] == [1.0, 0.0]
    electors[0].stop()  # the leader dies: its lease is no longer renewed
    assert wait_until(lambda: electors[1].is_leader(), timeout=10)
    assert not electors[0].is_leader()
    fake.put(pod(uid="p1", statuses=[container_status("main", 2, last=oom("2026-11-26T11:00:00Z"))]))
    assert wait_until(lambda: informers[1][0].cache["p1"].containers["main"].restarts == 2)
    assert [restarts(listener, emitter) for _, listener, emitter in informers] == [1.0, 1.0]
    lease = fake.leases[("observability", "orgpulse")]["spec"]
    assert lease["holderIdentity"] == "replica-1" and lease["leaseTransitions"] == 1
