"""What the state file holds for the status page (orgpulse/state.py): every gauge's latest
value with its tags, the health grid (each score's average per UTC day, 7 days kept),
per-collector error reasons and metrics emitted, the informer's details — all with an
injected clock, across UTC day boundaries."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from orgpulse import metrics as m
from orgpulse import state
from orgpulse.emit import Emitter, LogSink
from pollers.kubernetes.informer import Informer
from pollers.loop import Collector, Poller
from pollers.values import ValueStore
from tests.fakes.kube_api import FakeKube
from tests.pollers.test_kubernetes_informer import api_client, wait_until
from tests.pollers.test_loop import Clock
from tests.support.k8s_pods import container_status, oom, pod

MIDNIGHT = datetime(2026, 11, 27, tzinfo=UTC).timestamp()  # 2026-11-27T00:00:00Z


@pytest.fixture
def emitter(make_settings):
    return Emitter(LogSink(make_settings(), io.StringIO()), strict=True)


def test_a_score_averages_within_its_utc_day_and_midnight_starts_the_next():
    health = state.fold_health({}, {"health.ci.fom": 0.2}, MIDNIGHT - 60)
    health = state.fold_health(health, {"health.ci.fom": 0.6}, MIDNIGHT - 1)  # 23:59:59Z
    health = state.fold_health(health, {"health.ci.fom": 0.9}, MIDNIGHT)  # 00:00:00Z
    assert health == {
        "health.ci.fom": {"2026-11-26": {"avg": pytest.approx(0.4), "n": 2}, "2026-11-27": {"avg": 0.9, "n": 1}}
    }


def test_days_are_utc_calendar_days_whatever_the_offset_of_the_instant():
    # 23:30 in New York on the 26th is 04:30 UTC on the 27th: the 27th's column.
    evening = datetime(2026, 11, 26, 23, 30, tzinfo=timezone(timedelta(hours=-5))).timestamp()
    assert state.days(evening)[-1] == "2026-11-27"
    assert state.days(evening) == [f"2026-11-{d}" for d in range(21, 28)]
    assert state.days(MIDNIGHT - 1)[-1] == "2026-11-26"


def test_seven_days_are_kept_and_a_score_without_data_adds_nothing():
    health: dict = {}
    for back in range(9, -1, -1):  # one cycle a day for ten days, the last one today
        health = state.fold_health(health, {"health.ci.fom": back / 10}, MIDNIGHT + 3600 - back * 86400)
    kept = health["health.ci.fom"]
    assert sorted(kept) == state.days(MIDNIGHT + 3600) and len(kept) == 7
    assert kept["2026-11-27"] == {"avg": 0.0, "n": 1} and kept["2026-11-21"] == {"avg": 0.6, "n": 1}
    # A cycle without the score (its input went missing) leaves today's average alone ...
    assert state.fold_health(health, {}, MIDNIGHT + 7200) == health
    # ... and a score whose last day left the window disappears from the file.
    assert state.fold_health(health, {}, MIDNIGHT + 8 * 86400) == {}


def test_gauge_rows_are_sorted_with_their_tags_and_capped():
    series = [("b.x", (("region", "eu"),), 2.0, 10.0), ("a.y", (), 1.0, 11.0), ("b.x", (("region", "au"),), 3.0, 12.0)]
    assert state.gauge_rows(series) == [
        {"name": "a.y", "tags": {}, "value": 1.0, "at": 11.0},
        {"name": "b.x", "tags": {"region": "au"}, "value": 3.0, "at": 12.0},
        {"name": "b.x", "tags": {"region": "eu"}, "value": 2.0, "at": 10.0},
    ]
    assert len(state.gauge_rows(series, limit=2)) == 2


def test_a_poller_cycle_writes_gauges_scores_reasons_and_what_was_emitted(tmp_path, emitter):
    clock = Clock(MIDNIGHT - 30)
    store = state.StateFile(tmp_path)

    def ec2(now):
        return [
            m.gauge("ec2.instances.running", 4, region="us-east-1"),
            m.count("orgpulse.collector.errors", collector="ec2", reason="ebs_failed", region="eu-west-1"),
        ]

    def broken(now):
        raise ConnectionError("https://token@example: refused")  # the message never reaches the file

    def score(values, now):
        running = values.get("ec2.instances.running", 900)
        return [m.gauge("health.infra.fom", 1.0 if running else 0.0)]

    poller = Poller(
        {"ec2": Collector("ec2", ec2, 5), "sky": Collector("sky", broken, 5)},
        emitter,
        ValueStore(clock),
        score,
        interval=900,
        clock=clock,
        state=store,
    )
    poller.run_once()
    doc = store.read()
    assert doc["poller"]["ec2"]["error"] == "partial" and doc["poller"]["ec2"]["reasons"] == ["ebs_failed"]
    assert doc["poller"]["ec2"]["emitted"] == 2
    assert doc["poller"]["sky"]["reasons"] == ["ConnectionError"] and "token" not in str(doc)
    assert {"name": "ec2.instances.running", "tags": {"region": "us-east-1"}, "value": 4.0, "at": clock.now} in doc[
        "gauges"
    ]
    assert {"name": "health.infra.fom", "tags": {}, "value": 1.0, "at": clock.now} in doc["gauges"]
    assert doc["health"] == {"health.infra.fom": {"2026-11-26": {"avg": 1.0, "n": 1}}}
    assert doc["cycle_at"] == doc["updated_at"] == clock.now
    # The heartbeat a cycle writes as it starts moves updated_at only: the last cycle's end,
    # its gauges and the health grid stay as that cycle left them.
    store.update(state.cycle(clock.now + 5, 900, "single", {}))
    assert {**store.read(), "updated_at": doc["updated_at"]} == doc
    clock.now = MIDNIGHT + 870  # the next cycle falls on the next UTC day
    poller.run_once()
    assert store.read()["health"]["health.infra.fom"] == {
        "2026-11-26": {"avg": 1.0, "n": 1},
        "2026-11-27": {"avg": 1.0, "n": 1},
    }


def test_the_informer_reports_pods_last_event_and_the_last_hours_restarts_and_oom_kills(tmp_path, emitter):
    fake = FakeKube()
    fake.put(pod(uid="p1"))
    fake.put(pod(name="web-1", namespace="web", uid="p2"))
    clock = Clock(2_000_000_000.0)
    store = state.StateFile(tmp_path)
    informer = Informer(
        api_client(fake),
        emitter,
        {"watch_timeout_seconds": 2, "gauge_interval_seconds": 0.05},
        clock=clock,
        state=store,
    )
    part = lambda: store.read().get("informer") or {}  # noqa: E731
    try:
        informer.start()
        assert wait_until(lambda: part().get("watching") is True and part().get("gauges"))
        assert part()["pods"] == 2 and part()["last_event"] is None  # listed, nothing happened yet
        assert part()["restarts_1h"] == 0 and part()["oom_kills_1h"] == 0
        assert {
            "name": "k8s.pods.count",
            "tags": {"namespace": "web", "phase": "running"},
            "value": 1.0,
            "at": clock.now,
        } in part()["gauges"]
        killed = datetime.fromtimestamp(clock.now - 60, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        fake.put(pod(uid="p1", statuses=[container_status("main", restarts=1, last=oom(killed))]))
        assert wait_until(lambda: part().get("oom_kills_1h") == 1)
        assert part()["restarts_1h"] == 1 and part()["last_event"] == clock.now
        clock.now += 3601  # an hour later both have left the window; the cache has not
        assert wait_until(lambda: part().get("updated_at") == clock.now)
        assert (part()["restarts_1h"], part()["oom_kills_1h"], part()["pods"]) == (0, 0, 2)
    finally:
        informer.stop()
        fake.close()


def test_stale_is_two_intervals_and_a_part_without_numbers_is_stale():
    assert not state.stale({"updated_at": 1000.0, "interval_seconds": 60}, 1120.0)
    assert state.stale({"updated_at": 1000.0, "interval_seconds": 60}, 1120.5)
    assert state.stale({"updated_at": "x", "interval_seconds": 60}, 1000.0)
    assert state.stale({}, 1000.0)
