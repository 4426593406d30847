"""W&B automation webhooks: bearer token and/or HMAC signature, rendered templates → metrics."""

from __future__ import annotations

import base64
import hmac

import pytest

from orgpulse.emit import DogStatsdSink, Emitter
from receiver import create_app
from tests.conftest import FIXTURES, received

TOKEN, SECRET = "wandb-access-token", "wandb-signing-secret"
WANDB = FIXTURES / "wandb"


@pytest.fixture
def make_app(make_settings, statsd):
    host, port = statsd.address

    def make(token=TOKEN, secret=None, options=None):
        env = {"DD_DOGSTATSD_URL": f"udp://{host}:{port}"}
        if token:
            env["WANDB_WEBHOOK_TOKEN"] = token
        if secret:
            env["WANDB_WEBHOOK_SECRET"] = secret
        settings = make_settings(env, options)
        app = create_app(settings, Emitter(DogStatsdSink(settings), strict=True))
        app.config["TESTING"] = True
        return app

    return make


def sig(body: bytes, encoding="hex") -> str:
    digest = hmac.digest(SECRET.encode(), body, "sha256")
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


def post(app, name: str, headers: dict):
    body = (WANDB / f"{name}.json").read_bytes()
    return app.test_client().post(
        "/webhooks/wandb", data=body, headers={k: v(body) if callable(v) else v for k, v in headers.items()}
    )


BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_not_configured_is_503(make_app):
    assert post(make_app(token=None), "run_state_failed", BEARER).status_code == 503


@pytest.mark.parametrize(
    "headers,status",
    [
        (BEARER, 200),
        ({"Authorization": "Bearer wrong"}, 401),
        ({}, 401),
        ({"Authorization": TOKEN}, 401),  # the token without the Bearer scheme
    ],
)
def test_bearer_token(make_app, headers, status):
    assert post(make_app(), "run_state_failed", headers).status_code == status


@pytest.mark.parametrize(
    "headers,status",
    [
        ({"X-Wandb-Signature": lambda b: sig(b, "hex")}, 200),
        ({"X-Wandb-Signature": lambda b: sig(b, "base64")}, 200),
        ({"X-Wandb-Signature": lambda b: "sha256=" + sig(b, "hex")}, 200),
        ({"X-Wandb-Signature": lambda b: sig(b + b" ", "hex")}, 401),
        ({"X-Wandb-Signature": "%%%"}, 401),
        ({}, 401),
    ],
)
def test_signature_hex_or_base64(make_app, headers, status):
    assert post(make_app(token=None, secret=SECRET), "run_state_failed", headers).status_code == status


def test_both_configured_both_required(make_app):
    app = make_app(secret=SECRET)
    assert post(app, "run_state_failed", BEARER).status_code == 401
    assert post(app, "run_state_failed", {"X-Wandb-Signature": lambda b: sig(b)}).status_code == 401
    assert post(app, "run_state_failed", {**BEARER, "X-Wandb-Signature": lambda b: sig(b)}).status_code == 200


def test_every_template_sample_becomes_its_metric(make_app, statsd):
    app = make_app(options={"wandb": {"projects": ["ml-org/trainer"]}})
    expected = {
        "run_state_failed": ("wandb.runs.state_changes", {"state": "failed"}),
        "run_state_finished": ("wandb.runs.state_changes", {"state": "finished"}),
        "run_state_crashed": ("wandb.runs.state_changes", {"state": "crashed"}),
        "run_metric_threshold": ("wandb.runs.metric_alerts", {"kind": "threshold"}),
        "run_metric_zscore": ("wandb.runs.metric_alerts", {"kind": "zscore"}),
        "create_artifact": ("wandb.artifacts.versions_created", {}),
        "add_artifact_alias": ("wandb.artifacts.aliases_added", {}),
        "add_artifact_tag": ("wandb.artifacts.tags_added", {}),
        "link_artifact": ("wandb.artifacts.linked", {}),
    }
    for name, (metric, tags) in expected.items():
        statsd.clear()
        response = post(app, name, BEARER)
        assert response.status_code == 200 and response.json["emitted"] == [metric], name
        [line] = [x for x in received(app, statsd) if x.name == metric]
        project = "other" if name == "link_artifact" else "ml-org/trainer"  # allow-list
        assert line.tag_map == {"env": "test", "service": "orgpulse", "project": project, **tags}


def test_unknown_event_type_is_ignored_with_a_bounded_tag(make_app, statsd):
    app = make_app()
    response = app.test_client().post("/webhooks/wandb", data=b'{"event_type": "${event_type}"}', headers=BEARER)
    assert response.status_code == 202
    [ignored] = [x for x in received(app, statsd) if x.name == "orgpulse.receiver.ignored"]
    assert ignored.tag_map["event"] == "other"


@pytest.mark.parametrize("body", [b"nope", b"[]", b'{"project": "p"}'])
def test_malformed_is_400(make_app, body):
    assert make_app().test_client().post("/webhooks/wandb", data=body, headers=BEARER).status_code == 400


def test_oversize_is_413(make_settings, statsd):
    settings = make_settings({"WANDB_WEBHOOK_TOKEN": TOKEN, "ORGPULSE_MAX_BODY_BYTES": "50"})
    response = (
        create_app(settings)
        .test_client()
        .post("/webhooks/wandb", data=(WANDB / "run_state_failed.json").read_bytes(), headers=BEARER)
    )
    assert response.status_code == 413


def test_identical_bodies_count_once_unless_dedup_is_off(make_app):
    app = make_app()
    assert post(app, "run_state_failed", BEARER).json["result"] == "accepted"
    assert post(app, "run_state_failed", BEARER).json["result"] == "duplicate"
    app = make_app(options={"wandb": {"dedup": False}})
    assert [post(app, "run_state_failed", BEARER).json["result"] for _ in range(2)] == ["accepted", "accepted"]
