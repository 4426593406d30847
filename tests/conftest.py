"""Shared fixtures: a real DogStatsD listener, settings from an explicit env, the app.

No monkeypatching: the code under test gets its settings and emitter injected,
and talks to real sockets.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from hypothesis import settings

from orgpulse import config
from orgpulse.emit import DogStatsdSink, Emitter
from orgpulse.metrics import catalog
from receiver import create_app
from receiver.sources.github import signature
from tests.support.dogstatsd import PRODUCED, udp_listener

# tests/receiver/test_fuzz.py: "ci" in every run (a few thousand deliveries in all), "fuzz" in
# `make fuzz` (pytest --hypothesis-profile=fuzz).
settings.register_profile("ci", max_examples=1000)
settings.register_profile("fuzz", max_examples=20000)
settings.load_profile("ci")

FIXTURES = Path(__file__).parent / "fixtures"
GITHUB = FIXTURES / "github"
SECRET = "It's a Secret to Everybody"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One real redis-server per run, for every `peers` test that needs Redis."""
    from tests.support.peers import require_executable
    from tests.support.servers import RedisServer

    server = RedisServer(require_executable("redis-server"), tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def statsd():
    listener = udp_listener()
    yield listener
    listener.close()


@pytest.fixture
def make_settings(tmp_path):
    """Settings from an explicit environment (never the test process's own)."""

    def make(env: dict | None = None, options: dict | None = None) -> config.Settings:
        full = {"ORGPULSE_DATA_DIR": str(tmp_path / "data"), "DD_ENV": "test"}
        if options is not None:
            path = tmp_path / f"orgpulse-{uuid.uuid4().hex}.yaml"
            path.write_text(json.dumps(options))  # JSON is YAML
            full["ORGPULSE_CONFIG"] = str(path)
        full.update(env or {})
        return config.load(full)

    return make


@pytest.fixture
def receiver_env(statsd):
    host, port = statsd.address
    return {"DD_DOGSTATSD_URL": f"udp://{host}:{port}", "GITHUB_WEBHOOK_SECRET": SECRET}


@pytest.fixture
def app(make_settings, receiver_env):
    settings = make_settings(receiver_env)
    flask_app = create_app(settings, Emitter(DogStatsdSink(settings), strict=True))
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the whole run (tests/support/browser.py); fails if it is missing."""
    from tests.support.browser import launch

    with launch() as chromium:
        yield chromium


def received(app, statsd, quiet: float = 0.1):
    """Every line the listener got once the app's emitter has flushed its buffer."""
    app.extensions["orgpulse"].envelope.emitter.flush()
    return statsd.settle(quiet)


def github_headers(body: bytes, event: str, delivery: str | None = None, secret: str = SECRET) -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": signature(secret.encode(), body),
        "Content-Type": "application/json",
    }


# make test runs on every core with pytest-xdist (--dist loadgroup). A file's tests stay in one
# group (its module fixtures and fake servers start once); a peer server's tests share one group
# across files, so its session fixture starts once per run, not once per worker.
PEER_GROUPS = {"redis_server": "peer:redis", "browser": "peer:chromium"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        group = next((g for f, g in PEER_GROUPS.items() if f in item.fixturenames), item.nodeid.split("::")[0])
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """On the xdist controller: what each worker's tests produced, for the check below."""
    PRODUCED.update(getattr(node, "workeroutput", {}).get("produced", ()))


def pytest_sessionfinish(session, exitstatus):
    """The catalog contract, the other way round: every catalog row must be
    produced by some test. Checked only when the whole suite ran (on the xdist
    controller, over what every worker produced)."""
    cfg = session.config
    if hasattr(cfg, "workeroutput"):  # an xdist worker: hand its part to the controller
        cfg.workeroutput["produced"] = sorted(PRODUCED)
        return
    narrowed = (
        cfg.option.keyword
        or cfg.option.markexpr
        or getattr(cfg.option, "lf", False)
        or any(Path(a).resolve() != Path(cfg.rootpath, "tests").resolve() for a in cfg.args if not a.startswith("-"))
    )
    if narrowed or exitstatus != 0:
        return
    missing = sorted(set(catalog()) - PRODUCED)
    if missing:
        print("\ncatalog rows that no test produced:\n  " + "\n  ".join(missing))
        session.exitstatus = 1
