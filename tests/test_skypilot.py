"""SkyPilot through a fake API server speaking the request-id protocol; pure job/cluster tables."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pollers.skypilot import SkyPilotApi, SkyPilotCollector, nearest_rank
from tests.dogstatsd import produced
from tests.fakes.skypilot_api import FakeSkyPilot

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
T = NOW.timestamp()
H = 3600


def job(status, submitted=-2 * H, start=None, end=None, **kw):
    return {"job_id": kw.pop("job_id", 1), "status": status, "submitted_at": T + submitted,
            "start_at": T + start if start is not None else None,
            "end_at": T + end if end is not None else None, "user_hash": kw.pop("user", "u1"),
            "accelerators": kw.pop("accelerators", None), "region": kw.pop("region", "us-east-1"),
            "cluster_resources": kw.pop("cluster_resources", "1x AWS(p5.48xlarge)"),
            "recovery_count": kw.pop("recovery_count", 0), **kw}


JOBS = [
    job("RUNNING", start=-3 * H, accelerators={"H100": 8}, recovery_count=2, user="alice"),
    job("RUNNING", start=-1 * H, accelerators={"A10G": 1}, region="eu-west-1", user="bob",
        cluster_resources="1x AWS(g5.xlarge)[Spot]"),
    job("PENDING", submitted=-600, user="carol"),
    job("RECOVERING", start=-5 * H),
    job("SUCCEEDED", start=-30 * H, end=-20 * H),
    job("FAILED_SETUP", start=-2 * H, end=-H),
    job("FAILED", submitted=-20 * 24 * H, start=-20 * 24 * H, end=-19 * 24 * H, user="old"),  # history
    job("CANCELLED", start=-H, end=-1800),
]
CLUSTERS = [
    {"name": "dev-a", "status": "UP", "nodes": 2, "resources_str": "2x AWS(p4d.24xlarge, {'A100': 8})"},
    {"name": "dev-b", "status": "STOPPED", "nodes": 1, "resources_str": "1x AWS(g5.xlarge, {'A10G': 1})"},
    {"name": "dev-c", "status": "INIT", "nodes": 1, "resources_str": "1x AWS(m5.large)"},
]


@pytest.fixture
def fake():
    server = FakeSkyPilot()
    server.jobs, server.clusters = JOBS, CLUSTERS
    yield server
    server.close()


def collect(fake, options=None):
    api = SkyPilotApi(fake.url, fake.token, timeout=5)
    out = produced(SkyPilotCollector(api, {"regions": ["us-east-1"], "gpu_prices": {"H100": 4.10, "A10G": 1.01},
                                           **(options or {})}).collect(NOW))
    return {(x.name, x.tags): x.value for x in out}


def t(**kw):
    return tuple(sorted(kw.items()))


@pytest.mark.parametrize("shape", ["dict", "list"])
def test_jobs_and_clusters(fake, shape):
    fake.queue_shape = shape
    got = collect(fake)
    assert got[("skypilot.jobs.active", t(status="running"))] == 2
    assert got[("skypilot.jobs.active", t(status="recovering"))] == 1
    assert got[("skypilot.jobs.queued", ())] == 1
    assert got[("skypilot.jobs.succeeded_7d", ())] == 1
    assert got[("skypilot.jobs.failed_7d", t(status="failed_setup"))] == 1
    assert got[("skypilot.jobs.failed_7d", t(status="failed"))] == 0  # 19 days ago: history
    assert got[("skypilot.jobs.cancelled_7d", ())] == 1
    assert got[("skypilot.users.active_7d", ())] == 4  # alice, bob, carol and u1 (not "old")
    assert got[("skypilot.jobs.runtime_seconds.max", ())] == 3 * H
    assert got[("skypilot.jobs.queue_wait_seconds.max", ())] == 600
    assert got[("skypilot.resources.gpus", t(accelerator="h100"))] == 8
    assert got[("skypilot.resources.spot_jobs", ())] == 1
    assert got[("skypilot.jobs.running_by_region", t(region="other"))] == 1  # eu-west-1 not listed
    assert got[("skypilot.cost.hourly_estimate", t(accelerator="h100"))] == pytest.approx(8 * 4.10)
    assert got[("skypilot.cost.hourly_estimate", t(accelerator="a10g"))] == pytest.approx(1.01 * 0.35)
    assert got[("skypilot.jobs.with_recoveries", ())] == 1
    assert got[("skypilot.clusters.active", ())] == 1 and got[("skypilot.clusters.stopped", ())] == 1
    assert got[("skypilot.clusters.gpus", t(accelerator="a100"))] == 16


def test_unpriced_gpus_counted_and_no_runtime_without_running_jobs(fake):
    fake.jobs = [job("RUNNING", start=-H, accelerators={"L4": 2}), job("SUCCEEDED", start=-H, end=-60)]
    got = collect(fake, {"gpu_prices": {}})
    assert got[("skypilot.cost.unpriced_gpus", t(accelerator="l4"))] == 2
    assert ("skypilot.cost.hourly_estimate", t(accelerator="l4")) not in got
    fake.jobs = [job("PENDING")]
    got = collect(fake)
    assert not [k for k in got if k[0].startswith("skypilot.jobs.runtime_seconds")]


def test_server_errors_are_retried_then_raised(fake):
    fake.fail("/jobs/queue/v2", (503, {}, 0), (502, {}, 0))
    assert collect(fake)[("skypilot.jobs.queued", ())] == 1
    assert fake.requests["/jobs/queue/v2"] == 3
    fake.fail("/jobs/queue/v2", *[(500, {}, 0)] * 5)
    with pytest.raises(Exception):
        collect(fake)


def test_wrong_token_is_not_retried(fake):
    api = SkyPilotApi(fake.url, "wrong", timeout=5)
    with pytest.raises(Exception):
        SkyPilotCollector(api, {}).collect(NOW)
    assert fake.requests["/jobs/queue/v2"] == 1


def test_cluster_failure_is_partial(fake):
    fake.fail("/status", *[(500, {}, 0)] * 5)
    got = collect(fake)
    assert ("skypilot.jobs.queued", ()) in got
    assert not [k for k in got if k[0].startswith("skypilot.clusters")]
    assert [k for k in got if k[0] == "orgpulse.collector.errors"]


@pytest.mark.parametrize("values,q,expected", [([1, 2, 3, 4], 0.5, 2), ([1, 2, 3, 4], 0.9, 4),
                                               ([5], 0.99, 5), (list(range(1, 101)), 0.9, 90)])
def test_nearest_rank(values, q, expected):
    assert nearest_rank(values, q) == expected


def test_poll_once_only_skypilot(tmp_path, statsd, fake):
    import subprocess
    import sys

    from tests.servers import ROOT, clean_env

    token = tmp_path / "token"
    token.write_text(fake.token)
    host, port = statsd.address
    env = {"SKYPILOT_API_SERVER_ENDPOINT": fake.url, "SKYPILOT_SERVICE_ACCOUNT_TOKEN_FILE": str(token),
           "DD_DOGSTATSD_URL": f"udp://{host}:{port}", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "orgpulse.cli", "poll", "--once", "--only", "skypilot"],
                            cwd=tmp_path, env=clean_env(env), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "skypilot: ok" in result.stderr and fake.token not in result.stderr
    running = statsd.metrics("skypilot.jobs.running", wait_for=1)
    assert running[0].value == 2


def test_poll_forever_stops_cleanly_on_sigterm(tmp_path, statsd, fake):
    import signal
    import subprocess
    import sys

    from tests.servers import ROOT, clean_env

    host, port = statsd.address
    config = tmp_path / "orgpulse.yaml"
    config.write_text("poller: {interval_seconds: 10}\n")
    env = {"SKYPILOT_API_SERVER_ENDPOINT": fake.url, "SKYPILOT_SERVICE_ACCOUNT_TOKEN": fake.token,
           "ORGPULSE_CONFIG": str(config), "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "orgpulse.cli", "poll"], cwd=tmp_path,
                            env=clean_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert statsd.metrics("orgpulse.collector.success", wait_for=1, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    success = [x for x in statsd.settle(0.3) if x.name == "orgpulse.collector.success"]
    assert success[0].tag_map["collector"] == "skypilot" and success[0].value == 1
