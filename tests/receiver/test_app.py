"""The receiver through the Flask test client, with a real UDP DogStatsD listener."""

from __future__ import annotations

import json
import logging
import socket
import uuid

import pytest

from orgpulse.config import Secret
from orgpulse.emit import DogStatsdSink, Emitter
from receiver import create_app
from receiver.replay import github_example
from receiver.sources.github import signature
from tests.conftest import GITHUB, SECRET, github_headers


def post(client, body: bytes, headers: dict, path="/webhooks/github"):
    return client.post(path, data=body, headers=headers)


def pr_opened() -> bytes:
    return (GITHUB / "pull_request/opened.payload.json").read_bytes()


def received(app, statsd) -> list:
    """Every line the app emitted so far: its buffer is flushed (sent before flush()
    returns), then a marker sent after it arrives — loopback UDP keeps the listener's
    queue in order — instead of waiting for the listener to go quiet."""
    app.extensions["orgpulse"].envelope.emitter.flush()
    marker = f"orgpulse.test.flushed_{uuid.uuid4().hex}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(f"{marker}:1|c".encode(), statsd.address)
    return [
        x for x in statsd.metrics(marker, wait_for=1) and statsd.metrics() if not x.name.startswith("orgpulse.test.")
    ]


def source_metrics(app, statsd):
    return [x for x in received(app, statsd) if not x.name.startswith("orgpulse.")]


def test_github_published_signature_vector():
    # https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries
    assert signature(b"It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_accepted_delivery_emits_metrics_with_constant_tags(app, client, statsd):
    body = pr_opened()
    response = post(client, body, github_headers(body, "pull_request"))
    assert response.status_code == 200
    assert response.json["result"] == "accepted"
    assert response.json["emitted"] == ["github.prs.opened"]
    lines = received(app, statsd)
    [line] = [x for x in lines if x.name.startswith("github.")]
    assert (line.name, line.type, line.value) == ("github.prs.opened", "count", 1.0)
    assert line.tag_map == {
        "env": "test",
        "service": "orgpulse",
        "repo": "codertocat/hello-world",
        "author_type": "human",
        "branch_type": "default",
        "draft": "false",
    }
    assert sorted(t for t in line.tags if t.startswith("env:")) == ["env:test"]  # once
    own = {x.name: x for x in lines if x.name.startswith("orgpulse.receiver.")}
    assert own["orgpulse.receiver.received"].tag_map["event"] == "pull_request"
    assert own["orgpulse.receiver.emitted"].value == 1.0
    assert own["orgpulse.receiver.handling_time"].tag_map["outcome"] == "accepted"


@pytest.mark.parametrize(
    "headers_change,reason",
    [
        ({"X-Hub-Signature-256": None}, "missing_signature"),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, "bad_signature"),
        ({"X-Hub-Signature-256": "not-even-a-signature"}, "bad_signature"),
    ],
)
def test_bad_or_missing_signature_is_401_and_emits_no_source_metric(app, client, statsd, headers_change, reason):
    body = pr_opened()
    headers = {k: v for k, v in {**github_headers(body, "pull_request"), **headers_change}.items() if v is not None}
    response = post(client, body, headers)
    assert response.status_code == 401
    assert response.json == {"result": reason}
    lines = received(app, statsd)
    assert source_metrics(app, statsd) == []
    rejected = [x for x in lines if x.name == "orgpulse.receiver.rejected"]
    assert [x.tag_map["reason"] for x in rejected] == [reason]


def test_sha1_only_signature_is_refused(client):
    body = pr_opened()
    headers = github_headers(body, "pull_request")
    del headers["X-Hub-Signature-256"]
    headers["X-Hub-Signature"] = "sha1=0123456789abcdef0123456789abcdef01234567"
    assert post(client, body, headers).status_code == 401


def test_signature_with_wrong_secret_is_401(client):
    body = pr_opened()
    assert post(client, body, github_headers(body, "pull_request", secret="other")).status_code == 401


def test_rotated_secrets_any_one_verifies(make_settings, receiver_env, statsd):
    settings = make_settings({**receiver_env, "GITHUB_WEBHOOK_SECRET": "new-secret, old-secret"})
    client = create_app(settings, Emitter(DogStatsdSink(settings), strict=True)).test_client()
    body = pr_opened()
    for secret in ("new-secret", "old-secret"):
        assert post(client, body, github_headers(body, "pull_request", secret=secret)).status_code == 200
    assert post(client, body, github_headers(body, "pull_request", secret=SECRET)).status_code == 401


def test_duplicate_delivery_is_2xx_and_emits_nothing_again(app, client, statsd):
    body = pr_opened()
    headers = github_headers(body, "pull_request", delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert post(client, body, headers).json["result"] == "accepted"
    second = post(client, body, headers)
    assert second.status_code == 200 and second.json == {
        "result": "duplicate",
        "delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "emitted": [],
    }
    lines = received(app, statsd)
    assert [x.name for x in lines if x.name.startswith("github.")] == ["github.prs.opened"]
    assert [x.name for x in lines if x.name == "orgpulse.receiver.duplicates"] == ["orgpulse.receiver.duplicates"]


def test_malformed_json_is_400_and_a_fixed_redelivery_is_accepted(client):
    headers = github_headers(b"{not json", "pull_request", delivery="d-1")
    response = post(client, b"{not json", headers)
    assert response.status_code == 400 and response.json["result"] == "malformed"
    body = pr_opened()  # the same delivery id, now well-formed: not a duplicate
    assert post(client, body, github_headers(body, "pull_request", delivery="d-1")).status_code == 200


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"null"])
def test_json_that_is_not_an_object_is_400(client, body):
    assert post(client, body, github_headers(body, "push")).status_code == 400


def test_payload_missing_required_fields_is_400_not_500(client):
    body = json.dumps({"action": "closed"}).encode()  # no pull_request object
    response = post(client, body, github_headers(body, "pull_request"))
    assert response.status_code == 400 and response.json["result"] == "malformed"


def test_missing_event_header_is_400(client):
    body = pr_opened()
    headers = github_headers(body, "pull_request")
    del headers["X-GitHub-Event"]
    assert post(client, body, headers).status_code == 400


def test_oversize_body_is_413_before_reading(make_settings, receiver_env, statsd):
    settings = make_settings({**receiver_env, "ORGPULSE_MAX_BODY_BYTES": "1000"})
    small = create_app(settings, Emitter(DogStatsdSink(settings), strict=True))
    body = pr_opened()
    assert len(body) > 1000
    response = post(small.test_client(), body, github_headers(body, "pull_request"))
    assert response.status_code == 413 and response.json["result"] == "too_large"
    rejected = [x for x in received(small, statsd) if x.name == "orgpulse.receiver.rejected"]
    assert rejected[0].tag_map == {"env": "test", "service": "orgpulse", "source": "github", "reason": "too_large"}


def test_no_secret_configured_is_503(make_settings, statsd):
    host, port = statsd.address
    settings = make_settings({"DD_DOGSTATSD_URL": f"udp://{host}:{port}"})
    client = create_app(settings, Emitter(DogStatsdSink(settings), strict=True)).test_client()
    body = pr_opened()
    assert post(client, body, github_headers(body, "pull_request")).status_code == 503
    assert client.get("/readyz").json["sources"]["github"] is False
    assert client.get("/healthz").status_code == 200


def test_ping_and_unknown_events(app, client, statsd):
    body = (GITHUB / "ping/payload.json").read_bytes()
    assert post(client, body, github_headers(body, "ping")).json["result"] == "ping"
    body = (GITHUB / "star/created.payload.json").read_bytes()
    response = post(client, body, github_headers(body, "star"))
    assert response.status_code == 202 and response.json["result"] == "ignored"
    ignored = [x for x in received(app, statsd) if x.name == "orgpulse.receiver.ignored"]
    assert ignored[0].tag_map["event"] == "star"
    assert source_metrics(app, statsd) == []


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    # Asana: no webhook has completed a handshake yet (see test_status.py for when it has).
    assert client.get("/readyz").json == {"ready": True, "sources": {"github": True, "asana": False, "wandb": False}}


def corpus_files():
    return sorted(p for p in GITHUB.rglob("*.json"))


def test_every_corpus_delivery_is_2xx(app, client, statsd):
    statuses = {}
    for path in corpus_files():
        delivery = github_example(path)
        response = post(client, delivery.body, delivery.signed(Secret(SECRET)))
        statuses[str(path.relative_to(GITHUB))] = response.status_code
    assert len(statuses) > 200
    assert {k: v for k, v in statuses.items() if not 200 <= v < 300} == {}
    emitted = {x.name for x in received(app, statsd)}
    assert {
        "github.prs.opened",
        "github.ci.runs",
        "github.ci.jobs",
        "github.refs.created",
        "github.checks.completed",
        "github.deployments.statuses",
    } <= emitted


def test_logs_carry_ids_and_never_secrets_or_bodies(client, caplog):
    body = pr_opened()
    delivery = str(uuid.uuid4())
    with caplog.at_level(logging.INFO, logger="orgpulse.receiver"):
        post(client, body, github_headers(body, "pull_request", delivery=delivery))
        post(client, body, github_headers(body, "pull_request", secret="wrong"))
    from orgpulse.logs import JsonFormatter

    lines = [JsonFormatter().format(r) for r in caplog.records]
    records = [json.loads(x) for x in lines]
    accepted = next(r for r in records if r.get("outcome") == "accepted")
    assert accepted["delivery"] == delivery and accepted["event"] == "pull_request"
    assert accepted["action"] == "opened" and accepted["status"] == 200
    assert any(r.get("outcome") == "bad_signature" for r in records)
    text = "\n".join(lines)
    assert SECRET not in text and "Codertocat" not in text and "sha256=" not in text
