"""W&B rolling aggregates through the real wandb.Api against a fake W&B GraphQL server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pollers.wandb import WandbPoller, make_api, run_utilization
from tests.fakes.wandb_api import FakeWandb
from tests.support.dogstatsd import produced

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RETRY_NOW = {"Retry-After": "0"}  # a server asking to retry at once: no backoff wait in tests


def iso(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S")


def gpus(n: int, util: float) -> dict:
    return {f"system.gpu.{i}.gpu": util for i in range(n)}


@pytest.fixture
def server():
    fake = FakeWandb()
    yield fake
    fake.close()


@pytest.fixture
def fake(server):
    add = server.add
    add(
        "ml-org",
        "trainer",
        "r1",
        "github.sky.main.101",
        "finished",
        iso(-30),
        iso(-26),
        {"accuracy": 0.81, "loss": 0.40, "overview/sps": 21000},
        gpus(2, 80.0),
    )  # 4 h, 2 GPUs
    add("ml-org", "trainer", "r2", "github.sky.main.102", "failed", iso(-20), iso(-19))
    add("ml-org", "trainer", "r3", "lr-sweep.7", "finished", iso(-10), iso(-8), {"accuracy": 0.86, "loss": 0.35})  # 2 h
    add("ml-org", "trainer", "r4", "local-debug", "running", iso(-1), iso(-0.1), {"overview/sps": 25000})
    add("ml-org", "trainer", "r0", "github.sky.main.90", "finished", iso(-24 * 9), iso(-24 * 9 + 1))  # history
    return server


def poller(fake):
    api = make_api("k" * 40, fake.url, timeout=10, retries=2)
    return WandbPoller(
        api, {"projects": ["ml-org/trainer"], "run_classes": {"push_to_main": r"^github\.sky\.", "sweep": "sweep"}}
    )


def collect(p, now=NOW):
    out = produced(p.collect(now))
    return {(x.name, x.tag("run_class")): x.value for x in out}


def values(p, now=NOW) -> dict[str, float]:
    return {name: v for (name, cls), v in collect(p, now).items() if cls is None}


def run_of(fake, run_id):
    return next(r for r in fake.runs[("ml-org", "trainer")] if r["id"] == run_id)


def test_window_metrics_and_incremental_cycles(fake):
    p = poller(fake)
    got = collect(p)
    assert got[("wandb.runs.total_7d", None)] == 4  # r0 is 9 days old
    assert got[("wandb.runs.active", None)] == 1
    assert got[("wandb.runs.completed_7d", None)] == 2 and got[("wandb.runs.failed_7d", None)] == 1
    assert got[("wandb.training.avg_duration_hours", None)] == pytest.approx(3.0)
    assert got[("wandb.training.total_gpu_hours_7d", None)] == pytest.approx(8.0)
    assert got[("wandb.training.gpu_utilization_avg", None)] == pytest.approx(80.0)
    assert got[("wandb.metrics.best_accuracy", None)] == pytest.approx(0.86)
    assert got[("wandb.metrics.accuracy_runs_7d", None)] == 2  # r1 and r3: avg_accuracy's weight
    assert got[("wandb.metrics.latest_loss", None)] == pytest.approx(0.35)  # r3 ended last
    assert got[("wandb.metrics.steps_per_second", None)] == 25000  # the newest run reporting it
    assert got[("wandb.runs.class_success_rate_pct", "push_to_main")] == 50.0
    assert got[("wandb.runs.class_finished_7d", "sweep")] == 1
    first = json.loads(fake.run_queries[-1]["filters"])
    assert {"state": "running"} in first["$or"]  # running runs of any age
    # 15 minutes later: r4 finished, r5 started; only changes and running runs are asked for
    later = NOW + timedelta(minutes=15)
    run_of(fake, "r4").update(
        state="finished", heartbeatAt=(later - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    fake.add(
        "ml-org",
        "trainer",
        "r5",
        "github.sky.main.103",
        "running",
        (later - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"),
        later.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    got = collect(p, later)
    assert {"name": {"$in": ["r4"]}} in json.loads(fake.run_queries[-1]["filters"])["$or"]
    assert got[("wandb.runs.total_7d", None)] == 5 and got[("wandb.runs.completed_7d", None)] == 3
    assert got[("wandb.runs.active", None)] == 1  # r5 running, r4 finished
    # six days later r1..r3 ended over a week ago and leave the window
    got = collect(p, NOW + timedelta(days=6, hours=23))
    assert got[("wandb.runs.total_7d", None)] == 2
    assert got[("wandb.runs.completed_7d", None)] == 1  # r4
    assert got[("wandb.training.total_gpu_hours_7d", None)] == 0  # r1, the GPU run, has left
    assert ("wandb.training.gpu_utilization_avg", None) not in got  # a mean of nothing: absent


def test_a_long_run_is_active_and_spends_gpu_hours_this_week(server):
    """An 8-GPU run started 10 days ago and a 1-GPU run started 3 hours ago,
    both running: 2 active, ≈ 1,347 GPU hours in 7 days (8 × 168 + 3), not 1 and 2.98."""
    server.add("ml-org", "trainer", "long", "pretrain", "running", iso(-240), iso(-0.05), system=gpus(8, 95.0))
    server.add("ml-org", "trainer", "short", "finetune", "running", iso(-3), iso(-0.02), system=gpus(1, 50.0))
    got = values(poller(server))
    long_hours, short_hours = 8 * (168 - 0.05), 3 - 0.02  # up to each run's last heartbeat
    assert got["wandb.runs.active"] == 2
    assert got["wandb.training.total_gpu_hours_7d"] == pytest.approx(long_hours + short_hours)
    assert round(got["wandb.training.total_gpu_hours_7d"]) == 1347
    assert got["wandb.runs.total_7d"] == 1  # created this week: the short one
    # GPU-hour weighted: the long run's 1,343.6 GPU hours dominate the short run's 3
    assert got["wandb.training.gpu_utilization_avg"] == pytest.approx(
        (95 * long_hours + 50 * short_hours) / (long_hours + short_hours)
    )


def test_a_run_declared_crashed_leaves_running_in_one_query(server):
    """W&B declares a run crashed because its heartbeats stopped, so its
    heartbeatAt never moves again; it must still leave `running` (active 0, crashed 1)."""
    server.add("ml-org", "trainer", "silent", "pretrain", "running", iso(-3), iso(-1))
    server.add("ml-org", "trainer", "gone", "scratch", "running", iso(-2), iso(-0.1))
    p = poller(server)
    assert values(p)["wandb.runs.active"] == 2
    run_of(server, "silent")["state"] = "crashed"
    server.runs[("ml-org", "trainer")] = [r for r in server.runs[("ml-org", "trainer")] if r["id"] != "gone"]
    queries = len(server.run_queries)
    got = values(p, NOW + timedelta(minutes=15))
    assert (got["wandb.runs.active"], got["wandb.runs.crashed_7d"], got["wandb.runs.failed_7d"]) == (0, 1, 1)
    assert len(server.run_queries) == queries + 1  # one query, not a call per run
    asked = json.loads(server.run_queries[-1]["filters"])["$or"]
    assert {"name": {"$in": ["gone", "silent"]}} in asked


def test_runs_count_by_when_they_ended(server):
    """A run created 8 days ago that failed yesterday is this week's failure;
    a 9-day run that finished yesterday is in the durations."""
    server.add("ml-org", "trainer", "late-fail", "github.sky.main.1", "failed", iso(-24 * 8), iso(-24))
    server.add("ml-org", "trainer", "nine-days", "pretrain", "finished", iso(-24 * 9), iso(-24))
    server.add("ml-org", "trainer", "ancient", "pretrain", "finished", iso(-24 * 20), iso(-24 * 10))
    got = collect(poller(server))
    assert got[("wandb.runs.failed_7d", None)] == 1
    assert got[("wandb.runs.completed_7d", None)] == 1
    assert got[("wandb.training.avg_duration_hours", None)] == pytest.approx(24 * 8)
    assert got[("wandb.training.duration_p90_hours", None)] == pytest.approx(24 * 8)
    assert got[("wandb.runs.class_failed_7d", "push_to_main")] == 1  # by end time too
    assert got[("wandb.runs.total_7d", None)] == 0  # none was created this week


def test_gpu_utilization_is_each_runs_average_not_its_last_sample(server):
    """The last system sample is the shutdown moment (0 %); the run's
    average over its sampled history is what the FoM means."""
    history = [gpus(2, 90.0)] * 3 + [{"system.gpu.0.gpu": 0.0, "system.gpu.1.gpu": 0.0}]
    server.add("ml-org", "trainer", "u", "pretrain", "finished", iso(-5), iso(-1), system=history[-1], events=history)
    p = poller(server)
    assert values(p)["wandb.training.gpu_utilization_avg"] == pytest.approx(67.5)
    assert server.history_queries[-1]["samples"] == 200
    # an ended run is sampled once; its average is kept across cycles
    sampled = len(server.history_queries)
    assert values(p, NOW + timedelta(minutes=15))["wandb.training.gpu_utilization_avg"] == pytest.approx(67.5)
    assert len(server.history_queries) == sampled


def test_a_running_run_is_resampled_hourly_and_once_when_it_ends(server):
    server.add(
        "ml-org",
        "trainer",
        "r",
        "pretrain",
        "running",
        iso(-5),
        iso(-0.01),
        system=gpus(1, 40.0),
        events=[gpus(1, 40.0)],
    )
    p = poller(server)
    assert values(p)["wandb.training.gpu_utilization_avg"] == 40.0
    server.events[("ml-org", "trainer", "r")].append(gpus(1, 60.0))
    for minutes in (15, 30):  # heartbeating, but sampled less than an hour ago
        run_of(server, "r")["heartbeatAt"] = iso(minutes / 60)
        assert values(p, NOW + timedelta(minutes=minutes))["wandb.training.gpu_utilization_avg"] == 40.0
    run_of(server, "r").update(state="finished", heartbeatAt=iso(0.75))
    server.fail_operation("RunFullHistory", *[(500, RETRY_NOW)] * 3)  # its final sampling fails
    out = produced(p.collect(NOW + timedelta(minutes=45)))
    assert [x.tag("reason") for x in out if x.name == "orgpulse.collector.errors"] == ["system_metrics_failed"]
    assert next(x.value for x in out if x.name == "wandb.training.gpu_utilization_avg") == 40.0  # the last average
    # ended but not yet sampled as ended: asked for by id, and its final average taken once
    assert values(p, NOW + timedelta(minutes=60))["wandb.training.gpu_utilization_avg"] == 50.0
    assert {"name": {"$in": ["r"]}} in json.loads(server.run_queries[-1]["filters"])["$or"]
    assert values(p, NOW + timedelta(minutes=75))["wandb.training.gpu_utilization_avg"] == 50.0
    assert len(server.history_queries) == 2  # the failed attempts never reached the query handler


def test_unmeasured_utilization_is_withheld_then_measured(server):
    server.add("ml-org", "trainer", "u", "pretrain", "finished", iso(-5), iso(-1), system=gpus(1, 70.0))
    server.fail_operation("RunFullHistory", *[(500, RETRY_NOW)] * 3)  # every attempt of one call
    p = poller(server)
    out = produced(p.collect(NOW))
    names = {x.name for x in out}
    assert "wandb.training.gpu_utilization_avg" not in names  # never a partial or zero figure
    assert "wandb.training.total_gpu_hours_7d" in names and "wandb.runs.completed_7d" in names
    errors = [x for x in out if x.name == "orgpulse.collector.errors"]
    assert [(x.tag("reason"), x.value) for x in errors] == [("system_metrics_failed", 1)]
    # the next cycle asks for the unmeasured run by id and samples it
    assert values(p, NOW + timedelta(minutes=15))["wandb.training.gpu_utilization_avg"] == 70.0


def test_run_utilization_is_pure():
    assert run_utilization([]) is None
    assert run_utilization([{"system.cpu": 50}, {"_runtime": 3}]) is None
    assert run_utilization(
        [
            {"system.gpu.0.gpu": 100, "system.gpu.1.gpu": 50, "system.gpu.0.temp": 70},
            {"system.gpu.0.gpu": 25, "system.gpu.1.gpu": 25},
        ]
    ) == pytest.approx(50.0)


def test_a_failing_api_is_retried_then_raises(fake):
    p = poller(fake)  # login: one request
    fake.fail("/graphql", *[(500, RETRY_NOW, 0)] * 30)
    with pytest.raises(RuntimeError, match="every W&B project failed"):
        p.collect(NOW)
    assert fake.requests["/graphql"] == 1 + 3  # the injected policy: 2 retries, then give up


def test_w_and_b_unreachable_when_the_poller_starts_is_a_counted_error_then_recovers():
    """The client's login check runs at its first use, in the collector: W&B down at start
    is `client_failed` that cycle, not a poller that cannot start; the next cycle connects."""
    from pollers.wandb import LazyApi
    from tests.support.servers import free_port

    port = free_port()  # nothing listens: connection refused
    p = WandbPoller(
        LazyApi(lambda: make_api("k" * 40, f"http://127.0.0.1:{port}", timeout=5, retries=1)),
        {"projects": ["ml-org/trainer"]},
    )
    assert [(x.name, x.tag("reason")) for x in produced(p.collect(NOW))] == [
        ("orgpulse.collector.errors", "client_failed")
    ]
    server = FakeWandb(port)  # W&B comes up
    try:
        server.add("ml-org", "trainer", "r1", "run", "finished", iso(-30), iso(-26))
        out = produced(p.collect(NOW + timedelta(minutes=15)))
    finally:
        server.close()
    assert not [x for x in out if x.name == "orgpulse.collector.errors"]
    assert {x.name: x.value for x in out}["wandb.runs.completed_7d"] == 1


def test_the_poller_starts_without_reaching_w_and_b(make_settings):
    """registry.build makes no W&B request (it used to run wandb.Api's login check and raise)."""
    from pollers import registry
    from tests.support.servers import free_port

    settings = make_settings(
        {"WANDB_API_KEY": "k" * 40, "WANDB_BASE_URL": f"http://127.0.0.1:{free_port()}"},
        {"wandb": {"projects": ["ml-org/trainer"]}},
    )
    collectors = registry.build(settings)
    assert list(collectors) == ["wandb"] and collectors["wandb"].collect.__self__.api._api is None
