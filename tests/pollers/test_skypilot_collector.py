"""SkyPilot through a fake API server answering as a real 0.14.1 server does; pure job/cluster tables.

Records are in the shapes 0.14 returns: job rows one per task with `accelerators` a per-node
dict and `cluster_resources` like "4x(gpus=H100:8, p5.48xlarge, ...)"; cluster rows with
`accelerators` as the dict's repr ("{'A100': 8}") and `nodes`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pollers.skypilot.api import SkyPilotApi
from pollers.skypilot.collector import SkyPilotCollector, group_jobs, nodes
from tests.support.dogstatsd import produced

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T = NOW.timestamp()
H = 3600
NO_JOBS = "No in-progress managed jobs."


def job(status, submitted=-2 * H, start=None, end=None, **kw):
    """One task row of /jobs/queue/v2 as 0.14.1 answers it for orgpulse's fields."""
    return {
        "job_id": kw.pop("job_id", 1),
        "task_id": kw.pop("task_id", 0),
        "status": status,
        "submitted_at": T + submitted,
        "start_at": T + start if start is not None else None,
        "end_at": T + end if end is not None else None,
        "user_hash": kw.pop("user", "u1"),
        "job_duration": kw.pop("job_duration", 0.0),
        "accelerators": kw.pop("accelerators", None),
        "region": kw.pop("region", "us-east-1"),
        "resources": kw.pop("resources", "1x[H100:8]"),
        "cluster_resources": kw.pop("cluster_resources", "1x(gpus=H100:8, p5.48xlarge, ...)"),
        "recovery_count": kw.pop("recovery_count", 0),
        "is_primary_in_job_group": None,
        **kw,
    }


JOBS = [
    job("RUNNING", start=-3 * H, accelerators={"H100": 8}, recovery_count=2, user="alice", job_id=1),
    job(
        "RUNNING",
        start=-1 * H,
        accelerators={"A10G": 1},
        region="eu-west-1",
        user="bob",
        job_id=2,
        cluster_resources="1x[spot](gpus=A10G:1, g5.xlarge, ...)",
    ),
    job("PENDING", submitted=-600, user="carol", job_id=3, cluster_resources="-"),
    job("RECOVERING", start=-5 * H, job_id=4),
    job("SUCCEEDED", start=-30 * H, end=-20 * H, job_id=5),
    job("FAILED_SETUP", start=-2 * H, end=-H, job_id=6),
    job("FAILED", submitted=-20 * 24 * H, start=-20 * 24 * H, end=-19 * 24 * H, user="old", job_id=7),  # history
    job("CANCELLED", start=-H, end=-1800, job_id=8),
]
CLUSTERS = [
    {
        "name": "dev-a",
        "status": "UP",
        "nodes": 2,
        "accelerators": "{'A100': 8}",
        "resources_str": "2x(gpus=A100:8, p4d.24xlarge, ...)",
        "cloud": "AWS",
        "region": "us-east-1",
    },
    {
        "name": "dev-b",
        "status": "STOPPED",
        "nodes": 1,
        "accelerators": "{'A10G': 1}",
        "resources_str": "1x(gpus=A10G:1, g5.xlarge, ...)",
        "cloud": "AWS",
        "region": "us-east-1",
    },
    {
        "name": "dev-c",
        "status": "INIT",
        "nodes": 1,
        "accelerators": "None",
        "resources_str": "1x(cpus=2, mem=8, m5.large, ...)",
        "cloud": "AWS",
        "region": "us-east-1",
    },
]
PRICES = {"regions": ["us-east-1"], "gpu_prices": {"H100": 4.10, "A10G": 1.01}}


@pytest.fixture
def fake(fake_skypilot):
    """The shared fake SkyPilot server, answering this module's jobs and clusters."""
    fake_skypilot.jobs, fake_skypilot.clusters = JOBS, CLUSTERS
    return fake_skypilot


def api(fake, token=None):
    return SkyPilotApi(fake.url, token or fake.token, timeout=5, sleep=lambda s: None)


def as_dict(out):
    return {(x.name, x.tags): x.value for x in produced(out)}


def collect(fake, options=None, now=NOW, collector=None):
    collector = collector or SkyPilotCollector(api(fake), {**PRICES, **(options or {})})
    return as_dict(collector.collect(now))


def t(**kw):
    return tuple(sorted(kw.items()))


def errors(got):
    return sorted(dict(k[1])["reason"] for k in got if k[0] == "orgpulse.collector.errors")


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
    assert got[("skypilot.jobs.runtime_seconds.min", ())] == H
    assert got[("skypilot.jobs.runtime_buckets.1_4h", ())] == 2 and got[("skypilot.jobs.runtime_buckets.0_1h", ())] == 0
    assert (
        got[("skypilot.jobs.runtime_buckets.4_24h", ())] == 0
        and got[("skypilot.jobs.runtime_buckets.over_24h", ())] == 0
    )
    assert got[("skypilot.jobs.recovery_count.avg", ())] == 1  # 2 and 0
    assert got[("skypilot.jobs.queue_wait_seconds.max", ())] == 600
    assert got[("skypilot.resources.gpus", t(accelerator="h100"))] == 8
    assert got[("skypilot.resources.spot_jobs", ())] == 1
    assert got[("skypilot.jobs.running_by_region", t(region="other"))] == 1  # eu-west-1 not listed
    assert got[("skypilot.cost.hourly_estimate", t(accelerator="h100"))] == pytest.approx(8 * 4.10)
    assert got[("skypilot.cost.hourly_estimate", t(accelerator="a10g"))] == pytest.approx(1.01 * 0.35)
    assert got[("skypilot.jobs.with_recoveries", ())] == 1
    assert got[("skypilot.clusters.active", ())] == 1 and got[("skypilot.clusters.stopped", ())] == 1
    assert got[("skypilot.clusters.gpus", t(accelerator="a100"))] == 16  # 2 nodes x 8, from `accelerators`
    assert errors(got) == []


def test_gpus_multiply_by_node_count(fake):
    # `accelerators` is per node; a 4-node job with 8xH100 each holds 32.
    fake.jobs = [
        job("RUNNING", start=-H, accelerators={"H100": 8}, cluster_resources="4x(gpus=H100:8, p5.48xlarge, ...)")
    ]
    got = collect(fake)
    assert got[("skypilot.resources.gpus", t(accelerator="h100"))] == 32
    assert got[("skypilot.cost.hourly_estimate", t(accelerator="h100"))] == pytest.approx(131.2)


def test_a_pipeline_is_one_job(fake):
    # Three tasks of one job, the first running, two waiting their turn.
    fake.jobs = [
        job("RUNNING", start=-H, accelerators={"H100": 8}, task_id=0, job_duration=float(H)),
        job("PENDING", task_id=1, cluster_resources="-"),
        job("PENDING", task_id=2, cluster_resources="-"),
    ]
    got = collect(fake)
    assert got[("skypilot.jobs.running", ())] == 1
    assert got[("skypilot.jobs.queued", ())] == 0
    assert got[("skypilot.jobs.active", t(status="pending"))] == 0
    assert ("skypilot.jobs.queue_wait_seconds.max", ()) not in got  # no job is waiting
    assert got[("skypilot.jobs.runtime_seconds.max", ())] == H


def test_grouped_job_status_and_timestamps_follow_skypilots_table():
    done = [job("SUCCEEDED", start=-3 * H, end=-2 * H, task_id=0), job("PENDING", task_id=1)]
    (between,) = group_jobs(done)  # between tasks: waiting since the first one ended
    assert between["status"] == "PENDING" and between["waiting_since"] == T - 2 * H
    failed = [
        job("SUCCEEDED", start=-3 * H, end=-2 * H, task_id=0),
        job("FAILED", start=-2 * H, end=-H, task_id=1),
        job("CANCELLED", end=-H + 5, task_id=2),
    ]
    (one,) = group_jobs(failed)
    assert one["status"] == "FAILED" and one["end_at"] == T - H + 5 and one["start_at"] == T - 3 * H


def test_node_count_parsing():
    assert nodes("4x(gpus=H100:8, p5.48xlarge, ...)") == 4
    assert nodes("2x[spot](gpus=A100:8, p4d.24xlarge, ...)") == 2
    assert nodes("1x AWS(m5.large)") == 1 and nodes("-") == 1 and nodes(None) == 1


def test_controller_down_is_no_active_jobs_and_no_invented_history(fake):
    # What a real server answers while the jobs controller is stopped.
    fake.fail_request("/jobs/queue/v2", "ClusterNotUpError", NO_JOBS)
    got = collect(fake)
    assert fake.requests["/jobs/queue/v2"] == 1  # a final answer: not retried
    assert got[("skypilot.jobs.running", ())] == 0 and got[("skypilot.jobs.queued", ())] == 0
    assert got[("skypilot.jobs.active", t(status="pending"))] == 0
    assert got[("skypilot.resources.spot_jobs", ())] == 0
    assert not [k for k in got if k[0].endswith("_7d")]  # nothing remembered: unknown, not 0
    assert got[("skypilot.clusters.active", ())] == 1  # clusters still collected
    assert errors(got) == []


def test_history_slides_from_memory_while_the_controller_is_down(fake):
    collector = SkyPilotCollector(api(fake), PRICES)
    first = collect(fake, collector=collector)
    assert first[("skypilot.jobs.failed_7d", t(status="failed_setup"))] == 1
    fake.fail_request("/jobs/queue/v2", "ClusterNotUpError", NO_JOBS, times=2)
    later = collect(fake, collector=collector, now=NOW + timedelta(hours=1))
    assert later[("skypilot.jobs.failed_7d", t(status="failed_setup"))] == 1
    assert later[("skypilot.jobs.succeeded_7d", ())] == 1 and later[("skypilot.jobs.running", ())] == 0
    week_on = collect(fake, collector=collector, now=NOW + timedelta(days=7))
    assert week_on[("skypilot.jobs.failed_7d", t(status="failed_setup"))] == 0  # slid out
    assert week_on[("skypilot.jobs.cancelled_7d", ())] == 0


def test_a_failed_request_is_final_decoded_and_counted(fake):
    fake.fail_request("/jobs/queue/v2", "RuntimeError", "Failed to get managed jobs")
    fake.fail_request("/status", "ClusterNotUpError", "Failed to connect to jobs controller, please try again later.")
    got = collect(fake)
    assert fake.requests["/jobs/queue/v2"] == 1 and fake.requests["/api/get"] == 2  # no retry
    assert not [k for k in got if k[0].startswith("skypilot.")]
    assert errors(got) == ["cluster_not_up_error", "runtime_error"]


def test_an_unreachable_controller_is_an_error_not_zero(fake):
    fake.fail_request(
        "/jobs/queue/v2", "ClusterNotUpError", "Failed to connect to jobs controller, please try again later."
    )
    got = collect(fake)
    assert not [k for k in got if k[0].startswith("skypilot.jobs")]
    assert errors(got) == ["cluster_not_up_error"] and got[("skypilot.clusters.active", ())] == 1


def test_transport_errors_are_retried(fake):
    fake.fail("/jobs/queue/v2", (503, {}, 0), (502, {}, 0))
    fake.fail("/api/get", (500, {}, 0))  # a 500 without a request record: transient
    assert collect(fake)[("skypilot.jobs.queued", ())] == 1
    assert fake.requests["/jobs/queue/v2"] == 3
    fake.fail("/jobs/queue/v2", *[(500, {}, 0)] * 5)
    got = collect(fake)
    assert errors(got) == ["http_500"] and got[("skypilot.clusters.active", ())] == 1


def test_wrong_token_is_not_retried(fake):
    got = collect(fake, collector=SkyPilotCollector(api(fake, token="wrong"), {}))
    assert fake.requests["/jobs/queue/v2"] == 1 and fake.requests["/status"] == 1
    assert errors(got) == ["http_401"] and not [k for k in got if k[0].startswith("skypilot.")]


def test_version_headers_and_health_once_per_process(fake):
    collector = SkyPilotCollector(api(fake), PRICES)
    collect(fake, collector=collector)
    collect(fake, collector=collector)
    assert fake.requests["/api/health"] == 1
    for req in fake.log:
        assert req.headers["x-skypilot-api-version"] == "62" and req.headers["x-skypilot-version"] == "0.14.1"


def test_a_server_outside_the_tested_versions_is_counted_once(fake):
    fake.api_version, fake.version = "70", "0.15.0"
    collector = SkyPilotCollector(api(fake), PRICES)
    assert errors(collect(fake, collector=collector)) == ["untested_api_version"]
    got = collect(fake, collector=collector)
    assert errors(got) == [] and got[("skypilot.jobs.running", ())] == 2


def test_unpriced_gpus_counted_and_no_runtime_without_running_jobs(fake):
    fake.jobs = [
        job("RUNNING", start=-H, accelerators={"L4": 2}, job_id=1),
        job("SUCCEEDED", start=-H, end=-60, job_id=2),
    ]
    got = collect(fake, {"gpu_prices": {}})
    assert got[("skypilot.cost.unpriced_gpus", t(accelerator="l4"))] == 2
    assert ("skypilot.cost.hourly_estimate", t(accelerator="l4")) not in got
    fake.jobs = [job("PENDING")]
    got = collect(fake)
    assert not [k for k in got if k[0].startswith("skypilot.jobs.runtime_seconds")]


def test_poll_once_only_skypilot(tmp_path, statsd, fake):
    import subprocess
    import sys

    from tests.support.servers import ROOT, clean_env

    token = tmp_path / "token"
    token.write_text(fake.token)
    host, port = statsd.address
    env = {
        "SKYPILOT_API_SERVER_ENDPOINT": fake.url,
        "SKYPILOT_SERVICE_ACCOUNT_TOKEN_FILE": str(token),
        "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "orgpulse.cli", "poll", "--once", "--only", "skypilot"],
        cwd=tmp_path,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "skypilot: ok" in result.stderr and fake.token not in result.stderr
    running = statsd.metrics("skypilot.jobs.running", wait_for=1)
    assert running[0].value == 2


def test_poll_forever_stops_cleanly_on_sigterm(tmp_path, statsd, fake):
    import signal
    import subprocess
    import sys

    from tests.support.servers import ROOT, clean_env

    host, port = statsd.address
    config = tmp_path / "orgpulse.yaml"
    config.write_text("poller: {interval_seconds: 10}\n")
    env = {
        "SKYPILOT_API_SERVER_ENDPOINT": fake.url,
        "SKYPILOT_SERVICE_ACCOUNT_TOKEN": fake.token,
        "ORGPULSE_CONFIG": str(config),
        "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "orgpulse.cli", "poll"],
        cwd=tmp_path,
        env=clean_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert statsd.metrics("orgpulse.collector.success", wait_for=1, timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    success = [x for x in statsd.settle(0.3) if x.name == "orgpulse.collector.success"]
    assert success[0].tag_map["collector"] == "skypilot" and success[0].value == 1
