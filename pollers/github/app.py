"""How the GitHub poller signs in: a token (GITHUB_TOKEN), or a GitHub App.

A token serves every repository through one requester. An app signs a JWT with its private
key (PyGithub's Auth.AppAuth: RS256, `iss` = the app id, valid a few minutes) and buys an
installation token with it per installation (Auth.AppInstallationAuth), renewed before it
expires. The installation is GITHUB_APP_INSTALLATION_ID, or found per repository
(`GET /repos/{owner}/{repo}/installation`, with the JWT) and remembered, so one app serves
several organisations: one requester per installation, and one budget — each installation
has its own rate limit, of which the poller spends `github.budget_share`.

Every GitHub call the poller makes names its repository (`/repos/{owner}/{name}/…`, GraphQL
`$owner`/`$name`), so `Installations` routes each call to that repository's installation and
offers the collectors GithubHttp's own methods. Keys, JWTs and tokens are never logged (PyGithub
sets its own logger to INFO: its DEBUG lines would print response bodies, a token's among them;
ORGPULSE_LOG_LEVEL=DEBUG leaves it there — tests/pollers/test_github_app.py checks).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from github import Auth, Github, GithubException, GithubIntegration, GithubRetry, UnknownObjectException

from orgpulse.config import Settings
from pollers.github.http import Budget, GithubHttp, PartFailed, Points

DEFAULT_API_URL = "https://api.github.com"
# Renew an installation token this long before it expires (PyGithub's own margin is 20 s,
# shorter than one request's timeout and retries).
REFRESH_MARGIN = timedelta(minutes=5)
FOUND_TTL = 3600.0  # re-ask an installation hourly: an app reinstalled gets a new id
NOT_FOUND_TTL = 300.0  # a repository without the app is not asked again by each part of a cycle
REPO_URL = re.compile(r"^/repos/([^/]+)/([^/?]+)")


class AppNotInstalled(PartFailed):
    """The app is not installed on the repository (or cannot see it)."""

    reason = "app_not_installed"


class AppAuthFailed(PartFailed):
    """GitHub refused the app's JWT or an installation token request."""

    reason = "app_auth_failed"


class AppAuth(Auth.AppAuth):
    """PyGithub's app authentication, with the JWT's times read from `clock`. The key is
    loaded once (loading checks the RSA key, ~80 ms), not at every JWT."""

    def __init__(self, app_id: str, private_key: str, clock: Callable[[], float] = time.time):
        key = load_pem_private_key(private_key.encode(), password=None)
        super().__init__(app_id, sign_func=lambda claims: jwt.encode(claims, key, algorithm="RS256"))
        self._clock = clock

    def create_jwt(self, expiration: int | None = None) -> str:
        now = int(self._clock())
        signed = self._sign_func(
            {"iat": now + self._jwt_issued_at, "exp": now + (expiration or self._jwt_expiry), "iss": self._app_id}
        )
        return signed.decode() if isinstance(signed, bytes) else signed


class InstallationAuth(Auth.AppInstallationAuth):
    """PyGithub's installation authentication: its token is bought with the app's JWT and
    renewed REFRESH_MARGIN before it expires by `clock`."""

    def __init__(self, app_auth: AppAuth, installation_id: int, clock: Callable[[], float] = time.time):
        super().__init__(app_auth, installation_id)
        self._clock, self._current = clock, None

    @property
    def token(self) -> str:
        now = datetime.fromtimestamp(self._clock(), UTC)
        if self._current is None or self._current.expires_at - REFRESH_MARGIN <= now:
            try:
                self._current = self._get_installation_authorization()
            except GithubException as exc:
                raise AppAuthFailed(f"installation {self.installation_id} token: HTTP {exc.status}") from None
        return self._current.token


class SharedBudget(Budget):
    """A Budget two collectors' threads spend at once."""

    def __init__(self, *args):
        super().__init__(*args)
        self.lock = threading.Lock()

    def spend(self) -> None:
        with self.lock:
            super().spend()


class SharedPoints(Points):
    def __init__(self, *args):
        super().__init__(*args)
        self.lock = threading.Lock()

    def check(self) -> None:
        with self.lock:
            super().check()


_LIMITS: dict[tuple, tuple[SharedBudget, SharedPoints]] = {}
_LIMITS_LOCK = threading.Lock()


def _shared(http: GithubHttp, key: tuple, share: float, clock: Callable[[], float]) -> GithubHttp:
    """One REST budget and one GraphQL points budget per rate limit (a token, or an app's
    installation, at an API URL) in the process: the github and dora collectors, each with
    requesters of its own (a connection is not shared across threads), together spend at most
    `github.budget_share` of each."""
    with _LIMITS_LOCK:
        http.budget, http.points = _LIMITS.setdefault(key, (SharedBudget(share, clock), SharedPoints(share, clock)))
    return http


def _client_options(settings: Settings) -> dict[str, Any]:
    """PyGithub options shared by every requester: GITHUB_API_URL (Enterprise Server: its
    /api/v3; GraphQL is then /api/graphql), retries of secondary limits, the request pause."""
    pause = settings.section("github")["request_interval_seconds"]
    return {
        "base_url": settings.github_api_url or DEFAULT_API_URL,
        "retry": GithubRetry(total=3),
        "timeout": 30,
        "seconds_between_requests": pause,
        "seconds_between_writes": max(pause, 1.0) if pause else 0,
    }


class Installations:
    """GithubHttp's methods, each call sent through the installation of the repository it
    names: one requester and one budget per installation, made on first use."""

    def __init__(self, app: AppAuth, settings: Settings, clock: Callable[[], float] = time.time):
        self.app, self.settings, self.clock = app, settings, clock
        self.fixed = settings.github_app_installation_id
        self.integration = GithubIntegration(auth=app, **_client_options(settings))
        self.found: dict[str, tuple[int | None, float]] = {}  # owner/name → (installation, when asked)
        self.http: dict[int, GithubHttp] = {}
        self.on_request: Callable[[], None] | None = None  # progress on a terminal, as GithubHttp

    @property
    def requests(self) -> int:
        return sum(h.requests for h in self.http.values())

    def installation(self, repo: str) -> int:
        if self.fixed is not None:
            return self.fixed
        key, now = repo.lower(), self.clock()
        known, asked = self.found.get(key, (None, -1e18))
        if now - asked < (FOUND_TTL if known is not None else NOT_FOUND_TTL):
            if known is None:
                raise AppNotInstalled(f"the GitHub App is not installed on {repo}")
            return known
        owner, name = repo.split("/", 1)
        try:
            known = self.integration.get_repo_installation(owner, name).id
        except UnknownObjectException:
            known = None
        except GithubException as exc:
            raise AppAuthFailed(f"installation of {repo}: HTTP {exc.status}") from None
        self.found[key] = (known, now)
        return self.installation(repo)

    def for_repo(self, repo: str) -> GithubHttp:
        installation = self.installation(repo)
        if installation not in self.http:
            auth = InstallationAuth(self.app, installation, self.clock)
            requester = Github(auth=auth, **_client_options(self.settings)).requester
            share = self.settings.section("github")["budget_share"]
            key = ("app", self.settings.github_app_id, self.integration.base_url, installation)
            self.http[installation] = _shared(GithubHttp(requester, share, self.clock), key, share, self.clock)
        return self.http[installation]

    def _by_url(self, url: str) -> GithubHttp:
        match = REPO_URL.match(url)
        if not match:
            raise ValueError(f"{url}: not a repository's URL, no installation to send it through")
        return self._reporting(self.for_repo(f"{match.group(1)}/{match.group(2)}"))

    def _reporting(self, http: GithubHttp) -> GithubHttp:
        http.on_request = self.on_request  # the collector sets it on us, per repository
        return http

    # ------------------------------------------------------------ GithubHttp's methods
    def get(self, url: str, params: dict | None = None):
        return self._by_url(url).get(url, params)

    def post(self, url: str) -> int:
        return self._by_url(url).post(url)

    def pages(self, url: str, params: dict, *args, **kwargs):
        return self._by_url(url).pages(url, params, *args, **kwargs)

    def graphql(self, query: str, variables: dict) -> dict:
        http = self._reporting(self.for_repo(f"{variables['owner']}/{variables['name']}"))
        return http.graphql(query, variables)


def connect(settings: Settings, clock: Callable[[], float] = time.time) -> GithubHttp | Installations:
    """The poller's way into GitHub from its settings, for one collector: a GithubHttp over
    GITHUB_TOKEN, or Installations of the GitHub App (GITHUB_APP_ID and its private key) —
    requesters of its own, budgets shared with every collector on the same rate limit."""
    share = settings.section("github")["budget_share"]
    if settings.github_token is not None:
        auth = Auth.Token(settings.github_token.reveal().decode())
        http = GithubHttp(Github(auth=auth, **_client_options(settings)).requester, share, clock)
        key = ("token", hashlib.sha256(settings.github_token.reveal()).hexdigest(), settings.github_api_url or "")
        return _shared(http, key, share, clock)
    app = AppAuth(settings.github_app_id, settings.github_app_private_key.reveal().decode(), clock)
    return Installations(app, settings, clock)
