"""DORA's four keys from the fake GitHub, against the truth computed here from the scenario's
own records — deployments and statuses, a deploy workflow's runs, the branch history with
squash and merge commits, reverts, hotfixes, rollbacks, labelled incidents — with no
orgpulse code. Counts exact, percentiles by nearest rank."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from github import Auth, Github

from orgpulse.timeutil import parse_time
from pollers.dora.collector import DoraCollector
from pollers.dora.marks import Marks
from pollers.github.http import GithubHttp
from receiver.sources.github.context import dora_options
from tests.support.dogstatsd import produced
from tests.support.dora_history import History

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
OPTIONS = dora_options({"deploy_workflows": {"org/svc": "deploy.yml"}, "restore_from_failed_deployments": True})


# ---------------------------------------------------------------- the truth, from the records
def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


def production(state: dict, repo: str, workflow: bool) -> list[dict]:
    """Decided production deployments: {sha, env, ok, at}, in order of their outcome."""
    out = []
    for r in state.get("runs", []) if workflow else []:
        failed = r["conclusion"] in ("failure", "timed_out", "startup_failure")
        if (
            r["path"].endswith("/deploy.yml")
            and r["head_branch"] == "main"
            and r["head_repository"]["full_name"] == repo
            and (r["conclusion"] == "success" or failed)
        ):
            out.append({"sha": r["head_sha"], "env": "production", "ok": not failed, "at": parse_time(r["updated_at"])})
    for d in [] if workflow else state.get("deployments", []):
        final = [s for s in d["statuses"] if s["state"] in ("success", "failure", "error")]
        if d["environment"] in ("production", "prod") and final:
            out.append(
                {
                    "sha": d["sha"],
                    "env": d["environment"],
                    "ok": final[-1]["state"] == "success",
                    "at": parse_time(final[-1]["created_at"]),
                }
            )
    return sorted(out, key=lambda d: d["at"])


def incidents(state: dict) -> list[dict]:
    return [
        i for i in state.get("issues", []) if "pull_request" not in i and "incident" in [x["name"] for x in i["labels"]]
    ]


def level(value: float, bounds: tuple, better) -> int:
    """The 2023 Accelerate State of DevOps bands: 4 elite … 1 low."""
    return next((4 - n for n, bound in enumerate(bounds) if better(value, bound)), 1)


def shipped_changes(state: dict, ok: list[dict]) -> list[tuple[datetime, float]]:
    """(deployment time, seconds) per change, at the first deployment whose range holds it;
    marks each deployment that went back to an earlier SHA as a rollback."""
    index = {c["sha"]: i for i, c in enumerate(state["history"])}
    prs = state.get("commit_prs", {})
    lead, shipped = [], set()
    for before, d in pairwise(ok):
        if d["sha"] not in index or before["sha"] not in index:
            continue  # GitHub cannot compare them: nothing known shipped
        d["rollback"] = index[d["sha"]] < index[before["sha"]] or (
            d["sha"] != before["sha"] and d["sha"] in {x["sha"] for x in ok if x["at"] < before["at"]}
        )
        for c in state["history"][index[before["sha"]] + 1 : index[d["sha"]] + 1]:
            if c["sha"] not in shipped and len(c["parents"]) == 1:
                start = parse_time(prs.get(c["sha"], {}).get("first_commit_at") or c["commit"]["author"]["date"])
                lead.append((d["at"], (d["at"] - start).total_seconds()))
            shipped.add(c["sha"])
    return lead


def signals_of(state: dict, deps: list[dict], ok: list[dict]) -> dict[int, set]:
    """id(deployment) → the failure signals that mark it (each within a day after it)."""
    signals = {id(d): set() if d["ok"] else {"deployment_failure"} for d in deps}
    for before, d in pairwise(ok):
        if d.get("rollback") and d["at"] - before["at"] <= DAY:
            signals[id(before)].add("rollback")
    later = [
        (
            parse_time(c["commit"]["committer"]["date"]),
            "revert" if c["commit"]["message"].startswith('Revert "') else "hotfix",
        )
        for c in state["commits"]
        if c["commit"]["message"].startswith(('Revert "', "hotfix"))
    ]
    later += [(parse_time(i["created_at"]), "incident") for i in incidents(state)]
    for t, kind in later:
        prior = [d for d in ok if d["at"] <= t]
        if prior and t - prior[-1]["at"] <= DAY:
            signals[id(prior[-1])].add(kind)
    return signals


def restored(deps: list[dict]) -> list[tuple[datetime, datetime]]:
    out, failed_at = [], None
    for d in deps:
        if not d["ok"] and failed_at is None:
            failed_at = d["at"]
        elif d["ok"] and failed_at is not None:
            out.append((failed_at, d["at"]))
            failed_at = None
    return out


def percentiles(out: dict, name: str, hours: list[float], source: str | None = None) -> None:
    for q, label in ((0.5, "p50"), (0.9, "p90")):
        key = name.replace("{q}", label)
        if hours:
            out[(key, source) if source else key] = nearest_rank(hours, q)


def truth(state: dict, repo: str, now: datetime, workflow: bool = False, events: dict | None = None) -> dict:
    """The gauges; `events` gets the event-level values: (time of the event, seconds)."""
    deps = production(state, repo, workflow)
    ok = [d for d in deps if d["ok"]]
    lead = shipped_changes(state, ok)
    signals = signals_of(state, deps, ok)
    sources = {
        "github": [
            (parse_time(i["created_at"]), parse_time(i["closed_at"])) for i in incidents(state) if i["closed_at"]
        ],
        "deployment": restored(deps),
    }
    if events is not None:
        events.update(
            {"lead_time": lead, **{k: [(b, (b - a).total_seconds()) for a, b in v] for k, v in sources.items()}}
        )
    out = {"dora.incidents.open": sum(i["state"] == "open" for i in incidents(state))}
    if ok:
        out["dora.time_since_deployment_hours"] = (now - ok[-1]["at"]).total_seconds() / 3600
    for label, days in (("7d", 7), ("30d", 30)):
        since = now - timedelta(days=days)

        def inside(t: datetime, since: datetime = since) -> bool:
            return since < t <= now

        suffix = "" if label == "7d" else "_30d"
        if ok:  # a repository that deploys (one never seen deploying has no frequency)
            out[f"dora.deployments_{label}"] = sum(inside(d["at"]) for d in ok)
        percentiles(out, f"dora.lead_time_{{q}}_hours{suffix}", [s / 3600 for t, s in lead if inside(t)])
        tried = [d for d in deps if inside(d["at"])]
        if tried:
            out[f"dora.change_failure_rate_{label}"] = 100 * sum(bool(signals[id(d)]) for d in tried) / len(tried)
        for source, pairs in sources.items():
            percentiles(
                out,
                f"dora.time_to_restore_{{q}}_hours{suffix}",
                [(b - a).total_seconds() / 3600 for a, b in pairs if inside(b)],
                source,
            )
        for signal in ("deployment_failure", "rollback", "revert", "hotfix", "incident") if label == "7d" else ():
            out[("dora.change_failures_7d", signal)] = sum(signal in signals[id(d)] for d in tried)
    month = [
        (b - a).total_seconds() / 3600 for pairs in sources.values() for a, b in pairs if now - 30 * DAY < b <= now
    ]
    for key, value, bounds, better in (
        ("deployment_frequency", out.get("dora.deployments_30d"), (31, 4, 1), lambda v, b: v >= b),
        ("lead_time", out.get("dora.lead_time_p50_hours_30d"), (24, 168, 720), lambda v, b: v < b),
        ("change_failure_rate", out.get("dora.change_failure_rate_30d"), (5, 10, 15), lambda v, b: v <= b),
        ("time_to_restore", nearest_rank(month, 0.5) if month else None, (1, 24, 168), lambda v, b: v < b),
    ):
        if value is not None:
            out[("dora.performance_level", key)] = level(value, bounds, better)
    return out


def got(metrics: list, repo: str) -> dict:
    out = {}
    for x in produced(metrics):
        qualifier = x.tag("source") or x.tag("signal") or x.tag("key")
        if x.tag("repo") == repo and x.type == "gauge":
            out[(x.name, qualifier) if qualifier else x.name] = x.value
    out["dora.incidents.open"] = out.pop(("dora.incidents.open", "github"))
    return out


# ---------------------------------------------------------------- the scenario
def collector(fake_dora_github, tmp_path, repos=("org/app", "org/svc"), options=OPTIONS, **kw):
    gh = Github(
        auth=Auth.Token(fake_dora_github.token),
        base_url=fake_dora_github.url,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )
    api = GithubHttp(gh.requester, 1.0)
    return DoraCollector(api, list(repos), options, {}, Marks(tmp_path / "marks.json"), **kw)


def scenario(fake_dora_github, seed: int = 3):
    app = History(fake_dora_github, "org/app", seed=seed)
    app.walk(NOW - timedelta(days=36), NOW)
    svc = History(fake_dora_github, "org/svc", seed=seed + 1, workflow="deploy.yml")
    svc.walk(NOW - timedelta(days=36), NOW)
    # noise the definitions exclude: a fork's run of the deploy workflow, another workflow, a
    # pull request and a bug carrying no incident label
    svc.state["runs"] += [
        {**svc.state["runs"][-1], "id": 9001, "head_repository": {"full_name": "fork/svc"}},
        {**svc.state["runs"][-1], "id": 9002, "path": ".github/workflows/test.yml"},
    ]
    app.state["issues"].append({**app.state["issues"][-1], "number": 999, "pull_request": {"url": "…"}})
    app.incident(NOW - timedelta(hours=30), 2, label="bug")
    return app, svc


@pytest.mark.parametrize("seed", [3, 11])
def test_the_four_keys_match_the_truth(fake_dora_github, tmp_path, seed):
    app, svc = scenario(fake_dora_github, seed)
    out = collector(fake_dora_github, tmp_path).collect(NOW)
    for repo, expected in (
        ("org/app", truth(app.state, "org/app", NOW)),
        ("org/svc", truth(svc.state, "org/svc", NOW, workflow=True)),
    ):
        measured = got(out, repo)
        assert set(measured) == set(expected), repo
        for key, value in expected.items():
            assert measured[key] == pytest.approx(value), (repo, key)
    assert not [x for x in out if x.type == "distribution"]  # a first start sends no history


def distributions(metrics: list) -> dict:
    """(repo, name, source) → the sorted values of the distributions sent."""
    out: dict = {}
    for x in produced(metrics):
        if x.type == "distribution":
            out.setdefault((x.tag("repo"), x.name, x.tag("source")), []).append(round(x.value, 3))
    return {k: sorted(v) for k, v in out.items()}


def expected_between(state: dict, repo: str, start: datetime, end: datetime, workflow: bool = False) -> dict:
    events: dict = {}
    truth(state, repo, end + timedelta(minutes=5), workflow, events)
    names = {
        "lead_time": ("dora.lead_time", None),
        "github": ("dora.time_to_restore", "github"),
        "deployment": ("dora.time_to_restore", "deployment"),
    }
    out = {}
    for stream, (name, source) in names.items():
        values = sorted(round(v, 3) for t, v in events[stream] if start < t <= end)
        if values:
            out[(repo, name, source)] = values
    return out


def later_events(app: History, svc: History, at: datetime) -> None:
    """After NOW: changes land, a deployment fails and the next one restores it, an incident
    opened an hour ago is resolved, the deploy workflow ships twice."""
    for h in (app, svc):
        h.land(at + timedelta(minutes=1))
        h.land(at + timedelta(minutes=2))
        h.deploy(at + timedelta(minutes=2), h.head(), outcome="failure", took=timedelta(minutes=1))
        h.land(at + timedelta(minutes=3))
        h.deploy(at + timedelta(minutes=3), h.head())
    app.incident(at - timedelta(hours=1), 1 + 4 / 60)


def test_later_cycles_send_each_event_once_and_ask_only_for_what_changed(fake_dora_github, tmp_path):
    app, svc = scenario(fake_dora_github)
    c = collector(fake_dora_github, tmp_path)
    c.collect(NOW)
    backfill = sum(fake_dora_github.requests.values())
    later_events(app, svc, NOW)
    second = NOW + timedelta(minutes=15)
    out = c.collect(second)
    steady = sum(fake_dora_github.requests.values()) - backfill
    expected = {
        **expected_between(app.state, "org/app", NOW - timedelta(minutes=5), second - timedelta(minutes=5)),
        **expected_between(
            svc.state, "org/svc", NOW - timedelta(minutes=5), second - timedelta(minutes=5), workflow=True
        ),
    }
    assert ("org/app", "dora.lead_time", None) in expected and ("org/app", "dora.time_to_restore", "github") in expected
    assert ("org/svc", "dora.time_to_restore", "deployment") in expected
    assert distributions(out) == expected
    assert got(out, "org/app") == truth(app.state, "org/app", second)  # the windows slid
    assert steady <= 2 * 12, steady  # per repository: a few lists, new statuses, one compare, one GraphQL
    third = c.collect(second + timedelta(minutes=15))
    assert distributions(third) == {}  # nothing new: nothing sent again


def test_a_restart_or_a_standby_never_sends_a_value_twice(fake_dora_github, tmp_path):
    app, svc = scenario(fake_dora_github)
    collector(fake_dora_github, tmp_path).collect(NOW)  # first start: the marks are set
    later_events(app, svc, NOW)
    standby = collector(fake_dora_github, tmp_path, leading=lambda: False)
    marks = (tmp_path / "marks.json").read_text()
    assert distributions(standby.collect(NOW + timedelta(minutes=15))) == {}
    assert (tmp_path / "marks.json").read_text() == marks  # a standby moves no mark
    restarted = collector(fake_dora_github, tmp_path)  # memory lost; the marks kept
    out = restarted.collect(NOW + timedelta(minutes=15))
    sent = distributions(out)
    assert sent and sent == {
        **expected_between(app.state, "org/app", NOW - timedelta(minutes=5), NOW + timedelta(minutes=10)),
        **expected_between(
            svc.state, "org/svc", NOW - timedelta(minutes=5), NOW + timedelta(minutes=10), workflow=True
        ),
    }
    again = collector(fake_dora_github, tmp_path).collect(NOW + timedelta(minutes=16))
    assert distributions(again) == {}
