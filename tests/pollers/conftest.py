"""Fixtures the poller tests share: an emitter on the real DogStatsD listener and the fake
source servers more than one test module drives."""

from __future__ import annotations

import pytest

from orgpulse.emit import DogStatsdSink, Emitter
from tests.fakes.github_api import FakeGithub
from tests.fakes.github_dora import DoraGithub
from tests.fakes.skypilot_api import FakeSkyPilot


@pytest.fixture
def emitter(make_settings, statsd):
    host, port = statsd.address
    return Emitter(DogStatsdSink(make_settings({"DD_DOGSTATSD_URL": f"udp://{host}:{port}"})), strict=True)


@pytest.fixture
def fake_github():
    server = FakeGithub()
    yield server
    server.close()
    # GitHub's schema refused a query the collector sent: the suite fails on it, even where
    # the collector survived it as a failed part. (Tests that send one on purpose clear it.)
    assert not server.rejected_queries, server.rejected_queries


@pytest.fixture
def fake_dora_github():
    server = DoraGithub()
    yield server
    server.close()
    assert server.rejected_queries == []  # every GraphQL query is valid on GitHub's schema


@pytest.fixture(scope="module")
def skypilot_server():
    """One fake SkyPilot API server per module (it starts a thread); `fake_skypilot` resets it."""
    server = FakeSkyPilot()
    yield server
    server.close()


@pytest.fixture
def fake_skypilot(skypilot_server):
    skypilot_server.reset()
    return skypilot_server
