"""W&B rolling aggregates through the real wandb.Api against a fake W&B GraphQL server."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pollers.wandb import WandbPoller
from tests.dogstatsd import produced
from tests.fakes.wandb_api import FakeWandb

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)


def iso(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def fake():
    server = FakeWandb()
    add = server.add
    gpu = {"system.gpu.0.gpu": 90.0, "system.gpu.1.gpu": 70.0}
    add("ml-org", "trainer", "r1", "github.sky.main.101", "finished", iso(-30), iso(-26),
        {"accuracy": 0.81, "loss": 0.40, "overview/sps": 21000}, gpu)      # 4 h, 2 GPUs
    add("ml-org", "trainer", "r2", "github.sky.main.102", "failed", iso(-20), iso(-19))
    add("ml-org", "trainer", "r3", "lr-sweep.7", "finished", iso(-10), iso(-8),
        {"accuracy": 0.86, "loss": 0.35})                                  # 2 h
    add("ml-org", "trainer", "r4", "local-debug", "running", iso(-1), iso(-0.1), {"overview/sps": 25000})
    add("ml-org", "trainer", "r0", "github.sky.main.90", "finished", iso(-24 * 9), iso(-24 * 9 + 1))  # history
    yield server
    server.close()


def poller(fake):
    import wandb

    api = wandb.Api(api_key="k" * 40, overrides={"base_url": fake.url}, timeout=10)
    return WandbPoller(api, {"projects": ["ml-org/trainer"],
                             "run_classes": {"push_to_main": r"^github\.sky\.", "sweep": "sweep"}})


def collect(p, now=NOW):
    out = produced(p.collect(now))
    return {(x.name, x.tag("run_class")): x.value for x in out}


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
    assert got[("wandb.metrics.latest_loss", None)] == pytest.approx(0.35)  # r3 ended last
    assert got[("wandb.metrics.steps_per_second", None)] == 25000  # the newest run reporting it
    assert got[("wandb.runs.class_success_rate_pct", "push_to_main")] == 50.0
    assert got[("wandb.runs.class_finished_7d", "sweep")] == 1
    first = fake.run_queries[-1]
    assert "createdAt" in first["filters"] and "$or" not in first["filters"]
    # 15 minutes later: r4 finished, r5 started; only changes are asked for
    later = NOW + timedelta(minutes=15)
    for run in fake.runs[("ml-org", "trainer")]:
        if run["id"] == "r4":
            run.update(state="finished", heartbeatAt=(later - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S"))
    fake.add("ml-org", "trainer", "r5", "github.sky.main.103", "running",
             (later - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S"), later.strftime("%Y-%m-%dT%H:%M:%S"))
    got = collect(p, later)
    assert "$or" in fake.run_queries[-1]["filters"]
    assert got[("wandb.runs.total_7d", None)] == 5 and got[("wandb.runs.completed_7d", None)] == 3
    assert got[("wandb.runs.active", None)] == 1  # r5 running, r4 finished
    # six days later r1..r3 fall out of the window
    got = collect(p, NOW + timedelta(days=6, hours=23))
    assert got[("wandb.runs.total_7d", None)] == 2


def test_a_failing_api_raises_and_emits_nothing(fake):
    p = poller(fake)
    fake.fail("/graphql", *[(500, {}, 0)] * 30)
    with pytest.raises(Exception):
        p.collect(NOW)
