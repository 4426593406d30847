"""The status page through the Flask test client: on only in local mode unless configured,
per-source configuration and deliveries (the envelope's record: never a payload or a
secret), the poller's state file (missing, fresh, stale — never old values as current),
the health grid by `fom.thresholds`, the informer. In a real browser: test_status_browser.py."""

from __future__ import annotations

import io
import json
import time

import pytest

from orgpulse import config, state
from orgpulse.emit import Emitter, LogSink
from receiver import create_app, secretstore
from receiver.envelope import Event, Outcome
from receiver.status.model import RECENT, DeliveryLog, score_names
from tests.conftest import GITHUB, SECRET, github_headers

WANDB_TOKEN = "wandb-token-9f2c4e"
ASANA_TOKEN = "asana-token-77d1a0"
HOOK_SECRET = "asana-hook-secret-5be3"


@pytest.fixture
def make_app(make_settings):
    def make(env=None, options=None):
        settings = make_settings({"GITHUB_WEBHOOK_SECRET": SECRET, **(env or {})}, options)
        app = create_app(settings, Emitter(LogSink(settings, io.StringIO()), strict=True))
        app.config["TESTING"] = True
        return app

    return make


def page(app, path="/status.json"):
    response = app.test_client().get(path)
    assert response.status_code == 200, response.status_code
    return response.json if path.endswith(".json") else response.get_data(as_text=True)


def source(doc, name):
    return next(s for s in doc["sources"] if s["name"] == name)


def write_state(app, *changes):
    store = state.StateFile(app.extensions["orgpulse"].settings.data_dir)
    for change in changes:
        store.update(change)


@pytest.mark.parametrize(
    "env,options,on",
    [
        ({}, None, True),  # local mode: the log sink
        ({"DD_AGENT_HOST": "127.0.0.1"}, None, False),  # an Agent: off
        ({"DD_AGENT_HOST": "127.0.0.1"}, {"receiver": {"status_page": True}}, True),
        ({}, {"receiver": {"status_page": False}}, False),
    ],
)
def test_on_by_default_only_in_local_mode(make_app, env, options, on):
    client = make_app(env, options).test_client()
    assert client.get("/status").status_code == (200 if on else 404)
    assert client.get("/status.json").status_code == (200 if on else 404)


@pytest.mark.parametrize(
    "options,problem",
    [
        ({"receiver": {"status_page": "yes"}}, "receiver.status_page must be true, false or null"),
        ({"receiver": {"public_url": "hooks.example.com"}}, "receiver.public_url must be an http(s)://"),
        ({"receiver": {"public_url": "https://x.example/?a=1"}}, "receiver.public_url must be"),
    ],
)
def test_settings_are_validated(make_settings, options, problem):
    with pytest.raises(config.ConfigError) as err:
        make_settings({}, options)
    assert problem in str(err.value)


def test_a_delivery_shows_with_its_outcome_and_never_its_payload(make_app):
    app = make_app()
    client = app.test_client()
    body = (GITHUB / "pull_request/opened.payload.json").read_bytes()
    client.post("/webhooks/github", data=body, headers=github_headers(body, "pull_request", "d-1"))
    client.post("/webhooks/github", data=body, headers=github_headers(body, "pull_request", "d-1"))
    client.post(
        "/webhooks/github",
        data=body,
        headers={**github_headers(body, "pull_request", "d-2"), "X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    github = source(page(app), "github")
    # A refused delivery's id is not shown: its headers were not verified.
    assert [(d["delivery"], d["outcome"], d["status"]) for d in github["recent"]] == [
        (None, "bad_signature", 401),
        ("d-1", "duplicate", 200),
        ("d-1", "accepted", 200),
    ]
    newest_accepted = github["recent"][2]
    assert (newest_accepted["event"], newest_accepted["action"]) == ("pull_request", "opened")
    assert newest_accepted["metrics"] == ["github.prs.opened"]
    assert github["last_hour"] == {"accepted": 1, "bad_signature": 1, "duplicate": 1}
    assert time.time() - github["last_delivery"] < 60
    html = page(app, "/status")
    assert "github.prs.opened" in html and "bad_signature" in html
    payload = json.loads(body)
    for text in (payload["pull_request"]["title"], payload["pull_request"]["body"], payload["sender"]["login"]):
        assert text not in html and text not in json.dumps(page(app))


def test_configured_sources_their_webhook_urls_and_what_is_missing(make_app):
    app = make_app(options={"receiver": {"public_url": "https://hooks.example.com"}})
    doc = page(app)
    github, asana, wandb = (source(doc, n) for n in ("github", "asana", "wandb"))
    assert github["configured"] and github["webhooks"] == ["https://hooks.example.com/webhooks/github"]
    assert not wandb["configured"] and wandb["missing"] == ["WANDB_WEBHOOK_TOKEN or WANDB_WEBHOOK_SECRET"]
    assert not asana["configured"] and "orgpulse asana webhooks create" in asana["missing"][0]
    assert "ASANA_ACCESS_TOKEN not set" in asana["notes"][0]
    store = app.extensions["orgpulse"].sources["asana"].store
    secretstore.arm(store, "engineering")
    assert (
        app.test_client()
        .post("/webhooks/asana/engineering", data=b"", headers={"X-Hook-Secret": HOOK_SECRET})
        .status_code
        == 200
    )
    asana = source(page(app), "asana")
    assert asana["configured"] and asana["webhooks"] == ["https://hooks.example.com/webhooks/asana/engineering"]
    # Without receiver.public_url the page shows the address it was asked on.
    assert source(page(make_app()), "github")["webhooks"] == ["http://localhost/webhooks/github"]


def test_readyz_and_the_page_agree_on_what_is_configured(make_app, tmp_path):
    """One definition per source (its missing()): for Asana a webhook with a completed handshake."""

    def both(app):
        ready = app.test_client().get("/readyz").json["sources"]
        shown = {s["name"]: s["configured"] for s in page(app)["sources"]}
        assert ready == shown
        return ready

    app = make_app({"WANDB_WEBHOOK_TOKEN": WANDB_TOKEN})
    assert both(app) == {"github": True, "asana": False, "wandb": True}
    secretstore.arm(app.extensions["orgpulse"].sources["asana"].store, "engineering")
    assert both(app)["asana"] is False  # armed is not configured: no secret yet
    assert (
        app.test_client()
        .post("/webhooks/asana/engineering", data=b"", headers={"X-Hook-Secret": HOOK_SECRET})
        .status_code
        == 200
    )
    assert both(app) == {"github": True, "asana": True, "wandb": True}
    # An unreadable store is "not configured" on both.
    data_dir = tmp_path / "broken"
    data_dir.mkdir()
    (data_dir / secretstore.DOCUMENT_KEY).write_text("{half")
    broken = make_app({"ORGPULSE_DATA_DIR": str(data_dir)})
    assert both(broken)["asana"] is False
    assert source(page(broken), "asana")["missing"] == ["a readable webhook secret store"]


def test_no_configured_secret_reaches_the_page(make_app):
    app = make_app(
        {"WANDB_WEBHOOK_TOKEN": WANDB_TOKEN, "ASANA_ACCESS_TOKEN": ASANA_TOKEN, "ASANA_BASE_URL": "http://127.0.0.1:9"}
    )
    secretstore.arm(app.extensions["orgpulse"].sources["asana"].store, "engineering")
    client = app.test_client()
    assert (
        client.post("/webhooks/asana/engineering", data=b"", headers={"X-Hook-Secret": HOOK_SECRET}).json["result"]
        == "handshake"
    )
    body = b'{"event_type": "RUN_STATE_CHANGED", "project": "p", "entity": "e", "run_state": "failed"}'
    client.post("/webhooks/wandb", data=body, headers={"Authorization": f"Bearer {WANDB_TOKEN}"})
    for text in (page(app, "/status"), json.dumps(page(app))):
        assert "handshake" in text and "wandb" in text
        for secret in (SECRET, WANDB_TOKEN, ASANA_TOKEN, HOOK_SECRET):
            assert secret not in text


def test_the_last_hour_and_the_recent_deliveries_are_bounded():
    clock = type("Clock", (), {"now": 1_800_000_000.0, "__call__": lambda self: self.now})()
    log = DeliveryLog(clock)
    for i in range(RECENT + 5):
        log.record("github", Outcome(200, "accepted", "push", f"d{i}"), Event("push", None, {}, f"d{i}"))
        clock.now += 60  # one a minute
    summary = log.summary("github", clock.now)
    assert len(summary["recent"]) == RECENT and summary["recent"][0]["delivery"] == f"d{RECENT + 4}"
    assert summary["last_hour"] == {"accepted": RECENT + 5}  # 25 minutes: all within the hour
    clock.now += 3600 - 25 * 60 + 30  # 24.5 min of them are now older than an hour
    assert log.summary("github", clock.now)["last_hour"] == {"accepted": 24}
    assert log.summary("github", clock.now + 3600)["last_hour"] == {}
    assert log.summary("asana", clock.now) == {"last_hour": {}, "last_delivery": None, "recent": []}


def test_the_poller_part_missing_fresh_and_stale(make_app):
    app = make_app()
    doc = page(app)
    assert doc["poller"]["state"] == "missing" and "collectors" not in doc["poller"]
    assert doc["informer"]["state"] == "missing"
    now = time.time()
    reports = {
        "github": {"ok": True, "duration": 1.5, "last_success": now - 10, "error": None, "reasons": [], "emitted": 40},
        "ec2": {
            "ok": False,
            "duration": 0.2,
            "last_success": None,
            "error": "partial",
            "reasons": ["ebs_failed"],
            "emitted": 3,
        },
    }
    gauges = state.gauge_rows(
        [
            ("ec2.instances.running", (("region", "us-east-1"),), 4.0, now - 10),
            ("ec2.instances.total", (("region", "us-east-1"),), 9.0, now - 5000),
        ]
    )
    write_state(app, state.cycle(now - 10, 900, "leader", reports, gauges, {"health.ci.fom": 0.8}))
    doc = page(app)
    assert doc["poller"]["state"] == "fresh" and doc["poller"]["role"] == "leader"
    assert doc["poller"]["cycle_at"] == now - 10 and "last cycle ended" in page(app, "/status")
    assert [(c["name"], c["ok"], c["reasons"]) for c in doc["poller"]["collectors"]] == [
        ("ec2", False, ["ebs_failed"]),
        ("github", True, []),
    ]
    # A gauge measured longer ago than two intervals is not shown as current.
    assert [g["name"] for g in doc["gauges"]] == ["ec2.instances.running"] and doc["gauges_hidden"] == 1
    html = page(app, "/status")
    assert 'data-collector="ec2"' in html and "partial: ebs_failed" in html
    write_state(app, state.cycle(now - 1801, 900, "leader", reports, gauges, {}))
    doc = page(app)
    assert doc["poller"]["state"] == "stale" and "collectors" not in doc["poller"]
    assert doc["gauges"] == [] and doc["gauges_hidden"] == 2
    assert "Stale: the poller last wrote its state 30 min ago" in page(app, "/status")
    assert "ebs_failed" not in page(app, "/status")
    write_state(app, lambda d: d.clear() or d.update(updated_at="x"))
    assert page(app)["poller"]["state"] == "stale"


def test_the_poller_and_the_informer_each_show_their_own_role(make_app):
    app = make_app()
    now = time.time()
    write_state(
        app,
        state.cycle(now - 5, 20, "single", {}, []),
        state.informer(now - 1, 5, "leader", True),
        state.cycle(now, 20, "single", {}, []),
    )
    doc = page(app)
    assert (doc["poller"]["role"], doc["informer"]["role"]) == ("single", "leader")
    html = page(app, "/status")
    poller, informer = html.split('<section id="poller"')[1], html.split('<section id="informer"')[1]
    assert "<b>single</b><span>role</span>" in poller.split("</section>")[0]
    assert "<b>leader</b><span>role</span>" in informer.split("</section>")[0]


def test_an_unreadable_state_file_says_so(make_app):
    app = make_app()
    settings = app.extensions["orgpulse"].settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / state.FILENAME).write_text("{half")
    doc = page(app)
    assert doc["poller"]["state"] == "unreadable" and "cannot read" in doc["poller"]["message"]


def test_the_grid_colours_by_the_configured_thresholds_and_says_no_data(make_app):
    app = make_app(options={"fom": {"thresholds": {"green": 0.9, "yellow": 0.5}}})
    now = time.time()
    write_state(
        app,
        state.cycle(
            now, 900, "single", {}, [], {"health.ci.fom": 0.8, "health.overall.fom": 0.95, "health.infra.fom": 0.4}
        ),
    )
    grid = page(app)["health"]
    assert grid["days"] == state.days(now)
    today = {row["name"]: row["cells"][-1] for row in grid["rows"]}
    assert today["health.overall.fom"]["status"] == "green"
    assert today["health.ci.fom"]["status"] == "yellow"  # 0.8: green by the default 0.7, not here
    assert today["health.infra.fom"]["status"] == "red"
    assert today["health.training.fom"] == {"day": grid["days"][-1], "value": None, "status": "none"}
    assert [row["name"] for row in grid["rows"]] == score_names([])
    assert all(c["status"] == "none" for row in grid["rows"] for c in row["cells"][:-1])
    html = page(app, "/status")
    assert html.count(">no data<") == 7 * len(grid["rows"]) - 3


def test_the_informer_part(make_app):
    app = make_app()
    now = time.time()
    write_state(
        app,
        state.cycle(now, 900, "leader", {}),
        state.informer(
            now - 5,
            60,
            "leader",
            True,
            {"pods": 42, "last_event": now - 7, "restarts_1h": 3, "oom_kills_1h": 1, "gauges": []},
        ),
    )
    informer = page(app)["informer"]
    assert (informer["state"], informer["watching"], informer["pods"]) == ("fresh", True, 42)
    assert (informer["restarts_1h"], informer["oom_kills_1h"]) == (3, 1)
    write_state(app, state.informer(now - 121, 60, "leader", True, {"pods": 42}))
    assert page(app)["informer"]["state"] == "stale" and "pods" not in page(app)["informer"]


def test_a_request_no_source_could_be_told_is_listed_apart(make_app):
    app = make_app()
    envelope = app.extensions["orgpulse"].envelope
    envelope.timed_out("/webhooks/github")  # a body that never arrived, on a source's path
    envelope.timed_out(None)  # not even a path
    doc = page(app)
    assert source(doc, "github")["last_hour"] == {"timeout": 1} and source(doc, "github")["configured"]
    unknown = source(doc, "unknown")
    assert unknown["configured"] is None and unknown["last_hour"] == {"timeout": 1}
    assert [(d["outcome"], d["status"]) for d in unknown["recent"]] == [("timeout", 408)]
    assert 'id="source-unknown"' in page(app, "/status")
