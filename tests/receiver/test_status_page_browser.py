"""The status page in a real browser (headless Debian chromium through Playwright), served by
a real gunicorn, with the state file a real Poller cycle wrote: what a person checks — a
delivery just sent appears with its outcome, a failed collector is red with its reason,
grid cells carry the threshold colours and "no data", no console errors, no external
request, and nothing on the page matches a configured secret."""

from __future__ import annotations

import io
import urllib.error
import urllib.request

import pytest

from orgpulse import config
from orgpulse import metrics as m
from orgpulse.emit import Emitter, LogSink
from orgpulse.state import StateFile
from pollers.loop import Collector, Poller
from pollers.values import ValueStore
from receiver import secretstore
from receiver.status.page import COLOURS
from tests.conftest import GITHUB, github_headers
from tests.support.browser import Watched
from tests.support.servers import start_gunicorn, stop

pytestmark = pytest.mark.peers

SECRETS = {
    "GITHUB_WEBHOOK_SECRET": "gh-secret-4c1d9e0a",
    "WANDB_WEBHOOK_TOKEN": "wandb-token-b7e2",
    "ASANA_ACCESS_TOKEN": "asana-pat-91f0c3",
}
HOOK_SECRET = "asana-hook-secret-3a8d"
THRESHOLDS = {"green": 0.8, "yellow": 0.4}  # not the defaults: the page must use these
SCORES = {
    "health.overall.fom": 0.95,
    "health.ci.fom": 0.75,
    "health.infra.fom": 0.1,
    "health.ci.tests_passing.fom": 0.4,
}


def rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def write_cycle(data_dir) -> None:
    """One real poller cycle: a collector that works, one that raises, one that counts an error."""

    def github(now):
        return [m.gauge("github.prs.open", 7, repo="org/app", author_type="human")]

    def skypilot(now):
        raise ConnectionError("connection refused")

    def ec2(now):
        return [m.count("orgpulse.collector.errors", collector="ec2", reason="instances_failed", region="us-east-1")]

    settings = config.load({"ORGPULSE_DATA_DIR": str(data_dir)})
    collectors = {
        c.name: c
        for c in (Collector("github", github, 5), Collector("skypilot", skypilot, 5), Collector("ec2", ec2, 5))
    }
    Poller(
        collectors,
        Emitter(LogSink(settings, io.StringIO()), strict=True),
        ValueStore(),
        lambda values, now: [m.gauge(name, v) for name, v in SCORES.items()],
        interval=900,
        state=StateFile(data_dir),
    ).run_once()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("status-browser")
    data = tmp / "data"
    write_cycle(data)
    cfg = tmp / "orgpulse.yaml"
    cfg.write_text(f"fom: {{thresholds: {{green: {THRESHOLDS['green']}, yellow: {THRESHOLDS['yellow']}}}}}\n")
    proc, url = start_gunicorn(
        {
            **SECRETS,
            "ASANA_BASE_URL": "http://127.0.0.1:9",
            "ORGPULSE_SINK": "log",
            "ORGPULSE_DATA_DIR": str(data),
            "ORGPULSE_CONFIG": str(cfg),
        },
        tmp,
    )
    secretstore.arm(secretstore.FileStore(data), "engineering")
    handshake = urllib.request.Request(
        url + "/webhooks/asana/engineering", data=b"", method="POST", headers={"X-Hook-Secret": HOOK_SECRET}
    )
    assert urllib.request.urlopen(handshake, timeout=10).status == 200
    yield url
    stop(proc)


@pytest.fixture
def page(browser, server):
    watched = Watched(browser)
    yield watched
    watched.close()


def post_github(url: str, delivery: str, forged: bool = False) -> int:
    body = (GITHUB / "pull_request/opened.payload.json").read_bytes()
    headers = github_headers(body, "pull_request", delivery, SECRETS["GITHUB_WEBHOOK_SECRET"])
    if forged:
        headers["X-Hub-Signature-256"] = "sha256=" + "0" * 64
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url + "/webhooks/github", data=body, headers=headers), timeout=10
        ) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def background(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).backgroundColor")


def test_a_delivery_just_sent_appears_with_its_outcome(page, server):
    page.page.goto(server + "/status")
    assert page.page.locator('tr[data-delivery="browser-1"]').count() == 0
    assert post_github(server, "browser-1") == 200
    assert post_github(server, "browser-2", forged=True) == 401
    page.page.reload()
    row = page.page.locator('table[data-source="github"] tr[data-delivery="browser-1"]')
    assert row.locator("td").nth(1).inner_text() == "pull_request"
    assert row.locator("td").nth(2).inner_text() == "opened"
    badge = row.locator(".badge")
    assert badge.inner_text() == "accepted" and background(badge) == rgb(COLOURS["green"])
    assert "github.prs.opened" in row.inner_text()
    refused = page.page.locator('table[data-source="github"] tbody tr').first  # newest first
    assert refused.locator(".badge").inner_text() == "bad_signature"
    assert background(refused.locator(".badge")) == rgb(COLOURS["red"])
    counts = page.page.locator("#source-github").inner_text()
    assert "accepted 1" in counts and "bad_signature 1" in counts
    assert page.errors == []


def test_a_failed_collector_shows_red_with_its_reason(page, server):
    page.page.goto(server + "/status")
    failed = page.page.locator('#collectors tr[data-collector="skypilot"]')
    assert failed.locator(".badge").inner_text() == "failed"
    assert background(failed.locator(".badge")) == rgb(COLOURS["red"])
    assert failed.locator("td.reason").inner_text() == "exception: ConnectionError"
    assert "partial: instances_failed" in page.page.locator('tr[data-collector="ec2"] td.reason').inner_text()
    ok = page.page.locator('tr[data-collector="github"]')
    assert ok.locator(".badge").inner_text() == "ok" and background(ok.locator(".badge")) == rgb(COLOURS["green"])
    assert ok.locator("td.reason").inner_text() == ""
    assert page.errors == []


def test_grid_cells_carry_the_threshold_colours_and_no_data(page, server):
    page.page.goto(server + "/status")
    today = {name: page.page.locator(f'tr[data-score="{name}"] td.cell').last for name in SCORES}
    expected = {
        "health.overall.fom": "green",
        "health.ci.fom": "yellow",  # 0.75: green by the default 0.7
        "health.infra.fom": "red",
        "health.ci.tests_passing.fom": "yellow",
    }
    for name, colour in expected.items():
        assert today[name].inner_text() == f"{SCORES[name]:.2f}"
        assert background(today[name]) == rgb(COLOURS[colour]), name
    empty = page.page.locator('tr[data-score="health.training.fom"] td.cell')
    assert empty.count() == 7
    assert all(empty.nth(i).inner_text() == "no data" for i in range(7))
    assert background(empty.last) == rgb(COLOURS["none"])
    assert page.page.locator('tr[data-score="health.overall.fom"] td.cell').first.inner_text() == "no data"
    assert page.errors == []


def test_no_console_error_no_external_request_and_no_secret_on_the_page(page, server):
    page.page.goto(server + "/status")
    page.page.reload()
    assert page.errors == []
    assert page.requested and all(u.startswith(server) for u in page.requested), page.requested
    assert page.page.locator('meta[http-equiv="refresh"]').get_attribute("content") == "10"
    html = page.page.content()
    with urllib.request.urlopen(server + "/status.json", timeout=10) as response:
        document = response.read().decode()
    assert "engineering" in html  # the Asana webhook's name is shown ...
    for secret in [*SECRETS.values(), HOOK_SECRET]:  # ... and none of the secrets
        assert secret not in html and secret not in document and secret not in page.page.inner_text("body")
