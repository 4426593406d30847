"""A tagged level whose key vanishes reads 0 after a clean cycle; unknown stays absent."""

from __future__ import annotations

import pytest

from orgpulse import metrics as m
from pollers.loop import Collector, Poller
from pollers.series import VanishedSeries, is_level
from pollers.skypilot.collector import SkyPilotCollector
from pollers.values import ValueStore
from tests.pollers.test_loop import lines
from tests.pollers.test_skypilot_collector import PRICES, H, T, api, job


def test_levels_are_tagged_counts_and_sums_not_statistics_or_withheld_values():
    assert is_level("skypilot.resources.gpus") and is_level("ec2.instances.running")
    assert not is_level("github.prs.cycle_time_hours")  # a statistic
    assert not is_level("health.ci.fom")  # a score
    assert not is_level("ec2.cost.running_hourly_estimate")  # withheld when unpriced
    assert is_level("skypilot.cost.hourly_estimate")  # priced from config: never withheld
    assert not is_level("no.such.metric")


def test_a_vanished_key_is_zero_once_after_a_clean_cycle_and_kept_through_a_failed_one():
    series = VanishedSeries()
    h100 = m.gauge("skypilot.resources.gpus", 8, accelerator="h100")
    l4 = m.gauge("skypilot.resources.gpus", 2, accelerator="l4")
    assert series.fill("sky", [h100, l4], clean=True) == []
    assert series.fill("sky", [l4], clean=False) == []  # failed: absent is unknown
    zero = series.fill("sky", [l4], clean=True)  # measured: h100 truly gone
    assert zero == [m.gauge("skypilot.resources.gpus", 0, accelerator="h100")]
    assert series.fill("sky", [l4], clean=True) == []  # once, not forever
    assert series.fill("other", [], clean=True) == []  # scopes are apart


def test_the_loop_fills_vanished_levels_only_for_a_collector_that_succeeded(emitter, statsd):
    cycles = iter(
        [
            [
                m.gauge("ec2.instances.running", 3, region="us-east-1"),
                m.gauge("ec2.instances.running", 2, region="eu-west-1"),
                m.gauge("ec2.cost.running_hourly_estimate", 1.5, region="eu-west-1"),
            ],
            [
                m.gauge("ec2.instances.running", 3, region="us-east-1"),
                m.count("orgpulse.collector.errors", collector="ec2", reason="api", region="eu-west-1"),
            ],
            [m.gauge("ec2.instances.running", 3, region="us-east-1")],
        ]
    )
    poller = Poller({"ec2": Collector("ec2", lambda now: next(cycles))}, emitter, ValueStore())
    poller.run_once()
    poller.run_once()
    failed = [x for x in lines(emitter, statsd) if x.name == "ec2.instances.running"]
    assert sorted(x.value for x in failed) == [2, 3, 3]  # no zero while eu-west-1 failed
    statsd.clear()
    poller.run_once()
    got = {(x.name, x.tag_map["region"]): x.value for x in lines(emitter, statsd) if x.name.startswith("ec2.")}
    assert got == {
        ("ec2.instances.running", "us-east-1"): 3,
        ("ec2.instances.running", "eu-west-1"): 0,
    }  # the withheld cost stays absent


def test_a_region_failing_every_cycle_holds_back_only_its_own_series():
    # Once, one error anywhere in a collector used to hold back every zero, so a
    # region down for good (or CloudWatch refused there) kept a vanished GPU type elsewhere stale.
    series = VanishedSeries()
    a100 = m.gauge("ec2.instances.gpu_count", 16, accelerator="a100", region="us-east-1")
    a10g = m.gauge("ec2.instances.gpu_count", 1, accelerator="a10g", region="us-west-2")
    west_down = m.count("orgpulse.collector.errors", collector="ec2", reason="cloudwatch_failed", region="us-west-2")
    assert series.fill("ec2", [a100, a10g, west_down], clean=True) == []
    zero = series.fill("ec2", [a10g, west_down], clean=True)  # the a100s were terminated
    assert zero == [m.gauge("ec2.instances.gpu_count", 0, accelerator="a100", region="us-east-1")]
    assert series.fill("ec2", [west_down], clean=True) == []  # us-west-2's own: unknown
    assert series.fill("ec2", [west_down], clean=True) == []  # ... for as long as it fails
    assert series.fill("ec2", [], clean=True) == [  # measured again: truly gone
        m.gauge("ec2.instances.gpu_count", 0, accelerator="a10g", region="us-west-2")
    ]


def test_an_error_without_a_region_holds_back_the_whole_collector():
    series = VanishedSeries()
    east = m.gauge("ec2.instances.running", 3, region="us-east-1")
    west = m.gauge("ec2.instances.running", 2, region="us-west-2")
    anywhere = m.count("orgpulse.collector.errors", collector="ec2", reason="cost_explorer_failed")
    assert series.fill("ec2", [east, west], clean=True) == []
    assert series.fill("ec2", [anywhere], clean=True) == []
    assert series.fill("ec2", [west], clean=True) == [m.gauge("ec2.instances.running", 0, region="us-east-1")]


def test_the_loop_fills_a_healthy_region_while_another_fails_every_cycle(emitter, statsd):
    west_down = m.count("orgpulse.collector.errors", collector="ec2", reason="cloudwatch_failed", region="us-west-2")
    cycles = iter(
        [
            [
                m.gauge("ec2.instances.gpu_count", 16, accelerator="a100", region="us-east-1"),
                m.gauge("ec2.instances.gpu_count", 1, accelerator="a10g", region="us-west-2"),
                west_down,
            ],
            [m.gauge("ec2.instances.gpu_count", 1, accelerator="a10g", region="us-west-2"), west_down],
        ]
    )
    poller = Poller({"ec2": Collector("ec2", lambda now: next(cycles))}, emitter, ValueStore())
    assert poller.run_once() == {"ec2": False}  # still reported partial: the error counts
    statsd.clear()
    poller.run_once()
    got = {
        (x.tag_map["accelerator"], x.tag_map["region"]): x.value
        for x in lines(emitter, statsd)
        if x.name == "ec2.instances.gpu_count"
    }
    assert got == {("a100", "us-east-1"): 0, ("a10g", "us-west-2"): 1}


def test_the_cost_of_an_ended_job_goes_to_zero_once(emitter, statsd, fake_skypilot):
    # Once, skypilot.cost.hourly_estimate was withheld from filling, so the
    # $131.2/h of a finished 4-node 8xH100 job stayed on "last value" widgets for good.
    running = job("RUNNING", start=-H, accelerators={"H100": 8}, cluster_resources="4x(gpus=H100:8, p5.48xlarge, ...)")
    ended = {**running, "status": "SUCCEEDED", "end_at": T - 60}
    sky = SkyPilotCollector(api(fake_skypilot), PRICES)
    poller = Poller({"skypilot": Collector("skypilot", sky.collect)}, emitter, ValueStore(), clock=lambda: T)

    def h100(cycle_jobs):
        fake_skypilot.jobs = cycle_jobs
        statsd.clear()
        assert poller.run_once() == {"skypilot": True}
        return {x.name: x.value for x in lines(emitter, statsd) if x.tag_map.get("accelerator") == "h100"}

    assert h100([running]) == {"skypilot.resources.gpus": 32, "skypilot.cost.hourly_estimate": pytest.approx(131.2)}
    assert h100([ended]) == {"skypilot.resources.gpus": 0, "skypilot.cost.hourly_estimate": 0}
    assert h100([ended]) == {}  # once, not forever
