"""A tagged level whose key vanishes reads 0 after a clean cycle; unknown stays absent."""
from __future__ import annotations

from orgpulse import metrics as m
from pollers.loop import Collector, Poller
from pollers.series import VanishedSeries, is_level
from pollers.values import ValueStore
from tests.test_poller import emitter, lines  # noqa: F401 - the fixture


def test_levels_are_tagged_counts_and_sums_not_statistics_or_withheld_values():
    assert is_level("skypilot.resources.gpus") and is_level("ec2.instances.running")
    assert not is_level("github.prs.cycle_time_hours")          # a statistic
    assert not is_level("health.ci.fom")                         # a score
    assert not is_level("ec2.cost.running_hourly_estimate")      # withheld when unpriced
    assert not is_level("no.such.metric")


def test_a_vanished_key_is_zero_once_after_a_clean_cycle_and_kept_through_a_failed_one():
    series = VanishedSeries()
    h100 = m.gauge("skypilot.resources.gpus", 8, accelerator="h100")
    l4 = m.gauge("skypilot.resources.gpus", 2, accelerator="l4")
    assert series.fill("sky", [h100, l4], clean=True) == []
    assert series.fill("sky", [l4], clean=False) == []           # failed: absent is unknown
    zero = series.fill("sky", [l4], clean=True)                  # measured: h100 truly gone
    assert zero == [m.gauge("skypilot.resources.gpus", 0, accelerator="h100")]
    assert series.fill("sky", [l4], clean=True) == []            # once, not forever
    assert series.fill("other", [], clean=True) == []            # scopes are apart


def test_the_loop_fills_vanished_levels_only_for_a_collector_that_succeeded(emitter, statsd):
    cycles = iter([
        [m.gauge("ec2.instances.running", 3, region="us-east-1"),
         m.gauge("ec2.instances.running", 2, region="eu-west-1"),
         m.gauge("ec2.cost.running_hourly_estimate", 1.5, region="eu-west-1")],
        [m.gauge("ec2.instances.running", 3, region="us-east-1"),
         m.count("orgpulse.collector.errors", collector="ec2", reason="api", region="eu-west-1")],
        [m.gauge("ec2.instances.running", 3, region="us-east-1")],
    ])
    poller = Poller({"ec2": Collector("ec2", lambda now: next(cycles))}, emitter, ValueStore())
    poller.run_once()
    poller.run_once()
    failed = [x for x in lines(emitter, statsd) if x.name == "ec2.instances.running"]
    assert sorted(x.value for x in failed) == [2, 3, 3]           # no zero while eu-west-1 failed
    statsd.clear()
    poller.run_once()
    got = {(x.name, x.tag_map["region"]): x.value for x in lines(emitter, statsd)
           if x.name.startswith("ec2.")}
    assert got == {("ec2.instances.running", "us-east-1"): 3,
                   ("ec2.instances.running", "eu-west-1"): 0}     # the withheld cost stays absent
