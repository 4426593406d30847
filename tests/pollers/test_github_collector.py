"""GitHub rolling aggregates through PyGithub's requester against the fake GitHub API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from github import Auth, Github

from fom.scores import score_metrics
from orgpulse import metrics as m
from pollers.github.collector import GithubCollector
from pollers.github.http import GithubHttp
from pollers.values import ValueStore
from tests.support.dogstatsd import produced
from tests.support.github_history import BOT, commit, generated, pull, run

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
REPO = "org/app"


class Clock:
    def __init__(self, now: float = NOW.timestamp()):
        self.now = now

    def __call__(self) -> float:
        return self.now


def collector(fake_github, repos=(REPO,), clock=None, backfill=None, deadline=None, **options):
    gh = Github(
        auth=Auth.Token(fake_github.token),
        base_url=fake_github.url,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    options = {"budget_share": 1.0, **options}
    http = GithubHttp(gh.requester, options["budget_share"], *([clock] if clock else []))
    return GithubCollector(http, list(repos), options, backfill=backfill, deadline=deadline)


def collect(c, now=NOW):
    """(name, author_type or workflow or None) → value."""
    out = produced(c.collect(now))
    return {(x.name, x.tag("author_type") or x.tag("workflow")): x.value for x in out}


def errors(metrics) -> list[str]:
    return sorted(x.tag("reason") for x in metrics if x.name == "orgpulse.collector.errors")


def hand_made(fake_github):
    s = fake_github.add_repo(REPO)
    s["pulls"] += [
        pull(1, NOW, merged_h=-10, created_h=-34, first_commit_h=-58, review_comments=3),  # 24 h to merge, cycle 48 h
        pull(2, NOW, merged_h=-20, created_h=-30, reviewers=("octocat",)),  # self-review only
        pull(3, NOW, merged_h=-24 * 9, created_h=-24 * 10),  # merged 9 days ago
        pull(4, NOW, closed_h=-5, created_h=-50),  # closed, not merged
        pull(5, NOW, state="open", created_h=-24 * 30, updated_h=-24 * 20),  # stale
        pull(6, NOW, state="open", created_h=-24 * 30, updated_h=-24 * 20, draft=True),  # draft: not stale
        pull(7, NOW, state="open", created_h=-2),
        pull(8, NOW, merged_h=-3, created_h=-4, user=BOT),  # a bot's, merged
        pull(9, NOW, state="open", created_h=-24 * 30, updated_h=-24 * 20, user=BOT),  # a bot's, stale
        pull(10, NOW, state="open", created_h=-1, user=BOT),
        pull(11, NOW, merged_h=-6, created_h=-8, reviewers=("coderabbitai[bot]",)),
    ]  # reviewed by a bot only
    s["commits"] += [
        commit("a" * 40, NOW, -1, 'Revert "Add cache"'),
        commit("b" * 40, NOW, -2, "hotfix: nil"),
        commit("c" * 40, NOW, -3, "Add", email="x@example.com"),
        commit("d" * 40, NOW, -4, "chore: deps", author=BOT),
        commit("e" * 40, NOW, -24 * 8, "old"),
    ]
    s["runs"] += [
        run(1, NOW, conclusion="failure", created_h=-30),
        run(2, NOW, conclusion="success", created_h=-3),
        run(3, NOW, name="Bench", conclusion="timed_out", created_h=-5, run_s=1200),
        run(4, NOW, conclusion="cancelled", created_h=-6),
        run(5, NOW, conclusion="success", attempt=2, created_h=-7, branch="feature"),  # re-run: flaky
        run(6, NOW, conclusion="failure", created_h=-1, branch="main", repo="fork/app"),  # a fork's main
        run(7, NOW, status="in_progress", created_h=-0.2),
        run(8, NOW, created_h=-24 * 9),
        run(9, NOW, name="Lint", conclusion="failure", created_h=-4, sha="9" * 40),
        run(10, NOW, name="Lint", conclusion="success", created_h=-3.5, sha="9" * 40),
    ]  # new run: flaky
    s["activity"] += [
        {"activity_type": "force_push", "timestamp": (NOW - timedelta(days=2)).isoformat()},
        {"activity_type": "force_push", "timestamp": (NOW - timedelta(days=12)).isoformat()},
    ]
    s["branches"] = [
        ("main", "2026-11-26T11:00:00Z"),
        ("old", "2026-10-01T00:00:00Z"),
        ("feature", "2026-11-20T00:00:00Z"),
    ]
    return s


def test_definitions(fake_github):
    hand_made(fake_github)
    got = collect(collector(fake_github))
    # counts by author_type: their sum is the seed's figure (bots included), human the human one
    assert got[("github.prs.open", "human")] == 3 and got[("github.prs.open", "bot")] == 2
    assert got[("github.prs.merged_7d", "human")] == 3 and got[("github.prs.merged_7d", "bot")] == 1
    assert got[("github.prs.closed_without_merge_7d", "human")] == 1
    assert got[("github.prs.closed_without_merge_7d", "bot")] == 0  # sent as 0, not left out
    assert got[("github.prs.stale_count_14d", "human")] == 1 and got[("github.prs.stale_count_14d", "bot")] == 1
    assert got[("github.code.lines_added_7d", "human")] == 30 and got[("github.code.lines_added_7d", "bot")] == 10
    assert got[("github.commits.total_7d", "human")] == 3 and got[("github.commits.total_7d", "bot")] == 1
    assert got[("github.commits.reverts", "human")] == 1 and got[("github.commits.hotfix", "human")] == 1
    assert got[("github.developers.active_7d", "human")] == 1  # octocat (login wins over e-mails)
    assert got[("github.developers.active_7d", "bot")] == 1
    assert ("github.prs.bot_merged_7d", None) not in got  # merged_7d{author_type:bot} says it
    # statistics: of human work only, untagged
    assert got[("github.prs.time_to_merge_p90_hours", None)] == 24
    assert got[("github.prs.cycle_time_hours", None)] == 48  # p90 of (48 h, 34 h, 26 h)
    assert got[("github.prs.review_coverage_pct", None)] == pytest.approx(100 / 3)  # a self- and a bot review
    assert got[("github.prs.avg_comments_per_pr", None)] == 3.0  # (2 + 3 review comments, 2, 2) / 3
    assert got[("github.commits.per_developer_7d", None)] == 3
    assert got[("github.commits.force_merge_7d", None)] == 1  # from the activity API
    assert got[("github.branches.active", None)] == 2
    assert got[("github.ci.workflow_runs_7d", None)] == 9
    assert got[("github.ci.failed_workflows_7d", None)] == 3
    assert got[("github.ci.timeout_cancellations_7d", None)] == 1 and got[("github.ci.cancelled_7d", None)] == 1
    assert got[("github.ci.flaky_checks_7d", None)] == 2  # a re-run attempt and a new run on the same SHA
    assert got[("github.ci.tests_passing_on_main", "tests")] == 1.0  # the fork's failing main ignored
    assert got[("github.ci.tests_passing_on_main", "lint")] == 1.0
    assert got[("github.ci.benchmarks_passing", "bench")] == 0.0
    assert ("github.ci.tests_passing_on_main", "bench") not in got  # a benchmark never turns tests red
    assert got[("github.ci.duration_p90_minutes", None)] == 20.0  # run time, queue excluded
    assert got[("github.ci.queue_time_p50_minutes", None)] == 0.5


def test_steady_state_is_incremental_and_conditional(fake_github):
    generated(fake_github, REPO, NOW, prs=300)
    c = collector(fake_github)
    before_merged = collect(c)[("github.prs.merged_7d", "human")]
    first = c.requests
    later = NOW + timedelta(minutes=15)
    collect(c, later)
    steady = c.requests - first
    assert steady <= 20, steady
    assert fake_github.not_modified >= 2  # unchanged pages answered 304: no rate limit spent
    # something changes: a PR merges and a run completes — both are picked up
    s = fake_github.repos[REPO]
    changed = later + timedelta(minutes=5)
    s["pulls"].append(pull(9999, changed, merged_h=0, created_h=-3))
    s["runs"].append(run(99999, changed, created_h=0))
    got = collect(c, later + timedelta(minutes=15))
    assert got[("github.ci.workflow_runs_7d", None)] == 7 * 20 + 1  # the window slid; the new run is in
    assert c.states[REPO].pulls[9999]["merged_at"] and 99999 in c.states[REPO].runs
    assert got[("github.prs.merged_7d", "human")] == before_merged + 1


def test_a_day_over_the_1000_cap_is_split(fake_github):
    s = fake_github.add_repo(REPO)
    for i in range(1500):  # 1,500 runs yesterday: one query would see only 1,000
        s["runs"].append(run(i + 1, NOW, created_h=-24 + (i % 23) + 0.5))
    got = collect(collector(fake_github))
    assert got[("github.ci.workflow_runs_7d", None)] == 1500


def pending(metrics) -> float:
    (gauge,) = [x for x in produced(metrics) if x.name == "orgpulse.collector.backfill_pending"]
    return gauge.value


def test_budget_exhausted_skips_and_counts_never_zeros(fake_github):
    """Once backfilled, a spent budget fails the parts it stops (a first cycle's is pending:
    test_a_first_cycle_cut_short_is_pending_while_it_progresses)."""
    hand_made(fake_github)
    c = collector(fake_github)
    assert errors(c.collect(NOW)) == [] and pending(c.collect(NOW)) == 0
    fake_github.remaining = 0  # REST spent; GraphQL's own points still answer
    out = c.collect(NOW + timedelta(minutes=15))
    # meta, pulls, commits, runs and force pushes fail (commits and runs on the last default
    # branch); what needs them (details, attempts) is skipped; branches (hourly) still emitted
    assert errors(out) == ["budget"] * 5
    assert {x.name for x in out if x.name.startswith("github.")} == {"github.branches.active"}
    gh = Github(
        auth=Auth.Token("not-the-token"),
        base_url=fake_github.url,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    with pytest.raises(RuntimeError):  # nothing measured: the poller counts the collector as failed
        GithubCollector(GithubHttp(gh.requester, 1.0), [REPO], {"budget_share": 1.0}).collect(NOW)


def test_a_first_cycle_cut_short_is_pending_while_it_progresses(fake_github):
    from pollers.github.backfill import Backfill

    hand_made(fake_github)
    c = collector(fake_github, budget_share=0.001)  # 5 requests and 5 points an hour
    out = c.collect(NOW)
    assert errors(out) == [] and pending(out) == 1 and c.requests <= 10  # cut short: pending, not failed
    assert "github.ci.workflow_runs_7d" not in {x.name for x in out}  # absent, never a zero
    fake_github.remaining, fake_github.graphql_remaining = 0, 0  # nothing more can be read: no progress
    c = collector(fake_github, backfill=Backfill("github", 2))
    first = c.collect(NOW)  # nothing measured, but a backfill waiting: no raise
    assert errors(first) == [] and pending(first) == 1
    assert errors(c.collect(NOW + timedelta(minutes=15))) == ["backfill_stalled"]


def test_a_first_cycle_longer_than_its_time_budget_spans_cycles_and_ends_with_every_figure(fake_github):
    """Each request the fake answers takes one second of a 12-second budget: every cycle
    returns (no timeout), pending and error-free, and the last one measures what one
    unlimited first cycle measures."""
    from pollers.github.backfill import Deadline

    generated(fake_github, REPO, NOW, prs=300)
    generated(fake_github, "org/other", NOW, prs=50)
    c = collector(fake_github, repos=(REPO, "org/other"), deadline=Deadline(12, lambda: float(len(fake_github.log))))
    now, cycles = NOW, []
    while len(cycles) < 8:
        out = c.collect(now)
        cycles.append(pending(out))
        assert errors(out) == []
        if cycles[-1] == 0:
            break
        now += timedelta(minutes=15)
    assert len(cycles) >= 2 and cycles[-1] == 0 and all(p > 0 for p in cycles[:-1])

    def figures(metrics):
        return {
            (x.name, x.tag("repo"), x.tag("author_type") or x.tag("workflow")): x.value
            for x in produced(metrics)
            if x.name.startswith("github.")
        }

    assert figures(out) == figures(collector(fake_github, repos=(REPO, "org/other")).collect(now))


def test_a_page_failing_midway_fails_that_part_only_and_keeps_its_window(fake_github):
    generated(fake_github, REPO, NOW, prs=300)
    generated(fake_github, "org/other", NOW, prs=50)
    c = collector(fake_github, repos=(REPO, "org/other"))
    before = {(x.name, x.tag("repo"), x.tag("author_type")): x.value for x in c.collect(NOW)}
    fake_github.fail(f"/repos/{REPO}/commits", (500, {}, 0))
    out = c.collect(NOW + timedelta(minutes=15))
    assert errors(out) == ["fetch_failed"]
    mine = {x.name for x in out if x.tag("repo") == REPO}
    assert "github.commits.total_7d" not in mine and "github.developers.active_7d" not in mine
    assert {
        "github.prs.open",
        "github.prs.merged_7d",
        "github.ci.workflow_runs_7d",
        "github.branches.active",
        "github.code.lines_added_7d",
    } <= mine  # the other parts still emitted
    after = {(x.name, x.tag("repo"), x.tag("author_type")): x.value for x in c.collect(NOW + timedelta(minutes=30))}
    key = ("github.commits.total_7d", REPO, "human")
    assert after[key] == before[key]  # the commits window was kept and resumed from its own last sync


def test_failed_deliveries_are_redelivered_once(fake_github):
    s = hand_made(fake_github)
    t = lambda h: (NOW + timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    s["deliveries"] = [
        {"id": 1, "guid": "g-ok", "status_code": 200, "delivered_at": t(-1)},
        {"id": 2, "guid": "g-failed", "status_code": 502, "delivered_at": t(-2)},
        {"id": 3, "guid": "g-timeout", "status_code": 0, "delivered_at": t(-3)},
        {"id": 4, "guid": "g-recovered", "status_code": 500, "delivered_at": t(-5)},
        {"id": 5, "guid": "g-recovered", "status_code": 200, "delivered_at": t(-4)},  # already redelivered
        {"id": 6, "guid": "g-too-old", "status_code": 500, "delivered_at": t(-24 * 4)},
    ]
    c = collector(fake_github, hooks={REPO: 42})
    got = collect(c)
    assert sorted(s["redelivered"]) == [2, 3]
    assert got[("github.deliveries.redelivered", None)] == 2
    c.collect(NOW + timedelta(minutes=15))
    assert sorted(s["redelivered"]) == [2, 3]  # not asked twice


def test_poll_once_only_github(tmp_path, statsd, fake_github):
    import subprocess
    import sys

    from tests.support.servers import ROOT, clean_env

    generated(fake_github, REPO, NOW, prs=100)
    config = tmp_path / "orgpulse.yaml"
    config.write_text(f"github: {{repositories: [{REPO}], request_interval_seconds: 0}}\n")
    host, port = statsd.address
    env = {
        "GITHUB_TOKEN": fake_github.token,
        "GITHUB_API_URL": fake_github.url,
        "ORGPULSE_CONFIG": str(config),
        "DD_DOGSTATSD_URL": f"udp://{host}:{port}",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-m", "orgpulse.cli", "poll", "--once", "--only", "github"],
        cwd=tmp_path,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "github: ok" in result.stderr and fake_github.token not in result.stderr
    assert statsd.metrics("github.ci.workflow_runs_7d", wait_for=1)[0].tag_map["repo"] == REPO


def test_active_branches_and_force_pushes_are_not_capped_at_one_page(fake_github):
    s = hand_made(fake_github)
    recent, old = NOW - timedelta(days=1), NOW - timedelta(days=40)
    s["branches"] = [(f"new{i}", recent.strftime("%Y-%m-%dT%H:%M:%SZ")) for i in range(250)] + [
        (f"old{i}", old.strftime("%Y-%m-%dT%H:%M:%SZ")) for i in range(400)
    ]
    s["activity"] = [{"activity_type": "force_push", "timestamp": recent.isoformat()} for _ in range(150)]
    got = collect(collector(fake_github))
    assert got[("github.branches.active", None)] == 250
    assert got[("github.commits.force_merge_7d", None)] == 150
    queries = [r for r in fake_github.log if r.path == "/graphql" and "refs(" in r.json()["query"]]
    assert len(queries) == 3  # stops at the first page that reaches branches older than 14 days


def test_flaky_is_per_workflow_and_head_sha_by_rerun_or_new_run(fake_github):
    s = fake_github.add_repo(REPO)
    s["runs"] += [
        run(1, NOW, conclusion="failure", created_h=-10, sha="a" * 40),
        run(2, NOW, conclusion="success", created_h=-9, sha="a" * 40),  # a new run passes: flaky
        run(3, NOW, conclusion="success", attempt=2, created_h=-8, sha="b" * 40),  # re-run after a failure: flaky
        run(4, NOW, conclusion="success", attempt=2, created_h=-7, sha="c" * 40, earlier=["success"]),  # not
        run(5, NOW, name="Lint", conclusion="failure", created_h=-6, sha="d" * 40),
        run(6, NOW, conclusion="success", created_h=-5, sha="d" * 40),  # another workflow: not
        run(7, NOW, conclusion="failure", created_h=-4, sha="e" * 40),
        run(8, NOW, conclusion="success", created_h=-3, sha="f" * 40),  # another SHA: not
        run(
            9, NOW, conclusion="success", attempt=3, created_h=-2, sha="0" * 40, earlier=["failure", "cancelled"]
        ),  # flaky
        run(10, NOW, conclusion="success", created_h=-1, sha="a" * 40),  # flips again: still one
        run(11, NOW, name="Lint", conclusion="timed_out", created_h=-1, sha="1" * 40, run_s=60),
        run(12, NOW, name="Lint", conclusion="success", created_h=-0.5, sha="1" * 40),
    ]  # flaky
    c = collector(fake_github)
    assert collect(c)[("github.ci.flaky_checks_7d", None)] == 4
    fetched = sorted(r.path.split("/runs/")[1] for r in fake_github.log if "/attempts/" in r.path)
    assert fetched == ["3/attempts/1", "4/attempts/1", "9/attempts/1", "9/attempts/2"]
    assert collect(c, NOW + timedelta(minutes=15))[("github.ci.flaky_checks_7d", None)] == 4
    assert len([r for r in fake_github.log if "/attempts/" in r.path]) == 4  # a finished attempt is fetched once


def test_a_rerun_after_the_last_sync_is_seen(fake_github):
    s = fake_github.add_repo(REPO)
    s["runs"].append(run(1, NOW, conclusion="failure", created_h=-1))
    c = collector(fake_github)
    got = collect(c)
    assert got[("github.ci.flaky_checks_7d", None)] == 0 and got[("github.ci.failed_workflows_7d", None)] == 1
    # re-run to success: the same run and created_at (no `created=` query finds it), attempt 2
    s["runs"][0] = run(1, NOW, conclusion="success", created_h=-1, attempt=2, run_s=3000)
    got = collect(c, NOW + timedelta(minutes=15))
    assert got[("github.ci.flaky_checks_7d", None)] == 1 and got[("github.ci.failed_workflows_7d", None)] == 0
    collect(c, NOW + timedelta(minutes=30))
    assert fake_github.requests[f"/repos/{REPO}/actions/runs/1"] == 1  # re-read while failed only


def test_scores_read_human_stale_prs_and_the_minimum_over_test_workflows(fake_github):
    s = fake_github.add_repo(REPO)
    s["pulls"] += [pull(n, NOW, state="open", created_h=-24 * 30, updated_h=-24 * 20) for n in range(1, 21)]
    s["pulls"] += [
        pull(n, NOW, state="open", created_h=-24 * 30, updated_h=-24 * 20, user=BOT) for n in range(21, 51)
    ]  # a dependabot backlog
    s["runs"] += [
        run(1, NOW, conclusion="success", created_h=-2),
        run(2, NOW, name="Benchmarks", conclusion="failure", created_h=-1),
    ]
    clock = Clock()
    values = ValueStore(clock)
    values.record(produced(collector(fake_github).collect(NOW)))
    got = {x.name: x.value for x in score_metrics(lambda name, agg, where: values.get(name, 1800, agg, where), {})}
    assert got["health.ci.stale_prs.fom"] == pytest.approx(0.6)  # 20 human stale PRs of a limit of 50
    assert got["health.ci.tests_passing.fom"] == 1.0  # the failing benchmark does not count
    assert got["health.ci.benchmarks_passing.fom"] == 0.0


def test_value_store_filters_by_tags():
    values = ValueStore(Clock())
    values.record(
        [
            m.gauge("github.prs.open", 3, repo="a/b", author_type="human"),
            m.gauge("github.prs.open", 2, repo="a/b", author_type="bot"),
            m.gauge("github.prs.open", 4, repo="c/d", author_type="human"),
        ]
    )
    assert values.get("github.prs.open", 60) == 9  # the seed's figure: every series
    assert values.get("github.prs.open", 60, "sum", {"author_type": "human"}) == 7
    assert values.get("github.prs.open", 60, "max", {"author_type": "bot", "repo": "a/b"}) == 2
    assert values.get("github.prs.open", 60, "sum", {"author_type": "robot"}) is None


def test_request_interval_is_validated(make_settings):
    from orgpulse import config

    assert make_settings(options={"github": {}}).section("github")["request_interval_seconds"] == 0.25
    with pytest.raises(config.ConfigError, match="github.request_interval_seconds must be in"):
        make_settings(options={"github": {"request_interval_seconds": -1}})


def test_pr_cycle_legs_coding_pickup_review(fake_github):
    s = fake_github.add_repo(REPO)
    s["pulls"] += [
        pull(1, NOW, first_commit_h=-60, created_h=-50, merged_h=-40, reviewers=(("alice", -45),)),
        pull(
            2,
            NOW,
            first_commit_h=-30,
            created_h=-28,
            merged_h=-10,  # the first review by another human
            reviewers=(("octocat", -27), ("coderabbitai[bot]", -26.5), ("bob", -20), ("carol", -15)),
        ),
        pull(3, NOW, created_h=-30, merged_h=-29, reviewers=()),  # never reviewed
        pull(4, NOW, created_h=-10, merged_h=-8, reviewers=(("alice", -5),)),  # reviewed after merging
        pull(5, NOW, first_commit_h=-5, created_h=-6, merged_h=-1, reviewers=()),  # history rewritten
        pull(6, NOW, created_h=-20, merged_h=-2, user=BOT, reviewers=(("alice", -19),)),  # a bot's
        pull(7, NOW, created_h=-24 * 10, merged_h=-24 * 9, reviewers=(("alice", -24 * 9.5),)),  # merged 9 days ago
        pull(8, NOW, state="open", created_h=-3, reviewers=(("alice", -2),)),
    ]  # not merged
    got = collect(collector(fake_github))
    # coding: 10 h, 2 h, 24 h, 24 h (PR 5's first commit is after it opened: no value)
    assert got[("github.prs.coding_time_p50_hours", None)] == 10
    assert got[("github.prs.coding_time_p90_hours", None)] == 24
    # pickup and review: PRs 1 and 2 only (5 h, 8 h; 5 h, 10 h): never a 0 for the others
    assert got[("github.prs.pickup_time_p50_hours", None)] == 5
    assert got[("github.prs.pickup_time_p90_hours", None)] == 8
    assert got[("github.prs.review_time_p50_hours", None)] == 5
    assert got[("github.prs.review_time_p90_hours", None)] == 10
    assert got[("github.prs.review_coverage_pct", None)] == pytest.approx(100 * 3 / 5)  # coverage keeps late reviews


def test_a_leg_no_pr_has_is_not_sent(fake_github):
    fake_github.add_repo(REPO)["pulls"] += [pull(1, NOW, created_h=-30, merged_h=-29, reviewers=())]
    got = collect(collector(fake_github))
    assert got[("github.prs.coding_time_p50_hours", None)] == 24
    assert not [k for k in got if k[0].startswith(("github.prs.pickup_time", "github.prs.review_time"))]


def test_deploy_leg_from_doras_production_deployments(tmp_path, make_settings):
    from pollers import registry
    from tests.fakes.github_dora import DoraGithub
    from tests.support.dora_history import History, _commit

    fake_github = DoraGithub()
    try:
        h = History(fake_github, REPO)
        at = lambda hours: NOW + timedelta(hours=hours)  # noqa: E731
        base = _commit(h.state, "c0".ljust(40, "0"), at(-50), "Start", [], at(-50))
        m1 = _commit(h.state, "a1".ljust(40, "0"), at(-30), "Merge pull request #1", [base], at(-31))
        m2 = _commit(h.state, "a2".ljust(40, "0"), at(-20), "Add (#2)", [m1], at(-21))
        m3 = _commit(h.state, "a3".ljust(40, "0"), at(-5), "Add (#3)", [m2], at(-6))
        h.deploy(at(-40), base)  # the first one known: what it shipped is unknown
        h.deploy(at(-18), m2)  # ships #1 and #2, succeeds 7 minutes later
        h.deploy(at(-4), m3, environment="staging")  # not production
        h.deploy(at(-3), m3, outcome="failure")  # not a success
        h.state["pulls"] += [
            pull(n, NOW, created_h=merged - 10, merged_h=merged, merge_commit_sha=sha)
            for n, merged, sha in ((1, -30, m1), (2, -20, m2), (3, -5, m3))
        ]
        settings = make_settings(
            {"GITHUB_TOKEN": fake_github.token, "GITHUB_API_URL": fake_github.url},
            {"github": {"repositories": [REPO], "request_interval_seconds": 0}},
        )
        collectors = registry.build(settings)
        produced(collectors["dora"].collect(NOW))
        got = collect(collectors["github"].collect.__self__)
    finally:
        fake_github.close()
    assert not fake_github.rejected_queries
    # #1: merged 12 h before the deployment began, #2: 2 h; + 7 minutes to succeed; #3 not deployed
    assert got[("github.prs.deploy_time_p50_hours", None)] == pytest.approx(2 + 7 / 60)
    assert got[("github.prs.deploy_time_p90_hours", None)] == pytest.approx(12 + 7 / 60)


def test_no_deploy_leg_without_dora_or_a_production_deployment(fake_github):
    fake_github.add_repo(REPO)["pulls"] += [pull(1, NOW, created_h=-30, merged_h=-29)]
    assert not [k for k in collect(collector(fake_github)) if k[0].startswith("github.prs.deploy_time")]
    c = collector(fake_github)
    c.deployed_at = lambda repo, sha: None  # DORA on, nothing deployed yet: no value, never 0
    assert not [k for k in collect(c, NOW + timedelta(minutes=15)) if k[0].startswith("github.prs.deploy_time")]


def test_a_spent_rate_limit_is_asked_again_after_its_reset():
    """remaining 0 holds requests back until X-RateLimit-Reset, not for the process's life."""
    from pollers.github.http import Budget, BudgetExhausted

    now = [1_800_000_000.0]
    budget = Budget(1.0, clock=lambda: now[0])
    budget.observe(
        {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now[0]) + 600)}
    )
    with pytest.raises(BudgetExhausted):
        budget.spend()
    now[0] += 601
    budget.spend()  # the limit is whole again: the next answer's headers say what is left
