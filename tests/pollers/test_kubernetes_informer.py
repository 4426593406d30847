"""The informer against a fake API server speaking the real list/watch protocol,
driven through the real kubernetes client; leader election through real Leases.

One fake server per module (reset per test), an injected clock, and a backoff of
~0: nothing here sleeps for the logic; waits are for a state to be reached."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from kubernetes import client

from fom import scores
from orgpulse.emit import DogStatsdSink, Emitter
from pollers.kubernetes.informer import Informer
from pollers.kubernetes.lease import LeaderElector
from pollers.values import ValueStore
from tests.fakes.kube_api import FakeKube
from tests.support.dogstatsd import udp_listener
from tests.support.k8s_pods import container_status, kubelet_steps, oom, pod

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp()
FAST = (0.005, 0.02)  # backoff: first and longest wait after a failed watch


def clock():
    return NOW


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_client(fake: FakeKube) -> client.ApiClient:
    cfg = client.Configuration()
    cfg.host = fake.url
    return client.ApiClient(cfg)


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


@pytest.fixture(scope="module")
def server():
    fake = FakeKube()
    yield fake
    fake.drop()
    fake.close()


@pytest.fixture
def fake(server):
    server.reset()
    yield server
    server.drop()


@pytest.fixture
def make_informer(make_settings, fake):
    made = []

    def make(options=None, elector=None, now=clock):
        listener = udp_listener()
        host, port = listener.address
        settings = make_settings({"DD_DOGSTATSD_URL": f"udp://{host}:{port}"})
        emitter = Emitter(DogStatsdSink(settings), strict=True)
        informer = Informer(
            api_client(fake),
            emitter,
            {"watch_timeout_seconds": 30, "gauge_interval_seconds": 3600, **(options or {})},
            elector=elector,
            clock=now,
            backoff=FAST,
        )
        made.append((informer, listener, emitter))
        return informer, listener, emitter

    yield make
    for informer, listener, _ in made:
        informer.stop()
        listener.close()


def totals(listener, emitter, name, at_least=0, by="reason") -> Counter:
    """`name`'s totals by a tag, once at least `at_least` arrived and nothing more comes."""

    def total():
        emitter.flush()
        return sum(x.value for x in listener.metrics(name))

    assert wait_until(lambda: total() >= at_least), (name, total())
    emitter.flush()
    out: Counter = Counter()
    for x in listener.settle(0.05):
        if x.name == name:
            out[x.tag_map.get(by)] += x.value
    return out


def started(make_informer, **kw):
    informer, listener, emitter = make_informer(**kw)
    informer.start()
    assert wait_until(lambda: all(s in informer.synced for s in informer.scopes))
    return informer, listener, emitter


def watch_requests(fake):
    return [r for r in list(fake.log) if r.query.get("watch")]


def restarts_of(informer, uid, n, container="main"):
    return wait_until(lambda: uid in informer.cache and informer.cache[uid].containers[container].restarts == n)


# ------------------------------------------------------------ watch mechanics
def test_history_is_not_news_and_a_live_restart_counts_once(fake, make_informer):
    fake.put(pod(uid="p1", statuses=[container_status("main", 3, last=oom())]))
    informer, listener, emitter = started(make_informer)
    fake.put(pod(uid="p1", statuses=[container_status("main", 4, last=oom("2026-11-26T10:20:00Z"))]))
    assert restarts_of(informer, "p1", 4)
    totals(listener, emitter, "k8s.containers.terminations", 1)
    lines = [x for x in listener.lines if x.name.startswith("k8s.")]
    assert {
        (x.name, x.value, x.tag_map["reason"], x.tag_map["owner_kind"], x.tag_map["owner_name"]) for x in lines
    } == {
        ("k8s.containers.restarts", 1.0, "oomkilled", "deployment", "trainer"),
        ("k8s.containers.terminations", 1.0, "oomkilled", "deployment", "trainer"),
    }


def test_dropped_connection_resumes_without_double_counting(fake, make_informer):
    fake.put(pod(uid="p1"))
    informer, listener, emitter = started(make_informer)
    fake.put(pod(uid="p1", statuses=[container_status("main", 1, last=oom())]))
    assert restarts_of(informer, "p1", 1)
    for _ in range(3):
        watches = len(watch_requests(fake))
        fake.drop()
        assert wait_until(lambda watches=watches: len(watch_requests(fake)) > watches)  # resumed
    fake.put(pod(uid="p1", statuses=[container_status("main", 2, last=oom("2026-11-26T10:30:00Z"))]))
    assert restarts_of(informer, "p1", 2)
    assert sum(totals(listener, emitter, "k8s.containers.restarts", 2).values()) == 2
    assert totals(listener, emitter, "orgpulse.informer.watch_restarts")["dropped"] == 3
    assert totals(listener, emitter, "orgpulse.informer.relists") == {"initial": 1}


def test_410_gone_relists_and_counts_the_missed_restart_once(fake, make_informer):
    fake.put(pod(uid="p1"))
    fake.put(pod(uid="p2", name="old-pod"))
    informer, listener, emitter = started(make_informer)
    fake.put(pod(uid="p1", statuses=[container_status("main", 1, last=oom())]))  # seen live
    assert restarts_of(informer, "p1", 1)
    # While disconnected: p1 restarts again, p2 is deleted, p3 is created and restarts;
    # then the API server compacts: resuming the watch answers 410 Gone.
    with fake.disconnected():
        fake.put(pod(uid="p1", statuses=[container_status("main", 2, last=oom("2026-11-26T10:40:00Z"))]))
        fake.delete("p2")
        fresh = pod(uid="p3", name="new-pod", statuses=[container_status("main", 1, last=oom())])
        fresh["metadata"]["creationTimestamp"] = iso(NOW)
        fake.put(fresh)
        fake.compact()
    assert wait_until(lambda: "p3" in informer.cache and "p2" not in informer.cache)
    assert informer.cache["p1"].containers["main"].restarts == 2
    by_owner = totals(listener, emitter, "k8s.containers.restarts", 3, by="owner_name")
    assert by_owner == {"trainer": 3.0}  # p1: 1 live + 1 missed; p3 (same owner): 1 after creation
    assert totals(listener, emitter, "orgpulse.informer.relists") == {"initial": 1, "gone": 1}
    assert totals(listener, emitter, "orgpulse.informer.watch_restarts")["gone"] == 1
    errors = totals(listener, emitter, "orgpulse.collector.errors")
    assert "gone" not in errors  # a 410 is answered by a re-list: not a failure


def test_bookmarks_keep_the_resource_version_fresh(fake, make_informer):
    fake.bookmark_after = 0.02
    fake.put(pod(uid="p1"))
    informer, listener, emitter = started(make_informer)
    for _ in range(5):  # other activity moves the resourceVersion on
        fake.put(pod(uid="p1"))
    latest = str(fake.rv)
    assert wait_until(lambda: fake.bookmarks and informer.versions.get("") == latest)  # a BOOKMARK
    with fake.disconnected():  # resuming from the bookmark's version needs no 410 and no relist
        fake.compact()
    fake.put(pod(uid="p1", statuses=[container_status("main", 1, last=oom())]))
    assert restarts_of(informer, "p1", 1)
    assert totals(listener, emitter, "orgpulse.informer.relists") == {"initial": 1}
    lists = [r for r in fake.log if r.path == "/api/v1/pods" and "watch" not in r.query]
    assert len(lists) == 1


def test_deleted_pod_leaves_the_cache(fake, make_informer):
    fake.put(pod(uid="p1"))
    informer, _, _ = started(make_informer)
    fake.delete("p1")
    assert wait_until(lambda: "p1" not in informer.cache)


def test_namespaced_watch_only_sees_its_namespaces(fake, make_informer):
    fake.put(pod(uid="a", namespace="ml"))
    fake.put(pod(uid="b", namespace="other"))
    informer, _, _ = started(make_informer, options={"namespaces": ["ml"]})
    fake.put(pod(uid="c", namespace="ml"))
    assert wait_until(lambda: "c" in informer.cache)
    assert "b" not in informer.cache


# ------------------------------------------------------------ terminations as the kubelet reports them
SCENARIO = [("OOMKilled", False), ("OOMKilled", True), ("Error", True), ("OOMKilled", False), ("Error", False)]


def test_kubelet_steps_live_count_each_termination_once(fake, make_informer):
    """3 OOM kills and 2 errors, every kubelet step seen live, one death's second step
    after a 410 re-list: terminations 3 oomkilled + 2 error, restarts 5, OOM kills 3."""
    steps = kubelet_steps(SCENARIO)
    fake.put(pod(uid="k", statuses=[steps[0]]))
    informer, listener, emitter = started(make_informer)
    for i, status in enumerate(steps[1:], start=1):
        if i == 4:  # the second death's back-off and restart happen while disconnected; then 410
            with fake.disconnected():
                for later in steps[4:6]:
                    fake.put(pod(uid="k", statuses=[later]))
                fake.compact()
            assert totals(listener, emitter, "orgpulse.informer.relists", 2)["gone"] == 1
        elif i != 5:
            seen = informer.events
            fake.put(pod(uid="k", statuses=[status]))
            assert wait_until(lambda seen=seen: informer.events > seen)
    assert restarts_of(informer, "k", 5)
    assert totals(listener, emitter, "k8s.containers.terminations", 5) == {"oomkilled": 3, "error": 2}
    assert totals(listener, emitter, "k8s.containers.restarts", 5) == {"oomkilled": 3, "error": 2}
    oom_24h = {x.tag("namespace"): x.value for x in informer.gauges() if x.name == "k8s.containers.oom_kills_24h"}
    assert oom_24h == {"ml": 3}


@pytest.mark.parametrize("backoff", [False, True], ids=["restarted", "crashloopbackoff"])
def test_informer_restart_between_the_two_steps_counts_once(fake, make_informer, backoff):
    steps = kubelet_steps([("OOMKilled", backoff)])
    fake.put(pod(uid="k", statuses=[steps[0]]))
    first, listener1, emitter1 = started(make_informer)
    fake.put(pod(uid="k", statuses=[steps[1]]))  # step 1: state.terminated
    assert totals(listener1, emitter1, "k8s.containers.terminations", 1) == {"oomkilled": 1}
    first.stop()
    fake.drop()
    second, listener2, emitter2 = started(make_informer)  # a new process: its first list
    for status in steps[2:]:  # step 2: lastState.terminated, restartCount + 1
        fake.put(pod(uid="k", statuses=[status]))
    assert restarts_of(second, "k", 1)
    assert totals(listener2, emitter2, "k8s.containers.restarts", 1) == {"oomkilled": 1}
    assert totals(listener2, emitter2, "k8s.containers.terminations") == {}
    assert totals(listener1, emitter1, "k8s.containers.terminations") == {"oomkilled": 1}
    oom_24h = [x.value for x in second.gauges() if x.name == "k8s.containers.oom_kills_24h"]
    assert oom_24h == [1]  # seeded from the first list, not counted again by step 2


def test_oom_kills_24h_seeded_from_the_first_list(fake, make_informer):
    fake.put(pod(uid="recent", statuses=[container_status("main", 1, last=oom(iso(NOW - 2 * 3600)))]))
    fake.put(pod(uid="old", statuses=[container_status("main", 1, last=oom(iso(NOW - 30 * 3600)))]))
    fake.put(pod(uid="other", namespace="infra"))
    informer, listener, emitter = started(make_informer)
    values = {x.tag("namespace"): x.value for x in informer.gauges() if x.name == "k8s.containers.oom_kills_24h"}
    assert values == {"ml": 1, "infra": 0}
    assert totals(listener, emitter, "k8s.containers.terminations") == {}  # history is not news
    later, _, _ = make_informer(now=lambda: NOW + 23 * 3600)  # the kill leaves the window
    later.relist("")
    values = {x.tag("namespace"): x.value for x in later.gauges() if x.name == "k8s.containers.oom_kills_24h"}
    assert values == {"ml": 0, "infra": 0}


# ------------------------------------------------------------ gauges
def test_gauges_with_and_without_metrics_server(fake, make_informer):
    fake.put(pod(uid="a", cpu="2", memory="4Gi", gpus=2))
    fake.node_list["items"] = [
        {
            "metadata": {"name": "gpu-1"},
            "status": {"allocatable": {"cpu": "96", "memory": "1Ti", "nvidia.com/gpu": "8"}},
        }
    ]
    fake.deployment_list["items"] = [
        {
            "metadata": {"namespace": "ml", "name": "trainer"},
            "spec": {"replicas": 3},
            "status": {"availableReplicas": 2, "unavailableReplicas": 1},
        },
        {"metadata": {"namespace": "ml", "name": "idle"}, "spec": {"replicas": 0}, "status": {}},
    ]
    fake.metrics_list["items"] = [
        {
            "metadata": {"namespace": "ml", "name": "trainer-7d9f8b6c5d-x2k4q"},
            "containers": [{"name": "main", "usage": {"cpu": "250m", "memory": "1Gi"}}],
        }
    ]
    informer, listener, emitter = started(make_informer)
    fake.put(pod(uid="a", cpu="2", memory="4Gi", gpus=2, statuses=[container_status("main", 1, last=oom())]))
    assert restarts_of(informer, "a", 1)
    values = {(x.name, x.tag("state")): x.value for x in informer.gauges()}
    assert values[("k8s.containers.oom_kills_24h", None)] == 1
    assert values[("k8s.resources.cpu_efficiency_pct", None)] == pytest.approx(12.5)
    assert values[("k8s.gpus.allocatable", None)] == 8 and values[("k8s.gpus.requested", "held")] == 2
    assert values[("k8s.deployments.unavailable_replicas", None)] == 1
    assert values[("k8s.deployments.zero_replicas", None)] == 1
    informer.emit(informer.gauges())
    fake.metrics_list = None  # metrics-server uninstalled
    gauges = informer.gauges()
    assert not {x.name for x in gauges if x.name.startswith("k8s.resources.")}  # absent, not 0
    assert [(x.tag("collector"), x.tag("reason")) for x in gauges if x.name == "orgpulse.collector.errors"] == [
        ("metrics_server", "fetch_failed")
    ]
    informer.emit(gauges)
    emitter.flush()
    assert listener.metrics("k8s.resources.cpu_waste_cores", wait_for=1)


def _team(fake, ns, cores_requested, cores_used, pods=2, labels=None):
    for i in range(pods):
        name = f"{ns}-worker-{i}"
        fake.put(pod(name=name, namespace=ns, uid=name, cpu=str(cores_requested / pods), labels=labels))
        fake.metrics_list["items"].append(
            {
                "metadata": {"namespace": ns, "name": name, "labels": {"app": name.split("-")[0], **(labels or {})}},
                "containers": [{"name": "main", "usage": {"cpu": str(cores_used / pods), "memory": "1Gi"}}],
            }
        )


@pytest.mark.parametrize(
    "scope", [{"namespaces": ["team-a"]}, {"label_selector": "team=a"}], ids=["namespaces", "label_selector"]
)
def test_usage_and_requests_over_the_same_scope(fake, make_informer, scope):
    """team-a uses 5 of 10 requested cores; team-b, not watched, uses 40: the cpu_efficiency
    score is team-a's alone, 5 / 10 against a 60 % target = 0.83 (not 1.0)."""
    _team(fake, "team-a", 10, 5, labels={"team": "a"})
    _team(fake, "team-b", 8, 40, labels={"team": "b"})
    informer, _, _ = started(make_informer, options=scope)
    values = ValueStore(clock=clock)
    values.record(informer.gauges())
    assert values.get("k8s.resources.cpu_used_cores", 60) == pytest.approx(5)
    assert values.get("k8s.resources.cpu_requested_cores", 60) == pytest.approx(10)
    got = scores.evaluate(lambda name, agg, where: values.get(name, 60, agg, where))
    assert got[("infra", "cpu_efficiency")] == pytest.approx(5 / 10 / 0.6)
    assert not [x for x in informer.gauges() if x.tag("namespace") == "team-b"]


def test_a_vanished_namespace_goes_to_zero_once(fake, make_informer):
    fake.put(pod(uid="a", namespace="ml"))
    fake.put(pod(uid="b", namespace="batch", cpu="1"))
    fake.metrics_list["items"] = [
        {
            "metadata": {"namespace": "batch", "name": "trainer-7d9f8b6c5d-x2k4q"},
            "containers": [{"name": "main", "usage": {"cpu": "1", "memory": "1Gi"}}],
        }
    ]
    informer, _, _ = started(make_informer)

    def batch(gauges):
        return {(x.name, x.tag("phase")): x.value for x in gauges if x.tag("namespace") == "batch"}

    assert batch(informer.gauges())[("k8s.pods.count", "running")] == 1
    fake.metrics_list = None  # the resources part fails this cycle ...
    fake.delete("b")  # ... as batch's last pod is deleted
    assert wait_until(lambda: "b" not in informer.cache)
    failed = batch(informer.gauges())
    assert failed[("k8s.pods.count", "running")] == 0  # the pods part measured: 0, once
    assert ("k8s.resources.cpu_requested_cores", None) not in failed  # a failed part fills nothing
    fake.metrics_list = {"items": []}
    recovered = batch(informer.gauges())
    assert ("k8s.pods.count", "running") not in recovered  # once only
    assert recovered[("k8s.resources.cpu_requested_cores", None)] == 0  # filled on the clean cycle
    assert batch(informer.gauges()) == {}


def test_self_metrics_watching_relists_and_restarts(fake, make_informer):
    fake.put(pod(uid="a"))
    informer, listener, emitter = make_informer()
    before = {x.name: x.value for x in informer.gauges()}
    assert before == {"orgpulse.informer.watching": 0, "orgpulse.informer.pods_cached": 0}
    informer.start()
    assert wait_until(lambda: informer.watching.get(""))
    now = {x.name: x.value for x in informer.gauges()}
    assert (now["orgpulse.informer.watching"], now["orgpulse.informer.pods_cached"]) == (1, 1)
    fake.expire_watches()  # the server's timeout: resumed at once, not an error
    assert totals(listener, emitter, "orgpulse.informer.watch_restarts", 1) == {"timeout": 1}
    fake.fail("/api/v1/pods", (500, {}, 0), (500, {}, 0))
    with fake.disconnected():  # the watch is cut, and the API server answers 500 twice
        pass
    assert totals(listener, emitter, "orgpulse.informer.watch_restarts", 4) == {
        "timeout": 1,
        "dropped": 1,
        "http_500": 2,
    }
    assert totals(listener, emitter, "orgpulse.collector.errors") == {"watch_error": 1, "http_500": 2}
    assert wait_until(lambda: informer.watching.get(""))
    informer.emit(informer.gauges())
    emitter.flush()
    assert listener.metrics("orgpulse.informer.watching", wait_for=1)


# ------------------------------------------------------------ leader election
def test_only_the_lease_holder_emits_and_the_other_takes_over(fake, make_informer):
    now = [NOW]
    electors = [
        LeaderElector(
            api_client(fake),
            "observability",
            "orgpulse",
            f"replica-{i}",
            lease_seconds=15,
            renew_seconds=5,
            clock=lambda: now[0],
        )
        for i in range(2)
    ]
    assert electors[0].try_acquire_or_renew() and not electors[1].try_acquire_or_renew()
    fake.put(pod(uid="p1"))
    informers = [started(make_informer, elector=e) for e in electors]
    fake.put(pod(uid="p1", statuses=[container_status("main", 1, last=oom())]))
    assert all(restarts_of(i, "p1", 1) for i, _, _ in informers)
    (_, l0, e0), (_, l1, e1) = informers
    assert totals(l0, e0, "k8s.containers.restarts", 1) == {"oomkilled": 1}
    assert totals(l1, e1, "k8s.containers.restarts") == {}
    now[0] += 16  # the leader dies: its Lease is not renewed for longer than lease_seconds
    assert electors[1].try_acquire_or_renew()
    assert electors[1].is_leader() and not electors[0].is_leader()
    fake.put(pod(uid="p1", statuses=[container_status("main", 2, last=oom("2026-11-26T11:00:00Z"))]))
    assert restarts_of(informers[1][0], "p1", 2)
    assert totals(l1, e1, "k8s.containers.restarts", 1) == {"oomkilled": 1}
    assert totals(l0, e0, "k8s.containers.restarts") == {"oomkilled": 1}
    lease = fake.leases[("observability", "orgpulse")]["spec"]
    assert lease["holderIdentity"] == "replica-1" and lease["leaseTransitions"] == 1
