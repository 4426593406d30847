"""Asana webhooks: handshake and durable secrets, signatures, events → metrics, and the
enrichment fetched through the real `asana` client from a fake Asana API."""

from __future__ import annotations

import json
import stat
import time

import pytest

from orgpulse.emit import DogStatsdSink, Emitter
from receiver import create_app, secretstore
from receiver.sources.asana import event_metrics, signature
from receiver.sources.asana.enrich import AsanaApi, AsanaContext, Enricher, change_key, completion_metrics
from tests.conftest import FIXTURES, received
from tests.fakes.asana_api import FakeAsana
from tests.fakes.kube_secrets import FakeKubeSecrets

DELIVERIES = {
    json.loads(x)["name"]: json.loads(x) for x in (FIXTURES / "asana/deliveries.jsonl").read_text().splitlines()
}
API = json.loads((FIXTURES / "asana/api_objects.json").read_text())
HOOK_SECRET = "0d3c2a1b9f8e7d6c5b4a39281706f5e4"


@pytest.fixture
def fake_asana():
    fake = FakeAsana()
    fake.tasks.update(API["tasks"])
    fake.projects.update(API["projects"])
    yield fake
    fake.close()


@pytest.fixture
def asana_env(statsd, fake_asana):
    host, port = statsd.address
    return {
        "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
        "ASANA_ACCESS_TOKEN": fake_asana.token,
        "ASANA_BASE_URL": fake_asana.base_url,
    }


ASANA_OPTIONS = {"asana": {"bugs_project": "1100", "request_timeout_seconds": 1, "requests_per_minute": 6000}}


@pytest.fixture
def make_app(make_settings, asana_env):
    def make(env=None, options=ASANA_OPTIONS):
        settings = make_settings({**asana_env, **(env or {})}, options)
        app = create_app(settings, Emitter(DogStatsdSink(settings), strict=True))
        app.config["TESTING"] = True
        return app

    return make


def handshake(client, name="engineering", secret=HOOK_SECRET):
    return client.post(f"/webhooks/asana/{name}", data=b"", headers={"X-Hook-Secret": secret})


def deliver(client, name: str, secret: str = HOOK_SECRET, webhook="engineering"):
    body = DELIVERIES[name]["body"].encode()
    return client.post(
        f"/webhooks/asana/{webhook}",
        data=body,
        headers={"X-Hook-Signature": signature(secret.encode(), body), "Content-Type": "application/json"},
    )


def store_of(app):
    return app.extensions["orgpulse"].sources["asana"].store


def enricher_of(app):
    return app.extensions["orgpulse"].sources["asana"].enricher


def ready(app):
    """A handshake completed for "engineering", as `orgpulse asana webhooks create` would do."""
    secretstore.arm(store_of(app), "engineering")
    assert handshake(app.test_client()).status_code == 200
    return app


def test_unarmed_handshake_is_refused(make_app, make_settings):
    app = make_app()
    response = handshake(app.test_client())
    assert response.status_code == 403 and "X-Hook-Secret" not in response.headers
    assert secretstore.get_secret(store_of(app), "engineering") is None


def test_handshake_echoes_and_stores_durably(make_app, statsd):
    app = make_app()
    secretstore.arm(store_of(app), "engineering")
    response = handshake(app.test_client())
    assert response.status_code == 200
    assert response.headers["X-Hook-Secret"] == HOOK_SECRET
    path = store_of(app).path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["secrets"] == {"engineering": HOOK_SECRET}
    assert not secretstore.is_armed(store_of(app), "engineering")  # one handshake per arming
    assert handshake(app.test_client(), secret="other").status_code == 403
    lines = received(app, statsd)
    assert [x.tag_map["webhook"] for x in lines if x.name == "asana.webhooks.handshakes"] == ["engineering"]


def test_secret_survives_a_restart_and_is_shared_between_apps(make_app):
    first = ready(make_app())
    restarted = make_app()  # same data dir: a new process after a restart
    assert deliver(restarted.test_client(), "comment_added").status_code == 200
    # A second replica built before the handshake learns the secret from the store.
    other = make_app()
    secretstore.arm(store_of(first), "ops")
    assert handshake(first.test_client(), name="ops", secret="ops-secret").status_code == 200
    time.sleep(2.1)  # past the store re-read rate limit
    assert deliver(other.test_client(), "task_deleted", secret="ops-secret", webhook="ops").status_code == 200


def test_rotation_replaces_the_secret_only_after_a_new_handshake(make_app):
    app = ready(make_app())
    client = app.test_client()
    secretstore.arm(store_of(app), "engineering")
    assert handshake(client, secret="rotated").status_code == 200
    assert deliver(client, "task_deleted", secret="rotated").status_code == 200
    assert deliver(client, "comment_added", secret=HOOK_SECRET).status_code == 401


@pytest.mark.parametrize(
    "change,status,reason",
    [
        ({"X-Hook-Signature": "00" * 32}, 401, "bad_signature"),
        ({"X-Hook-Signature": None}, 401, "missing_signature"),
    ],
)
def test_bad_signatures(make_app, statsd, change, status, reason):
    app = ready(make_app())
    body = DELIVERIES["comment_added"]["body"].encode()
    headers = {
        k: v for k, v in {"X-Hook-Signature": signature(HOOK_SECRET.encode(), body), **change}.items() if v is not None
    }
    response = app.test_client().post("/webhooks/asana/engineering", data=body, headers=headers)
    assert (response.status_code, response.json["result"]) == (status, reason)
    assert not [x for x in received(app, statsd) if x.name.startswith("asana.events")]


def test_unknown_or_invalid_webhook_name_is_404(make_app):
    client = ready(make_app()).test_client()
    assert deliver(client, "comment_added", webhook="nobody").status_code == 404
    assert client.post("/webhooks/asana/bad.name!", data=b"{}").status_code == 404


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"events": {}}', b'{"events": [1]}'])
def test_malformed_bodies_are_400(make_app, body):
    client = ready(make_app()).test_client()
    response = client.post(
        "/webhooks/asana/engineering", data=body, headers={"X-Hook-Signature": signature(HOOK_SECRET.encode(), body)}
    )
    assert response.status_code == 400


def test_oversize_is_413(make_app):
    app = ready(make_app({"ORGPULSE_MAX_BODY_BYTES": "100"}))
    assert deliver(app.test_client(), "mixed").status_code == 413


def test_heartbeat(make_app, statsd):
    app = ready(make_app())
    response = deliver(app.test_client(), "heartbeat")
    assert (response.status_code, response.json["result"]) == (200, "heartbeat")
    assert statsd.metrics("asana.webhooks.heartbeats", wait_for=1)[0].tag_map["webhook"] == "engineering"


def test_events_now_and_enriched_later(make_app, statsd, fake_asana):
    app = ready(make_app())
    client = app.test_client()
    for name in (
        "task_added_to_project",
        "task_completed",
        "comment_added",
        "task_deleted",
        "task_removed_from_project",
        "mixed",
    ):
        assert deliver(client, name).status_code == 200, name
    assert deliver(client, "comment_added").json["result"] == "duplicate"
    assert enricher_of(app).wait_idle()
    lines = received(app, statsd)
    counts = {}
    for x in lines:
        if x.type == "count" and x.name.startswith("asana.") and x.name != "asana.webhooks.handshakes":
            key = (x.name, tuple(sorted((k, v) for k, v in x.tag_map.items() if k not in ("env", "service"))))
            counts[key] = counts.get(key, 0) + x.value
    expect = {
        ("asana.tasks.added", (("project", "bugs"),)): 1,
        ("asana.tasks.added", (("project", "trainer"),)): 1,
        ("asana.bugs.filed", ()): 1,
        ("asana.tasks.removed", (("project", "bugs"),)): 1,
        ("asana.tasks.completed", ()): 1,  # the task once; per project in the breakdown
        ("asana.tasks.completed_by_project", (("project", "bugs"),)): 1,
        ("asana.tasks.completed_by_project", (("project", "trainer"),)): 1,
        ("asana.tasks.uncompleted", ()): 1,
        ("asana.bugs.completed", (("section", "triage"),)): 1,
        ("asana.comments.added", (("webhook", "engineering"),)): 1,
        ("asana.tasks.deleted", (("webhook", "engineering"),)): 1,
    }
    for key, value in expect.items():
        assert counts.pop(key) == value, key
    cycle = [x for x in lines if x.name == "asana.tasks.cycle_time"]
    assert [x.value for x in cycle] == [2 * 86400.0] and "project" not in cycle[0].tag_map
    assert [x.value for x in lines if x.name == "asana.bugs.cycle_time"] == [2 * 86400.0]
    events = {k: v for k, v in counts.items() if k[0] == "asana.events"}
    assert set(counts) == set(events), counts  # nothing else emitted
    assert sum(events.values()) == 9
    # Project names are fetched once and cached.
    assert fake_asana.requests["/api/1.0/projects/1100"] == 1


def totals(lines, name: str, tag: str | None = None) -> dict:
    out: dict = {}
    for x in lines:
        if x.name == name:
            key = x.tag_map.get(tag) if tag else None
            out[key] = out.get(key, 0) + x.value
    return out


def test_a_task_in_two_projects_each_with_its_webhook_counts_once(make_app, statsd, fake_asana):
    """Task 1201 is in Bugs and Trainer, each project with its webhook: both deliver its
    completion; it is completed once, its cycle time sent once, its bug counted once —
    de-duplicated by task and change, not by webhook."""
    app = ready(make_app())  # "engineering" watches Trainer
    secretstore.arm(store_of(app), "bugs")
    assert handshake(app.test_client(), name="bugs", secret="bugs-secret").status_code == 200
    assert deliver(app.test_client(), "task_completed").status_code == 200
    assert deliver(app.test_client(), "task_completed", secret="bugs-secret", webhook="bugs").status_code == 200
    assert enricher_of(app).wait_idle()
    lines = received(app, statsd)
    assert totals(lines, "asana.tasks.completed") == {None: 1}
    assert totals(lines, "asana.tasks.completed_by_project", "project") == {"bugs": 1, "trainer": 1}
    assert len([x for x in lines if x.name == "asana.tasks.cycle_time"]) == 1
    assert totals(lines, "asana.bugs.completed", "section") == {"triage": 1}
    assert len([x for x in lines if x.name == "asana.bugs.cycle_time"]) == 1
    jobs = [x.tag_map["outcome"] for x in lines if x.name == "orgpulse.enrichment.jobs"]
    assert sorted(jobs) == ["duplicate", "ok"]


def test_a_change_is_identified_by_task_and_time():
    done = {"gid": "1", "completed": True, "completed_at": "2026-11-20T10:00:00Z", "modified_at": "x"}
    again = {**done, "completed_at": "2026-11-22T09:00:00Z"}  # reopened, then completed again
    reopened = {"gid": "1", "completed": False, "completed_at": None, "modified_at": "2026-11-21T08:00:00Z"}
    keys = {change_key(t) for t in (done, again, reopened)}
    assert len(keys) == 3 and None not in keys
    assert change_key({"gid": "1", "completed": False}) is None  # no stamp: never called a duplicate


@pytest.fixture
def direct_enricher(make_settings, asana_env, fake_asana):
    """The enricher create_app builds, with the retry backoff (0) and timeout (0.2 s) injected."""
    settings = make_settings(asana_env, ASANA_OPTIONS)
    api = AsanaApi(fake_asana.token, fake_asana.base_url, timeout=0.2, per_minute=6000, backoff=0)
    emitter = Emitter(DogStatsdSink(settings), strict=True)
    return Enricher(api, AsanaContext(settings.section("asana")), emitter, workers=1, queue_size=10)


def enriched(enricher, statsd, kind="completion", gid="1201"):
    assert enricher.submit(kind, gid) == []
    assert enricher.wait_idle(5)
    enricher.emitter.flush()
    return statsd.settle(0.1)


@pytest.mark.parametrize(
    "script,requests",
    [
        ([(429, {"Retry-After": "0"}, 0)], 2),
        ([(500, {}, 0), (503, {}, 0)], 3),
        ([(200, {}, 0.5)], 2),  # slower than the 0.2 s request timeout: retried
    ],
)
def test_fetch_retries_then_emits_once(direct_enricher, statsd, fake_asana, script, requests):
    fake_asana.fail("/api/1.0/tasks/", *script)
    lines = enriched(direct_enricher, statsd)
    assert totals(lines, "asana.tasks.completed") == {None: 1}
    assert fake_asana.requests["/api/1.0/tasks/1201"] == requests
    jobs = [x.tag_map["outcome"] for x in lines if x.name == "orgpulse.enrichment.jobs"]
    assert jobs == ["ok"]


def test_the_webhook_is_answered_before_the_fetch(make_app, statsd, fake_asana):
    app = ready(make_app())
    fake_asana.task_delay = 0.3  # slow, but within the 1 s timeout
    assert deliver(app.test_client(), "task_completed").status_code == 200
    assert not [x for x in received(app, statsd) if x.name.startswith("asana.tasks.")]
    assert enricher_of(app).wait_idle()
    assert totals(received(app, statsd), "asana.tasks.completed") == {None: 1}


def test_fetch_that_keeps_failing_is_counted_not_emitted(direct_enricher, statsd, fake_asana):
    fake_asana.fail("/api/1.0/tasks/", *[(500, {}, 0)] * 6)
    lines = enriched(direct_enricher, statsd)
    assert not [x for x in lines if x.name.startswith("asana.tasks.")]
    failed = [x for x in lines if x.name == "orgpulse.enrichment.jobs"]
    assert [(x.tag_map["kind"], x.tag_map["outcome"]) for x in failed] == [("completion", "failed")]
    assert fake_asana.requests["/api/1.0/tasks/1201"] == 5  # the first try and 4 retries


def test_without_a_token_only_event_metrics(make_settings, statsd):
    host, port = statsd.address
    settings = make_settings({"DD_DOGSTATSD_URL": f"udp://{host}:{port}"})
    app = create_app(settings, Emitter(DogStatsdSink(settings), strict=True))
    assert store_of(app) is not None and enricher_of(app) is None
    ready(app)
    assert deliver(app.test_client(), "task_completed").status_code == 200
    names = {x.name for x in received(app, statsd)}
    assert "asana.events" in names and "asana.tasks.completed" not in names


def test_event_metrics_is_pure_and_bounded():
    events = json.loads(DELIVERIES["mixed"]["body"])["events"]
    events.append({"action": "exploded", "resource": {"gid": "1", "resource_type": "spaceship"}})
    metrics, jobs = event_metrics("w", events)
    assert jobs == [("completion", "1205")]
    tags = [dict(x.tags) for x in metrics if x.name == "asana.events"]
    assert tags[-1] == {"webhook": "w", "resource_type": "other", "action": "other"}


def test_bugs_section_comes_from_the_bugs_project_membership():
    ctx = AsanaContext({"bugs_project": "1900", "sections": {"active": ["doing"]}})
    out = completion_metrics(API["tasks"]["1201"], ctx)
    assert [(x.name, dict(x.tags)) for x in out if x.name == "asana.bugs.completed"] == [
        ("asana.bugs.completed", {"section": "active"})
    ]


def test_kubernetes_secret_store_shared_by_replicas(make_settings, asana_env, tmp_path):
    kube = FakeKubeSecrets()
    kube.create("observability", "orgpulse-webhook-secrets")
    token = tmp_path / "token"
    token.write_text(kube.token)
    options = {
        "receiver": {
            "secret_store": "kubernetes",
            "kubernetes_api_url": kube.url,
            "kubernetes_namespace": "observability",
            "kubernetes_token_file": str(token),
        }
    }
    try:
        apps = [create_app(make_settings(asana_env, options)) for _ in range(2)]
        secretstore.arm(store_of(apps[0]), "engineering")
        assert handshake(apps[0].test_client()).status_code == 200
        assert deliver(apps[1].test_client(), "comment_added").status_code == 200
        # A writer racing us between read and patch: 409, read again, succeed.
        store = store_of(apps[0])

        def race(doc):
            race.calls = getattr(race, "calls", 0) + 1
            if race.calls == 1:  # only the first attempt is overtaken
                kube.version += 1
                kube.secrets[("observability", "orgpulse-webhook-secrets")]["metadata"]["resourceVersion"] = str(
                    kube.version
                )
            doc["secrets"]["other"] = "x"

        store.update(race)
        assert race.calls == 2 and secretstore.get_secret(store, "other") == "x"
        assert secretstore.get_secret(store, "engineering") == HOOK_SECRET
    finally:
        kube.close()


def test_unreachable_kubernetes_store_answers_503_and_keeps_the_old_secret(make_settings, asana_env, tmp_path):
    token = tmp_path / "token"
    token.write_text("t")
    options = {
        "receiver": {
            "secret_store": "kubernetes",
            "kubernetes_api_url": "http://127.0.0.1:9",
            "kubernetes_namespace": "x",
            "kubernetes_token_file": str(token),
        }
    }
    app = create_app(make_settings(asana_env, options))
    response = handshake(app.test_client())
    assert response.status_code == 503 and "X-Hook-Secret" not in response.headers


def test_made_up_names_neither_grow_the_cache_nor_hammer_the_store(tmp_path):
    from receiver.envelope import Rejected
    from receiver.sources.asana import AsanaSource

    class CountingStore(secretstore.FileStore):
        reads = 0

        def load(self):
            CountingStore.reads += 1
            return super().load()

    store = CountingStore(tmp_path)
    secretstore.complete_handshake(store, "engineering", HOOK_SECRET)
    source = AsanaSource(store)
    body = DELIVERIES["comment_added"]["body"].encode()
    headers = {"X-Hook-Signature": signature(HOOK_SECRET.encode(), body)}
    source.webhook("engineering").verify(headers, body)  # first use: one read of the store
    for i in range(50):
        with pytest.raises(Rejected) as err:
            source.webhook(f"probe{i}").verify(headers, body)
        assert err.value.reason == "unknown_webhook"
    assert CountingStore.reads <= 2  # ~0.1 s of probes: within one refresh period
    assert set(source._secrets) == {"engineering"}


@pytest.mark.peers
def test_a_task_in_two_projects_counts_once_across_replicas(make_app, statsd, redis_server):
    """With replicas: the two projects' webhooks reach different replicas that
    share Redis; the completion is claimed there (by task and change), so it counts once."""
    import redis

    redis_server.thaw_and_start()
    redis.Redis.from_url(redis_server.url).flushdb()
    shared = {"receiver": {"dedup_backend": "redis"}, **ASANA_OPTIONS}
    env = {"ORGPULSE_REDIS_URL": redis_server.url}
    a, b = ready(make_app(env, shared)), make_app(env, shared)
    secretstore.arm(store_of(b), "bugs")
    assert handshake(b.test_client(), name="bugs", secret="bugs-secret").status_code == 200
    assert deliver(a.test_client(), "task_completed").status_code == 200
    assert enricher_of(a).wait_idle()
    assert deliver(b.test_client(), "task_completed", secret="bugs-secret", webhook="bugs").status_code == 200
    assert enricher_of(b).wait_idle()
    b.extensions["orgpulse"].envelope.emitter.flush()
    lines = received(a, statsd)  # both apps send to the one listener
    assert totals(lines, "asana.tasks.completed") == {None: 1}
    assert len([x for x in lines if x.name == "asana.tasks.cycle_time"]) == 1
