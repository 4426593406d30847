"""Asana handshake secrets in one Kubernetes Secret shared by replicas:
handshakes for different names completed at the same moment on two replicas
all persist — optimistic concurrency on resourceVersion, read again and retry on 409."""

from __future__ import annotations

import threading

import pytest

from receiver import create_app, secretstore
from tests.fakes.kube_secrets import FakeKubeSecrets

NAMESPACE, SECRET = "observability", "orgpulse-webhook-secrets"


@pytest.fixture
def kube():
    fake = FakeKubeSecrets()
    fake.create(NAMESPACE, SECRET)
    yield fake
    fake.close()


@pytest.fixture
def replicas(kube, make_settings, tmp_path):
    token = tmp_path / "token"
    token.write_text(kube.token)
    options = {
        "receiver": {
            "secret_store": "kubernetes",
            "kubernetes_api_url": kube.url,
            "kubernetes_namespace": NAMESPACE,
            "kubernetes_secret": SECRET,
            "kubernetes_token_file": str(token),
        }
    }
    return [create_app(make_settings({"ORGPULSE_SINK": "log"}, options)) for _ in range(2)]


def at_once(calls):
    """Run the calls in threads released together; their results in order."""
    barrier, results = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_handshakes_on_two_replicas_all_persist(replicas, kube):
    names = [f"team-{i}" for i in range(8)]
    store = replicas[0].extensions["orgpulse"].sources["asana"].store
    for name in names:
        secretstore.arm(store, name)
    clients = [app.test_client() for app in replicas]
    calls = [
        lambda i=i, name=name: (
            clients[i % 2].post(f"/webhooks/asana/{name}", headers={"X-Hook-Secret": f"secret-{name}"}).status_code
        )
        for i, name in enumerate(names)
    ]
    assert at_once(calls) == [200] * len(names)
    assert secretstore.load_secrets(store) == {name: f"secret-{name}" for name in names}
    assert kube.conflicts > 0  # the writers did collide, and every one was retried


def test_concurrent_store_writers_lose_nothing(replicas, kube):
    stores = [app.extensions["orgpulse"].sources["asana"].store for app in replicas]
    calls = [
        lambda i=i: stores[i % 2].update(lambda doc, i=i: doc["secrets"].__setitem__(f"n{i}", str(i)))
        for i in range(16)
    ]
    at_once(calls)
    assert secretstore.load_secrets(stores[1]) == {f"n{i}": str(i) for i in range(16)}
