"""The emitter: the catalog contract, the DogStatsD wire format, sinks that never raise."""

from __future__ import annotations

import io

import pytest

from orgpulse import metrics as m
from orgpulse.emit import DogStatsdSink, Emitter, InvalidMetric, LogSink, datagram


def test_strict_emitter_raises_on_undeclared_name_tag_or_type(make_settings, statsd):
    host, port = statsd.address
    emitter = Emitter(DogStatsdSink(make_settings({"DD_DOGSTATSD_URL": f"udp://{host}:{port}"})), strict=True)
    with pytest.raises(InvalidMetric, match="not_in_catalog"):
        emitter.emit([m.count("github.prs.openned", repo="a/b")])
    with pytest.raises(InvalidMetric, match="undeclared_tag"):
        emitter.emit([m.count("github.prs.opened", pr_number=42)])
    with pytest.raises(InvalidMetric, match="wrong_type"):
        emitter.emit([m.gauge("github.prs.opened", 1)])


def test_production_emitter_drops_and_counts_bad_metrics(make_settings, statsd):
    host, port = statsd.address
    emitter = Emitter(DogStatsdSink(make_settings({"DD_DOGSTATSD_URL": f"udp://{host}:{port}"})))
    sent = emitter.emit([m.count("github.prs.opened", repo="a/b"), m.count("nope.metric", x=1)])
    assert [x.name for x in sent] == ["github.prs.opened"]
    lines = {x.name: x for x in statsd.metrics(wait_for=2)}
    assert set(lines) == {"github.prs.opened", "orgpulse.metrics.invalid"}
    assert lines["orgpulse.metrics.invalid"].tag_map["reason"] == "not_in_catalog"


def test_buffered_metrics_share_a_datagram_and_keep_wire_types(make_settings, statsd):
    host, port = statsd.address
    emitter = Emitter(DogStatsdSink(make_settings({"DD_DOGSTATSD_URL": f"udp://{host}:{port}"})))
    emitter.emit(
        [
            m.count("github.prs.merged", repo="a/b"),
            m.distribution("github.prs.time_to_merge", 93.5, repo="a/b"),
            m.gauge("github.ci.tests_passing_on_main", 1, repo="a/b", workflow="t"),
        ]
    )
    lines = statsd.metrics(wait_for=3)
    assert [(x.name, x.type, x.value) for x in lines] == [
        ("github.prs.merged", "count", 1.0),
        ("github.prs.time_to_merge", "distribution", 93.5),
        ("github.ci.tests_passing_on_main", "gauge", 1.0),
    ]
    assert statsd.datagrams == 1


def test_unresolvable_agent_host_does_not_raise(make_settings):
    settings = make_settings({"DD_AGENT_HOST": "agent.invalid"})
    sent = Emitter(DogStatsdSink(settings)).emit([m.count("github.prs.merged", repo="a/b")])
    assert [x.name for x in sent] == ["github.prs.merged"]


def test_log_sink_writes_dogstatsd_lines(make_settings):
    stream = io.StringIO()
    settings = make_settings({"DD_VERSION": "9"})
    Emitter(LogSink(settings, stream)).emit([m.distribution("github.ci.queue_time", 1.5, repo="a/b", workflow="ci")])
    assert stream.getvalue() == (
        "github.ci.queue_time:1.5|d|#env:test,service:orgpulse,version:9,repo:a/b,workflow:ci\n"
    )


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("Octo-Org/Hello World", "octo-org/hello_world"),
        ("a|b,c#d", "a_b_c_d"),
        ("", "none"),
        ("x" * 300, "x" * 100),
        (True, "true"),
    ],
)
def test_tag_values_are_safe(raw, expected):
    assert m.tag_value(raw) == expected


def test_datagram_formats_integers_without_decimals():
    assert datagram(m.count("github.push.commits", 3, repo="r")) == "github.push.commits:3|c|#repo:r"
