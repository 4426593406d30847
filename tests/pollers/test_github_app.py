"""The GitHub poller on GitHub App credentials, against the fake GitHub speaking App
authentication: settings, JWTs, installation tokens (issued, expiring, renewed mid-cycle),
installations found per repository, one budget per installation, Enterprise Server URLs,
redelivery, and `orgpulse poll --once --only github` with only app settings."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, Github

from orgpulse import config
from pollers.github.app import Installations, connect
from pollers.github.collector import GithubCollector
from tests.fakes.github_api import FakeGithub
from tests.fakes.github_app import FakeApp
from tests.pollers.test_github_collector import NOW, Clock, errors
from tests.support.dogstatsd import produced
from tests.support.github_history import generated
from tests.support.servers import ROOT, clean_env

APP_ID = 424242
ORG_A, ORG_B = "org-a/app", "org-b/infra"


def _key() -> tuple[str, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    return pem, key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def keys():
    """The app's key pair, and another app's private key (loaded: signing parses no PEM)."""
    (pem, public), (other, _) = _key(), _key()
    return pem, public, serialization.load_pem_private_key(other.encode(), None)


def make_fake(keys, clock=time.time, installations=None, **kwargs) -> FakeGithub:
    app = FakeApp(
        APP_ID,
        keys[1],
        installations or {11: [ORG_A], 22: [ORG_B]},
        **{k: kwargs.pop(k) for k in ("token_lifetime", "limit") if k in kwargs},
    )
    return FakeGithub(clock=clock, app=app, **kwargs)


@pytest.fixture
def fakes():
    made = []
    yield made
    for fake in made:
        fake.close()
        assert not fake.rejected_queries, fake.rejected_queries


def app_env(fake, keys, tmp_path, **extra) -> dict[str, str]:
    key_file = tmp_path / "app.pem"
    key_file.write_text(keys[0])
    return {
        "GITHUB_APP_ID": str(APP_ID),
        "GITHUB_APP_PRIVATE_KEY_FILE": str(key_file),
        "GITHUB_API_URL": fake.api_url,
        **extra,
    }


OPTIONS = {"github": {"repositories": [ORG_A, ORG_B], "request_interval_seconds": 0, "budget_share": 1.0}}


def app_collector(make_settings, fake, keys, tmp_path, clock=time.time, options=None, **env):
    settings = make_settings(app_env(fake, keys, tmp_path, **env), options or OPTIONS)
    http = connect(settings, clock)
    return GithubCollector(http, settings.section("github")["repositories"], settings.section("github")), http


def by_repo(metrics) -> dict[tuple[str, str | None, str | None], float]:
    return {(x.name, x.tag("repo"), x.tag("author_type")): x.value for x in produced(metrics)}


# ------------------------------------------------------------------ settings
def test_app_settings_from_env_and_file(make_settings, tmp_path, keys):
    key_file = tmp_path / "app.pem"
    key_file.write_text(keys[0])
    s = make_settings(
        {"GITHUB_APP_ID": "42", "GITHUB_APP_PRIVATE_KEY_FILE": str(key_file), "GITHUB_APP_INSTALLATION_ID": "7"}
    )
    assert (s.github_app_id, s.github_app_installation_id, s.github_token) == ("42", 7, None)
    assert s.github_app_private_key.reveal().decode().startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert "PRIVATE" not in repr(s)
    folded = keys[0].strip().replace("\n", "\\n")  # a key pasted on one line by a secret store
    assert (
        make_settings({"GITHUB_APP_ID": "42", "GITHUB_APP_PRIVATE_KEY": folded}).github_app_private_key
        == s.github_app_private_key
    )


@pytest.mark.parametrize(
    "env,problem",
    [
        (
            {"GITHUB_TOKEN": "ghp_x", "GITHUB_APP_ID": "42", "GITHUB_APP_PRIVATE_KEY": "{key}"},
            "GITHUB_TOKEN and a GitHub App",
        ),
        ({"GITHUB_APP_ID": "42"}, "needs both GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY"),
        ({"GITHUB_APP_PRIVATE_KEY": "{key}"}, "needs both GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY"),
        ({"GITHUB_APP_ID": "my-app", "GITHUB_APP_PRIVATE_KEY": "{key}"}, "GITHUB_APP_ID must be the app's numeric id"),
        (
            {"GITHUB_APP_ID": "42", "GITHUB_APP_PRIVATE_KEY": "{key}", "GITHUB_APP_INSTALLATION_ID": "x"},
            "GITHUB_APP_INSTALLATION_ID must be a number",
        ),
        (
            {"GITHUB_APP_ID": "42", "GITHUB_APP_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n"},
            "GITHUB_APP_PRIVATE_KEY is not an unencrypted PEM RSA private key",
        ),
    ],
)
def test_app_settings_refused_at_start_without_quoting_the_key(make_settings, keys, env, problem):
    env = {k: v.replace("{key}", keys[0]) for k, v in env.items()}
    with pytest.raises(config.ConfigError) as caught:
        make_settings(env)
    assert any(problem in p for p in caught.value.problems), caught.value.problems
    assert "PRIVATE KEY" not in str(caught.value).replace("PRIVATE_KEY", "") and keys[0][40:80] not in str(caught.value)


# ------------------------------------------------------------------ the fake speaks App auth
def test_the_fake_refuses_a_pat_bad_jwts_and_expired_tokens(keys, fakes):
    clock = Clock(NOW.timestamp())
    fake = make_fake(keys, clock)
    fakes.append(fake)
    generated(fake, ORG_A, NOW, prs=5)
    pat = Github(auth=Auth.Token(fake.token), base_url=fake.url, retry=None)
    assert pat.requester.requestJson("GET", f"/repos/{ORG_A}")[0] == 401  # a PAT in app mode

    mine = serialization.load_pem_private_key(keys[0].encode(), None)

    def jwt_for(key, **claims):
        now = int(clock())
        return jwt.encode({"iat": now - 60, "exp": now + 300, "iss": str(APP_ID), **claims}, key, "RS256")

    def token_with(signed) -> tuple[int, dict]:
        requester = Github(auth=Auth.AppAuthToken(signed), base_url=fake.url, retry=None).requester
        status, _, body = requester.requestJson("POST", "/app/installations/11/access_tokens", input={})
        return status, json.loads(body)

    now = int(clock())
    for bad in (
        jwt_for(keys[2]),
        jwt_for(mine, iss="1"),
        jwt_for(mine, exp=now - 1),
        jwt_for(mine, iat=now - 60, exp=now + 590),  # 650 s after iat
        jwt_for(mine, iat=now - 10, exp=now + 601),  # over 10 minutes ahead
        jwt_for(mine, iat=now + 30),
    ):  # issued in the future
        assert token_with(bad)[0] == 401
    assert len(fake.app.refused) == 7, fake.app.refused
    status, issued = token_with(jwt_for(mine))
    assert status == 201 and issued["token"].startswith("ghs_") and len(fake.app.issued) == 1
    client = Github(auth=Auth.Token(issued["token"]), base_url=fake.url, retry=None).requester
    assert client.requestJson("GET", f"/repos/{ORG_A}")[0] == 200
    assert client.requestJson("GET", f"/repos/{ORG_B}")[0] == 404  # another installation's repository
    clock.now += 3600
    assert client.requestJson("GET", f"/repos/{ORG_A}")[0] == 401  # expired after its hour


# ------------------------------------------------------------------ the poller on app credentials
def test_installations_found_per_repository_each_with_its_own_token(make_settings, tmp_path, keys, fakes):
    fake = make_fake(keys)
    fakes.append(fake)
    generated(fake, ORG_A, NOW, prs=30)
    generated(fake, ORG_B, NOW, prs=20)
    collector, http = app_collector(make_settings, fake, keys, tmp_path)
    got = by_repo(collector.collect(NOW))
    assert got[("github.prs.open", ORG_A, "human")] == 3 and ("github.branches.active", ORG_B, None) in got
    assert not errors(collector.collect(NOW + timedelta(minutes=15)))
    assert sorted({i for i, _, _ in fake.app.issued}) == [11, 22] and len(fake.app.issued) == 2
    # found once each (cached across cycles), never asked per request
    assert fake.requests[f"/repos/{ORG_A}/installation"] == 1 and fake.requests[f"/repos/{ORG_B}/installation"] == 1
    assert set(http.http) == {11, 22} and http.requests == collector.requests > 20
    assert not fake.app.refused


def test_a_given_installation_is_not_looked_up(make_settings, tmp_path, keys, fakes):
    fake = make_fake(keys, installations={7: [ORG_A, ORG_B]})
    fakes.append(fake)
    generated(fake, ORG_A, NOW, prs=5)
    generated(fake, ORG_B, NOW, prs=5)
    collector, _ = app_collector(make_settings, fake, keys, tmp_path, GITHUB_APP_INSTALLATION_ID="7")
    assert not errors(collector.collect(NOW))
    assert not any(p.endswith("/installation") for p in fake.requests) and len(fake.app.issued) == 1


def test_a_repository_without_the_app_fails_alone_and_is_asked_once_a_cycle(make_settings, tmp_path, keys, fakes):
    clock = Clock(time.time())
    fake = make_fake(keys, clock, installations={11: [ORG_A]})
    fakes.append(fake)
    generated(fake, ORG_A, NOW, prs=5)
    generated(fake, ORG_B, NOW, prs=5)
    collector, _ = app_collector(make_settings, fake, keys, tmp_path, clock)
    out = collector.collect(NOW)
    assert set(errors(out)) == {"app_not_installed"}
    assert {x.tag("repo") for x in out if x.name.startswith("github.")} == {ORG_A}
    assert fake.requests[f"/repos/{ORG_B}/installation"] == 1  # not once per part
    fake.app.installations[22] = [ORG_B]  # installed later: found on a later cycle
    clock.now += 900
    out = collector.collect(NOW + timedelta(minutes=15))
    assert not errors(out) and ORG_B in {x.tag("repo") for x in out}


def test_a_token_expiring_mid_cycle_is_renewed_before_it_expires(make_settings, tmp_path, keys, fakes):
    clock = Clock(time.time())

    class Ticking(FakeGithub):  # every request takes a minute of the shared clock
        def dispatch(self, req):
            clock.now += 60
            return super().dispatch(req)

    app = FakeApp(APP_ID, keys[1], {11: [ORG_A], 22: [ORG_B]}, token_lifetime=600)
    fake = Ticking(clock=clock, app=app)
    fakes.append(fake)
    generated(fake, ORG_A, NOW, prs=60)
    collector, _ = app_collector(
        make_settings, fake, keys, tmp_path, clock, {"github": {**OPTIONS["github"], "repositories": [ORG_A]}}
    )
    out = collector.collect(NOW)
    got = by_repo(out)
    assert not errors(out) and not fake.app.refused  # no request met an expired token
    assert ("github.ci.workflow_runs_7d", ORG_A, None) in got
    # tokens live 10 minutes and are renewed 5 minutes before: the first expired mid-cycle
    first_expiry = fake.app.issued[0][2]
    assert len(fake.app.issued) >= 2 and clock.now > first_expiry
    used = [
        r.headers["authorization"].split()[1]
        for r in fake.log
        if r.path.startswith(f"/repos/{ORG_A}/") and not r.path.endswith("/installation")
    ]
    assert used[0] == fake.app.issued[0][1] and used[-1] == fake.app.issued[-1][1]


def test_budget_share_applies_to_each_installation_limit(make_settings, tmp_path, keys, fakes):
    fake = make_fake(keys, limit=1000)
    fakes.append(fake)
    generated(fake, ORG_A, NOW, prs=300)
    generated(fake, ORG_B, NOW, prs=300)
    options = {"github": {**OPTIONS["github"], "budget_share": 0.01}}  # 10 requests an hour each
    collector, http = app_collector(make_settings, fake, keys, tmp_path, options=options)
    out = collector.collect(NOW)
    # the share cut both first-cycle backfills short: pending (pollers/github/backfill.py), not failed
    assert not errors(out) and [x.value for x in out if x.name == "orgpulse.collector.backfill_pending"] == [2]
    spent = {i: 1000 - left for i, left in fake.installation_remaining.items()}
    assert 5 <= spent[11] <= 11 and 5 <= spent[22] <= 11, spent  # each its own share of its own limit
    assert {h.budget.limit for h in http.http.values()} == {1000}


def test_enterprise_server_urls(make_settings, tmp_path, keys, fakes):
    fake = make_fake(keys, api_prefix="/api/v3")
    fakes.append(fake)
    generated(fake, ORG_A, NOW, prs=10)
    generated(fake, ORG_B, NOW, prs=10)
    collector, _ = app_collector(make_settings, fake, keys, tmp_path)
    out = collector.collect(NOW)
    got = by_repo(out)
    assert not errors(out) and ("github.branches.active", ORG_A, None) in got  # GraphQL answered
    assert "/api/v3/app/installations/11/access_tokens" in fake.raw_paths
    assert f"/api/v3/repos/{ORG_B}/installation" in fake.raw_paths and "/api/graphql" in fake.raw_paths
    assert not [p for p in fake.raw_paths if not p.startswith("/api/")]


def test_redelivery_goes_through_the_installation(make_settings, tmp_path, keys, fakes):
    fake = make_fake(keys)
    fakes.append(fake)
    s = generated(fake, ORG_A, NOW, prs=5)
    at = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    s["deliveries"] = [{"id": 9, "guid": "g-failed", "status_code": 502, "delivered_at": at}]
    options = {"github": {**OPTIONS["github"], "repositories": [ORG_A], "hooks": {ORG_A: 77}}}
    collector, _ = app_collector(make_settings, fake, keys, tmp_path, options=options)
    got = by_repo(collector.collect(NOW))
    assert s["redelivered"] == [9] and got[("github.deliveries.redelivered", ORG_A, None)] == 1
    posted = [r for r in fake.log if r.method == "POST" and r.path.endswith("/attempts")]
    assert posted[0].headers["authorization"] == f"token {fake.app.issued[0][1]}"


def test_poll_once_on_app_credentials_alone_logs_no_secret(tmp_path, statsd, keys, fakes):
    fake = make_fake(keys)
    fakes.append(fake)
    generated(fake, ORG_A, NOW, prs=40)
    generated(fake, ORG_B, NOW, prs=10)
    config_file = tmp_path / "orgpulse.yaml"
    config_file.write_text(f"github: {{repositories: [{ORG_A}, {ORG_B}], request_interval_seconds: 0}}\n")
    host, port = statsd.address
    env = {
        **app_env(fake, keys, tmp_path),
        "ORGPULSE_CONFIG": str(config_file),
        "ORGPULSE_LOG_LEVEL": "DEBUG",
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
    assert "github: ok" in result.stderr
    assert {m.tag_map["repo"] for m in statsd.metrics("github.ci.workflow_runs_7d", wait_for=2)} == {ORG_A, ORG_B}
    assert len(fake.app.issued) == 2 and not fake.app.refused
    jwts = [r.headers["authorization"] for r in fake.log if r.headers.get("authorization", "").startswith("Bearer")]
    leaks = [t for _, t, _ in fake.app.issued] + [j.split()[1] for j in jwts] + keys[0].splitlines()[1:-1]
    assert jwts and not [x for x in leaks if x in result.stderr + result.stdout]
    assert "eyJ" not in result.stderr  # no JWT at all


def test_connect_picks_token_or_app(make_settings, tmp_path, keys):
    token = connect(make_settings({"GITHUB_TOKEN": "ghp_x"}, {"github": {}}))
    assert not isinstance(token, Installations) and hasattr(token, "budget")
    key_file = tmp_path / "k.pem"
    key_file.write_text(keys[0])
    app = connect(make_settings({"GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY_FILE": str(key_file)}, {"github": {}}))
    assert isinstance(app, Installations) and app.fixed is None
