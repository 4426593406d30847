"""The DORA collector's failure paths, its registration (shared GitHub budget, Asana incidents)
and `orgpulse poll --once --only dora`, against the fake GitHub and Asana APIs."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from pollers import registry
from tests.fakes.asana_api import FakeAsana
from tests.pollers.test_dora_scenario import OPTIONS, collector, got, truth
from tests.support.dogstatsd import produced
from tests.support.dora_history import History

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def small(fake_dora_github, repo: str = "org/app", seed: int = 5, days: int = 4) -> History:
    h = History(fake_dora_github, repo, seed=seed)
    h.walk(NOW - timedelta(days=days), NOW - timedelta(hours=1))
    return h


def test_a_failing_repository_is_counted_sends_nothing_and_recovers(fake_dora_github, tmp_path):
    app, other = small(fake_dora_github), small(fake_dora_github, "org/web", seed=6)
    c = collector(fake_dora_github, tmp_path, repos=("org/app", "org/web"))
    fake_dora_github.fail("/repos/org/app/compare", (500, {}, 0))
    out = produced(c.collect(NOW))
    assert [(x.tag("collector"), x.tag("reason")) for x in out if x.name == "orgpulse.collector.errors"] == [
        ("dora", "fetch_failed")
    ]
    assert {x.tag("repo") for x in out if x.name.startswith("dora.")} == {"org/web"}  # nothing for org/app
    assert got(c.collect(NOW + timedelta(minutes=15)), "org/app") == truth(
        app.state, "org/app", NOW + timedelta(minutes=15)
    )
    assert got(c.collect(NOW + timedelta(minutes=30)), "org/web") == truth(
        other.state, "org/web", NOW + timedelta(minutes=30)
    )


def test_an_exhausted_budget_fails_the_cycle_without_zeros(fake_dora_github, tmp_path):
    small(fake_dora_github)
    c = collector(fake_dora_github, tmp_path, repos=("org/app",))
    assert not errors(c.collect(NOW))  # backfilled: from now on a spent budget is a failure
    c.api.budget.share = 0.001  # five requests an hour
    with pytest.raises(RuntimeError):
        c.collect(NOW + timedelta(minutes=15))  # every repository failed: the poller counts it failed
    fake_dora_github.remaining = 0
    c.api.budget.share = 1.0
    with pytest.raises(RuntimeError):
        c.collect(NOW + timedelta(minutes=30))


def errors(out) -> list[str]:
    return [x.tag("reason") for x in out if x.name == "orgpulse.collector.errors"]


def pending(out) -> float:
    (gauge,) = [x for x in produced(out) if x.name == "orgpulse.collector.backfill_pending"]
    assert gauge.tag("collector") == "dora"
    return gauge.value


def test_a_backfill_with_no_progress_is_pending_until_it_has_stalled_for_n_cycles(fake_dora_github, tmp_path):
    from pollers.github.backfill import Backfill

    small(fake_dora_github)
    c = collector(fake_dora_github, tmp_path, repos=("org/app",), backfill=Backfill("dora", 3))
    c.api.budget.share = 0  # the poller's share spent before the first request
    outcomes = [c.collect(NOW + timedelta(minutes=15 * i)) for i in range(4)]
    assert [errors(o) for o in outcomes] == [[], [], ["backfill_stalled"], ["backfill_stalled"]]
    assert all(pending(o) == 1 and not [x for x in o if x.name.startswith("dora.")] for o in outcomes)
    c.api.budget.share = 1.0  # budget again: the backfill completes
    done = c.collect(NOW + timedelta(hours=1))
    assert errors(done) == [] and pending(done) == 0 and got(done, "org/app")


def test_a_sha_the_compare_api_cannot_find_leaves_that_lead_time_unknown(fake_dora_github, tmp_path):
    app = small(fake_dora_github)
    app.deploy(NOW - timedelta(minutes=50), "f" * 40)  # force-pushed away: compare says 404
    app.deploy(NOW - timedelta(minutes=40), app.head())  # and from it to the head: 404 too
    out = collector(fake_dora_github, tmp_path, repos=("org/app",)).collect(NOW)
    measured = got(out, "org/app")
    assert measured["dora.deployments_7d"] == truth(app.state, "org/app", NOW)["dora.deployments_7d"]
    assert not [x for x in out if x.name == "orgpulse.collector.errors"]


def test_registry_shares_the_budget_and_adds_asana_incidents(fake_dora_github, tmp_path, make_settings):
    small(fake_dora_github, days=1)
    asana = FakeAsana()
    try:
        t = lambda hours: (NOW + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # noqa: E731
        member = [{"project": {"gid": "inc"}, "section": {"name": "Open"}}]
        asana.tasks.update(
            {
                "i1": {
                    "gid": "i1",
                    "created_at": t(-30),
                    "completed": True,
                    "completed_at": t(-28),
                    "memberships": member,
                },
                "i2": {
                    "gid": "i2",
                    "created_at": t(-10),
                    "completed": True,
                    "completed_at": t(-9.5),
                    "memberships": member,
                },
                "i3": {
                    "gid": "i3",
                    "created_at": t(-3),
                    "completed": False,
                    "completed_at": None,
                    "memberships": member,
                },
            }
        )
        settings = make_settings(
            {
                "GITHUB_TOKEN": fake_dora_github.token,
                "GITHUB_API_URL": fake_dora_github.url,
                "ASANA_ACCESS_TOKEN": asana.token,
                "ASANA_BASE_URL": asana.base_url,
            },
            {
                "github": {"repositories": ["org/app"], "request_interval_seconds": 0},
                "asana": {"workspace": "1"},
                "dora": {"incidents_project": "inc"},
            },
        )
        collectors = registry.build(settings)
        dora, github = collectors["dora"].collect.__self__, collectors["github"].collect.__self__
        assert dora.api.budget is github.http.budget and dora.api.points is github.http.points
        # the backfill stops in time (3/4 of the collector's timeout) and stalls after 4 cycles
        for c in (dora, github):
            assert (c.deadline.seconds, c.backfill.stall_cycles, c.backfill.collector) == (
                0.75 * 120,
                4,
                "dora" if c is dora else "github",
            )
        out = produced(dora.collect(NOW))
    finally:
        asana.close()
    org = {x.name: x.value for x in out if x.tag("source") == "asana"}
    assert all(x.tag("repo") is None for x in out if x.tag("source") == "asana")  # organisation-wide
    assert org == {
        "dora.incidents.open": 1,
        "dora.time_to_restore_p50_hours": 0.5,
        "dora.time_to_restore_p90_hours": 2,
        "dora.time_to_restore_p50_hours_30d": 0.5,
        "dora.time_to_restore_p90_hours_30d": 2,
    }
    assert (settings.data_dir / "dora-marks.json").is_file()


def test_poll_once_only_dora(fake_dora_github, tmp_path, statsd):
    from tests.support.servers import ROOT, clean_env

    small(fake_dora_github, days=1)
    config = tmp_path / "orgpulse.yaml"
    config.write_text(
        "github: {repositories: [org/app], request_interval_seconds: 0}\ndora: {failure_window_hours: 12}\n"
    )
    host, port = statsd.address
    env = {
        "GITHUB_TOKEN": fake_dora_github.token,
        "GITHUB_API_URL": fake_dora_github.url,
        "ORGPULSE_CONFIG": str(config),
        "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "orgpulse.cli", "poll", "--once", "--only", "dora"],
        cwd=tmp_path,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "dora: ok" in result.stderr and fake_dora_github.token not in result.stderr
    assert statsd.metrics("dora.deployments_30d", wait_for=1)[0].tag_map["repo"] == "org/app"
    assert (tmp_path / ".orgpulse" / "dora-marks.json").is_file()


def test_the_options_default_as_documented():
    assert OPTIONS["failure_signals"] == ["deployment_failure", "rollback", "revert", "hotfix", "incident"]
    assert (OPTIONS["production"], OPTIONS["failure_window_hours"], OPTIONS["incident_label"]) == (
        "^prod(uction)?$",
        24,
        "incident",
    )


def test_a_backfill_cut_short_by_the_budget_resumes_where_it_stopped(fake_dora_github, tmp_path):
    from github import Auth, Github

    from pollers.dora.collector import DoraCollector
    from pollers.dora.marks import Marks
    from pollers.github.http import GithubHttp
    from tests.pollers.test_dora_scenario import scenario

    app, _ = scenario(fake_dora_github)
    clock = [NOW.timestamp()]
    gh = Github(
        auth=Auth.Token(fake_dora_github.token),
        base_url=fake_dora_github.url,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    http = GithubHttp(gh.requester, 0.006, lambda: clock[0])  # 30 requests an hour: ~60 are needed
    c = DoraCollector(http, ["org/app"], OPTIONS, {}, Marks(tmp_path / "marks.json"))
    hours = 0
    while True:
        now = NOW + timedelta(hours=hours)
        out = c.collect(now)  # a cut-short backfill is progress: no error, the collector succeeds
        assert errors(out) == []
        if pending(out) == 0:
            break
        assert not [x for x in out if x.tag("repo") == "org/app"]  # nothing sent before it is read
        hours += 1
        clock[0] += 3601  # the next hour's share
        assert hours < 6, "the backfill never completes"
    assert hours >= 1 and got(out, "org/app") == truth(app.state, "org/app", now)
    twice = [
        path for path, n in fake_dora_github.requests.items() if n > 1 and ("/statuses" in path or "/compare/" in path)
    ]
    assert twice == []  # what a cut-short cycle read is kept: no status or compare read twice


def test_a_cancelled_deploy_run_is_no_deployment_and_not_read_again(fake_dora_github, tmp_path):
    svc = History(fake_dora_github, "org/svc", seed=8, workflow="deploy.yml")
    svc.walk(NOW - timedelta(days=3), NOW - timedelta(days=2))
    svc.deploy(NOW - timedelta(days=2), svc.head(), outcome=None)  # a cancelled run, two days ago
    c = collector(fake_dora_github, tmp_path, repos=("org/svc",))
    c.collect(NOW)
    assert not [d for d in c.states["org/svc"].deployments.values() if d.outcome is None]
    c.collect(NOW + timedelta(minutes=15))
    created = [r.query["created"][0] for r in fake_dora_github.log if r.path.endswith("/deploy.yml/runs")]
    assert created[-1] == ">=" + (NOW - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_repository_that_never_deploys_has_no_frequency_and_does_not_drag_the_fom(fake_dora_github, tmp_path):
    from fom import scores
    from pollers.values import ValueStore

    small(fake_dora_github)  # org/app deploys
    lib = History(fake_dora_github, "org/lib", seed=9)  # a library: commits and an incident, no deployment
    for hours in range(60, 0, -6):
        lib.land(NOW - timedelta(hours=hours))
    lib.incident(NOW - timedelta(hours=20), 3)
    out = produced(collector(fake_dora_github, tmp_path, repos=("org/app", "org/lib")).collect(NOW))
    names = {x.name for x in out if x.tag("repo") == "org/lib"}
    assert not names & {"dora.deployments_7d", "dora.deployments_30d", "dora.time_since_deployment_hours"}
    assert not [
        x
        for x in out
        if x.name == "dora.performance_level" and x.tag("repo") == "org/lib" and x.tag("key") == "deployment_frequency"
    ]
    assert "dora.time_to_restore_p50_hours" in names  # what it does have is still measured
    store = ValueStore()
    store.record(out)
    app_30d = next(x.value for x in out if x.name == "dora.deployments_30d")
    got = scores.evaluate(lambda name, agg, where: store.get(name, 3600, agg, where))
    assert store.get("dora.deployments_30d", 3600, "avg") == app_30d  # the mean of deploying repos
    assert (
        got[("delivery", "deployment_frequency")]
        == scores.evaluate(lambda name, agg, where: app_30d if name == "dora.deployments_30d" else None)[
            ("delivery", "deployment_frequency")
        ]
    )


def test_a_backfill_longer_than_a_cycle_stops_in_time_and_the_collector_succeeds(
    fake_dora_github, tmp_path, make_settings, statsd
):
    """Through the real poller loop and DogStatsD: each cycle stops asking within its time budget
    (here each request the fake answers takes one second of a 15-second budget), reports the
    backfill pending with success 1 — nothing for collector_failing — and the last one measures all."""
    from orgpulse.emit import DogStatsdSink, Emitter
    from pollers.github.backfill import Deadline
    from pollers.loop import Collector, Poller
    from pollers.values import ValueStore
    from tests.pollers.test_dora_scenario import scenario

    app, _ = scenario(fake_dora_github)
    host, port = statsd.address
    emitter = Emitter(DogStatsdSink(make_settings({"DD_DOGSTATSD_URL": f"udp://{host}:{port}"})), strict=True)
    c = collector(
        fake_dora_github, tmp_path, repos=("org/app",), deadline=Deadline(15, lambda: float(len(fake_dora_github.log)))
    )
    now = NOW
    poller = Poller(
        {"dora": Collector("dora", c.collect, timeout=30)}, emitter, ValueStore(), clock=lambda: now.timestamp()
    )
    cycles = []
    while len(cycles) < 12:
        asked, _ = len(fake_dora_github.log), statsd.clear()
        assert poller.run_once() == {"dora": True}
        emitter.flush()
        lines = statsd.settle(0.1)
        cycles.append(next(x.value for x in lines if x.name == "orgpulse.collector.backfill_pending"))
        assert len(fake_dora_github.log) - asked <= 15  # stops asking once its budget is spent
        assert not [x for x in lines if x.name == "orgpulse.collector.errors"]
        assert [x.value for x in lines if x.name == "orgpulse.collector.success"] == [1]
        if cycles[-1] == 0:
            break
        assert not [x for x in lines if x.name.startswith("dora.")]  # nothing before it is all read
        now += timedelta(minutes=15)
    assert len(cycles) >= 3 and cycles[:-1] == [1] * (len(cycles) - 1) and cycles[-1] == 0
    twice = [
        path for path, n in fake_dora_github.requests.items() if n > 1 and ("/statuses" in path or "/compare/" in path)
    ]
    assert twice == []  # what a cut-short cycle read is kept
    assert got(c.collect(now), "org/app") == truth(app.state, "org/app", now)
