"""High-water marks: a data-dir file, and a Redis hash shared by replicas (a real redis-server,
`peers`). Event-level values are sent once across restarts and a failover, and not at all —
never twice — while the marks cannot be read or written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orgpulse import redisconn
from pollers.dora.marks import REDIS_KEY, Marks, MarksUnavailable
from tests.pollers.test_dora_collector import NOW, small
from tests.pollers.test_dora_scenario import collector, distributions, expected_between


def test_a_file_that_cannot_be_read_is_a_first_start_and_one_that_cannot_be_written_sends_nothing(tmp_path):
    path = tmp_path / "marks.json"
    path.write_text("{not json")
    assert Marks(path).load() == {}
    Marks(path).save({"org/app|lead_time": 5.0})
    assert Marks(path).load() == {"org/app|lead_time": 5.0}
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(MarksUnavailable):
        Marks(blocked / "marks.json").save({"a": 1.0})  # its directory is a file


def test_marks_that_cannot_be_saved_hold_the_values_back(fake_dora_github, tmp_path):
    app = small(fake_dora_github)
    c = collector(fake_dora_github, tmp_path, repos=("org/app",))
    c.collect(NOW)
    app.land(NOW + timedelta(minutes=1))
    app.deploy(NOW + timedelta(minutes=2), app.head())
    (tmp_path / "marks.tmp").mkdir()  # the marks read fine, but the new file cannot be written
    out = c.collect(NOW + timedelta(minutes=15))
    (tmp_path / "marks.tmp").rmdir()
    assert distributions(out) == {}
    assert [x.tag("reason") for x in out if x.name == "orgpulse.collector.errors"] == ["marks"]
    later = c.collect(NOW + timedelta(minutes=30))
    assert ("org/app", "dora.lead_time", None) in distributions(later)  # sent now, once


# ---------------------------------------------------------------- Redis, shared by replicas
@pytest.fixture
def shared(redis_server, make_settings):
    redis_server.thaw_and_start()
    client = redisconn.client(make_settings({"ORGPULSE_REDIS_URL": redis_server.url}))
    client.delete(REDIS_KEY)
    yield client
    client.close()


@pytest.mark.peers
def test_a_failover_continues_from_the_shared_marks(fake_dora_github, tmp_path, shared):
    app = small(fake_dora_github)
    minutes = lambda n: NOW + timedelta(minutes=n)  # noqa: E731
    leader = collector(fake_dora_github, tmp_path / "a", repos=("org/app",))  # two replicas, each its own
    standby = collector(fake_dora_github, tmp_path / "b", repos=("org/app",), leading=lambda: False)  # data dir
    leader.marks.redis = standby.marks.redis = shared
    for c in (leader, standby):
        c.collect(NOW)
    app.land(minutes(1))
    app.deploy(minutes(2), app.head())  # succeeds at +9
    sent = distributions(leader.collect(minutes(15)))
    assert sent == expected_between(app.state, "org/app", minutes(-5), minutes(10)) != {}
    assert distributions(standby.collect(minutes(16))) == {}  # a standby sends nothing
    app.land(minutes(16))
    app.deploy(minutes(17), app.head())  # succeeds at +24
    # the leader's pod is gone before its next cycle; the standby takes the Lease over
    standby.leading = lambda: True
    taken_over = distributions(standby.collect(minutes(30)))
    assert taken_over == expected_between(app.state, "org/app", minutes(10), minutes(25)) != {}
    assert not set(sent[("org/app", "dora.lead_time", None)]) & set(
        taken_over[("org/app", "dora.lead_time", None)]
    )  # nothing twice, nothing lost


@pytest.mark.peers
def test_redis_down_sends_no_distribution_and_loses_none(fake_dora_github, tmp_path, make_settings):
    app = small(fake_dora_github)
    dead = redisconn.client(make_settings({"ORGPULSE_REDIS_URL": f"unix://{tmp_path}/none.sock"}))
    c = collector(fake_dora_github, tmp_path, repos=("org/app",))
    c.collect(NOW)
    c.marks.redis = dead
    app.land(NOW + timedelta(minutes=1))
    app.deploy(NOW + timedelta(minutes=2), app.head())
    out = c.collect(NOW + timedelta(minutes=15))
    assert distributions(out) == {} and [x.tag("reason") for x in out if x.name == "orgpulse.collector.errors"] == [
        "marks"
    ]
    c.marks.redis = None
    assert ("org/app", "dora.lead_time", None) in distributions(c.collect(NOW + timedelta(minutes=30)))
