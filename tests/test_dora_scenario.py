"""DORA's four keys from the fake GitHub, against the truth computed here from the scenario's
own records — deployments and statuses, a deploy workflow's runs, the branch history with
squash and merge commits, reverts, hotfixes, rollbacks, labelled incidents — with no
orgpulse code. Counts exact, percentiles by nearest rank."""
from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

import pytest
from github import Auth, Github

from orgpulse.timeutil import parse_time
from pollers.dora import DoraCollector
from pollers.dora_marks import Marks
from pollers.github import GithubCollector
from receiver.sources.github.context import dora_options
from tests.dogstatsd import produced
from tests.dora_history import History
from tests.fakes.github_api import FakeGithub

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
OPTIONS = dora_options({"deploy_workflows": {"org/svc": "deploy.yml"}, "restore_from_failed_deployments": True})


# ---------------------------------------------------------------- the truth, from the records
def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(q * len(ordered)) - 1]


def production(state: dict, workflow: bool) -> list[dict]:
    """Decided production deployments: {sha, env, ok, at}, in order of their outcome."""
    out = []
    if workflow:
        for r in state.get("runs", []):
            failed = r["conclusion"] in ("failure", "timed_out", "startup_failure")
            if r["path"].endswith("/deploy.yml") and r["head_branch"] == "main" and (
                    r["conclusion"] == "success" or failed):
                out.append({"sha": r["head_sha"], "env": "production", "ok": not failed,
                            "at": parse_time(r["updated_at"])})
    for d in [] if workflow else state.get("deployments", []):
        final = [s for s in d["statuses"] if s["state"] in ("success", "failure", "error")]
        if d["environment"] in ("production", "prod") and final:
            out.append({"sha": d["sha"], "env": d["environment"], "ok": final[-1]["state"] == "success",
                        "at": parse_time(final[-1]["created_at"])})
    return sorted(out, key=lambda d: d["at"])


def truth(state: dict, now: datetime, workflow: bool = False) -> dict:
    deps = production(state, workflow)
    ok = [d for d in deps if d["ok"]]
    index = {c["sha"]: i for i, c in enumerate(state["history"])}
    prs = state.get("commit_prs", {})
    lead, shipped = [], set()  # (deployment time, seconds) per change, at its first deployment
    for before, d in zip(ok, ok[1:]):
        d["rollback"] = index[d["sha"]] < index[before["sha"]] or (
            d["sha"] != before["sha"] and d["sha"] in {x["sha"] for x in ok if x["at"] < before["at"]})
        for c in state["history"][index[before["sha"]] + 1:index[d["sha"]] + 1]:
            if c["sha"] not in shipped and len(c["parents"]) == 1:
                start = parse_time(prs.get(c["sha"], {}).get("first_commit_at") or c["commit"]["author"]["date"])
                lead.append((d["at"], (d["at"] - start).total_seconds()))
            shipped.add(c["sha"])
    signals = {id(d): set() for d in deps}
    for d in deps:
        if not d["ok"]:
            signals[id(d)].add("deployment_failure")
    for before, d in zip(ok, ok[1:]):
        if d.get("rollback") and d["at"] - before["at"] <= DAY:
            signals[id(before)].add("rollback")
    later = [(parse_time(c["commit"]["committer"]["date"]),
              "revert" if c["commit"]["message"].startswith('Revert "') else "hotfix")
             for c in state["commits"] if c["commit"]["message"].startswith(('Revert "', "hotfix"))]
    later += [(parse_time(i["created_at"]), "incident") for i in state.get("issues", [])]
    for t, kind in later:
        prior = [d for d in ok if d["at"] <= t]
        if prior and t - prior[-1]["at"] <= DAY:
            signals[id(prior[-1])].add(kind)
    closed = [(parse_time(i["created_at"]), parse_time(i["closed_at"])) for i in state.get("issues", [])
              if i["closed_at"]]
    restores, failed_at = [], None
    for d in deps:
        if not d["ok"] and failed_at is None:
            failed_at = d["at"]
        elif d["ok"] and failed_at is not None:
            restores.append((failed_at, d["at"]))
            failed_at = None
    out = {"dora.incidents.open": sum(i["state"] == "open" for i in state.get("issues", []))}
    for label, days in (("7d", 7), ("30d", 30)):
        inside = lambda t: now - timedelta(days=days) < t <= now  # noqa: E731
        suffix = "" if label == "7d" else "_30d"
        out[f"dora.deployments_{label}"] = sum(inside(d["at"]) for d in ok)
        hours = [s / 3600 for t, s in lead if inside(t)]
        out[f"dora.lead_time_p50_hours{suffix}"] = nearest_rank(hours, .5)
        out[f"dora.lead_time_p90_hours{suffix}"] = nearest_rank(hours, .9)
        tried = [d for d in deps if inside(d["at"])]
        out[f"dora.change_failure_rate_{label}"] = 100 * sum(bool(signals[id(d)]) for d in tried) / len(tried)
        for source, pairs in (("github", closed), ("deployment", restores)):
            took = [(b - a).total_seconds() / 3600 for a, b in pairs if inside(b)]
            if took:
                out[(f"dora.time_to_restore_p50_hours{suffix}", source)] = nearest_rank(took, .5)
                out[(f"dora.time_to_restore_p90_hours{suffix}", source)] = nearest_rank(took, .9)
        if label == "7d":
            for signal in ("deployment_failure", "rollback", "revert", "hotfix", "incident"):
                out[("dora.change_failures_7d", signal)] = sum(signal in signals[id(d)] for d in tried)
    return out


def got(metrics: list, repo: str) -> dict:
    out = {}
    for x in produced(metrics):
        if x.tag("repo") != repo or x.type != "gauge" or x.name == "dora.performance_level":
            continue
        key = (x.name, x.tag("source") or x.tag("signal")) if (x.tag("source") or x.tag("signal")) else x.name
        out[key] = x.value
    out["dora.incidents.open"] = out.pop(("dora.incidents.open", "github"))
    return out


# ---------------------------------------------------------------- the scenario
@pytest.fixture
def fake():
    server = FakeGithub()
    yield server
    server.close()


def collector(fake, tmp_path, repos=("org/app", "org/svc"), options=OPTIONS, **kw):
    gh = Github(auth=Auth.Token(fake.token), base_url=fake.url, retry=None, seconds_between_requests=0,
                seconds_between_writes=0)
    api = GithubCollector(gh.requester, [], {"budget_share": 1.0})
    return DoraCollector(api, list(repos), options, {}, Marks(tmp_path / "marks.json"), **kw)


def scenario(fake, seed: int = 3):
    app = History(fake, "org/app", seed=seed)
    app.walk(NOW - timedelta(days=36), NOW)
    svc = History(fake, "org/svc", seed=seed + 1, workflow="deploy.yml")
    svc.walk(NOW - timedelta(days=36), NOW)
    # noise the definitions exclude: a fork's run of the deploy workflow, another workflow, a
    # pull request and a bug carrying no incident label
    svc.state["runs"] += [{**svc.state["runs"][-1], "id": 9001, "head_repository": {"full_name": "fork/svc"}},
                          {**svc.state["runs"][-1], "id": 9002, "path": ".github/workflows/test.yml"}]
    app.state["issues"].append({**app.state["issues"][-1], "number": 999, "pull_request": {"url": "…"}})
    app.incident(NOW - timedelta(hours=30), 2, label="bug")
    return app, svc


@pytest.mark.parametrize("seed", [3, 11])
def test_the_four_keys_match_the_truth(fake, tmp_path, seed):
    app, svc = scenario(fake, seed)
    out = collector(fake, tmp_path).collect(NOW)
    truth_app = truth(app.state, NOW)
    app.state["issues"] = [i for i in app.state["issues"] if i["labels"][0]["name"] == "incident"
                           and "pull_request" not in i]
    truth_app = truth(app.state, NOW)
    svc.state["runs"] = [r for r in svc.state["runs"] if r["id"] < 9000]
    for repo, expected in (("org/app", truth_app), ("org/svc", truth(svc.state, NOW, workflow=True))):
        measured = got(out, repo)
        assert set(measured) == set(expected), repo
        for key, value in expected.items():
            assert measured[key] == pytest.approx(value), (repo, key)
    assert not [x for x in out if x.type == "distribution"]  # a first start sends no history
