"""The poller loop: isolation, timeouts, self-metrics, scores from fresh values, leadership;
and `orgpulse poll --once` end to end against moto's server and the fake Pricing API."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import urllib.request

import pytest

from fom.scores import score_metrics
from orgpulse import metrics as m
from pollers import retry
from pollers.loop import Collector, Poller
from pollers.values import ValueStore
from tests.support.servers import ROOT, clean_env


class Clock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def lines(emitter, statsd):
    emitter.flush()
    return statsd.settle(0.2)


def test_one_failing_and_one_hanging_collector_never_stop_the_others(emitter, statsd):
    release = threading.Event()

    def good(now):
        return [m.gauge("ec2.instances.running", 4, region="us-east-1")]

    def bad(now):
        raise RuntimeError("API down")

    def hung(now):
        release.wait(10)
        return [m.gauge("ec2.instances.idle", 1, region="us-east-1")]

    collectors = {
        "good": Collector("good", good, 5),
        "bad": Collector("bad", bad, 5),
        "hung": Collector("hung", hung, 0.3),
    }
    poller = Poller(collectors, emitter, ValueStore())
    assert poller.run_once() == {"good": True, "bad": False, "hung": False}
    got = lines(emitter, statsd)
    success = {x.tag_map["collector"]: x.value for x in got if x.name == "orgpulse.collector.success"}
    assert success == {"good": 1, "bad": 0, "hung": 0}
    errors = {(x.tag_map["collector"], x.tag_map["reason"]) for x in got if x.name == "orgpulse.collector.errors"}
    assert errors == {("bad", "exception"), ("hung", "timeout")}
    assert [x.value for x in got if x.name == "ec2.instances.running"] == [4]
    assert not [x for x in got if x.name == "ec2.instances.idle"]  # nothing for what failed
    assert {x.tag_map["collector"] for x in got if x.name == "orgpulse.collector.last_success"} == {"good"}
    statsd.clear()
    assert poller.run_once("hung") == {}  # still running from the last cycle: not started again
    assert ("hung", "still_running") in {
        (x.tag_map["collector"], x.tag_map["reason"])
        for x in lines(emitter, statsd)
        if x.name == "orgpulse.collector.errors"
    }
    release.set()


def test_partial_failure_reported_by_the_collector_is_not_success(emitter, statsd):
    def partial(now):
        return [
            m.gauge("ec2.instances.running", 1, region="us-east-1"),
            m.count("orgpulse.collector.errors", collector="ec2", reason="ebs_failed", region="eu-west-1"),
        ]

    assert Poller({"ec2": Collector("ec2", partial)}, emitter, ValueStore()).run_once() == {"ec2": False}


def test_scores_come_from_fresh_values_and_disappear_when_stale(emitter, statsd):
    clock = Clock()
    values = ValueStore(clock)
    state = {"fail": False}

    def k8s(now):
        if state["fail"]:
            raise RuntimeError("gone")
        return [m.gauge("k8s.pods.high_restarts", 5, namespace="ml")]

    def score(v, now):
        return score_metrics(lambda name, agg, where: v.get(name, 1800, agg, where), {}, now)

    poller = Poller({"k8s": Collector("k8s", k8s)}, emitter, values, score, clock=clock)
    poller.run_once()
    got = {x.name: x.value for x in lines(emitter, statsd) if x.name.startswith("health.")}
    assert got == {"health.infra.pod_restarts.fom": 0.5, "health.infra.fom": 0.5, "health.overall.fom": 0.5}
    state["fail"] = True
    statsd.clear()
    clock.now += 1801  # two 15-minute cycles without a fresh value
    poller.run_once()
    assert not [x for x in lines(emitter, statsd) if x.name.startswith("health.")]


def test_only_the_leader_emits(emitter, statsd):
    class Follower:
        def is_leader(self):
            return False

    values = ValueStore()
    poller = Poller(
        {"c": Collector("c", lambda now: [m.gauge("ec2.instances.running", 2, region="r")])},
        emitter,
        values,
        elector=Follower(),
    )
    poller.run_once()
    assert lines(emitter, statsd) == []
    assert values.get("ec2.instances.running", 60) == 2  # kept warm for a takeover


class HTTPError(Exception):
    def __init__(self, code, retry_after=None):
        self.code = code
        self.headers = {"Retry-After": retry_after} if retry_after else {}


def test_retry_policy():
    waits = []
    attempts = iter([HTTPError(503), HTTPError(429, "7"), TimeoutError(), "ok"])

    def flaky():
        item = next(attempts)
        if isinstance(item, Exception):
            raise item
        return item

    assert retry.call(flaky, sleep=waits.append) == "ok"
    assert len(waits) == 3 and waits[1] == 7.0  # Retry-After honoured
    calls = []

    def forbidden():
        calls.append(1)
        raise HTTPError(403)

    with pytest.raises(HTTPError):
        retry.call(forbidden, sleep=waits.append)
    assert len(calls) == 1  # a 4xx other than 429 is not retried


def test_poll_once_end_to_end(tmp_path, statsd):
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
    import boto3
    from moto.server import ThreadedMotoServer

    from tests.fakes.aws_pricing import FakePricing

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    pricing = FakePricing({("t3.large", "US East (N. Virginia)"): 0.0832})
    try:
        host, port = server.get_host_and_port()
        moto = f"http://{host}:{port}"
        urllib.request.urlopen(urllib.request.Request(moto + "/moto-api/reset", method="POST"))  # shared state
        boto3.client(
            "ec2", region_name="us-east-1", endpoint_url=moto, aws_access_key_id="t", aws_secret_access_key="t"
        ).run_instances(ImageId="ami-12345678", InstanceType="t3.large", MinCount=2, MaxCount=2)
        config = tmp_path / "orgpulse.yaml"
        config.write_text("aws: {regions: [us-east-1]}\n")
        shost, sport = statsd.address
        env = {
            "AWS_ENDPOINT_URL": moto,
            "AWS_ENDPOINT_URL_PRICING": pricing.url,
            "AWS_ACCESS_KEY_ID": "t",
            "AWS_SECRET_ACCESS_KEY": "t",
            "ORGPULSE_CONFIG": str(config),
            "DD_DOGSTATSD_URL": f"udp://{shost}:{sport}",
        }
        result = subprocess.run(
            [sys.executable, "-m", "orgpulse.cli", "poll", "--once"],
            cwd=tmp_path,
            env=clean_env({**env, "PYTHONPATH": str(ROOT)}),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert "ec2: ok" in result.stderr
        got = {x.name: x.value for x in statsd.metrics("ec2.", wait_for=10)}
        assert got["ec2.instances.running"] == 2
        assert got["ec2.cost.running_hourly_estimate"] == pytest.approx(2 * 0.0832)
        health = statsd.metrics("health.", wait_for=3)
        names = {x.name for x in health}
        assert {"health.infra.unattached_ebs.fom", "health.overall.fom"} <= names
        assert "health.infra.idle_instances.fom" not in names  # no CPU datapoints: no score
        assert "ec2.instances.idle" not in got and got["ec2.instances.cpu_measured"] == 0
        bad = subprocess.run(
            [sys.executable, "-m", "orgpulse.cli", "poll", "--once"],
            cwd=tmp_path,
            env=clean_env({**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "PYTHONPATH": str(ROOT)}),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert bad.returncode == 1 and "ec2: FAILED" in bad.stderr
    finally:
        server.stop()
        pricing.close()
