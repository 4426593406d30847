"""A fake GitHub REST + GraphQL API for PyGithub: pulls, commits, workflow runs and their
attempts, activity, webhook deliveries, with Link pagination, ETags (If-None-Match → 304),
the 1,000-result cap on searches of runs, REST rate-limit headers and exhaustion, and a
count of every request. GraphQL (tests/fakes/github_graphql.py) is validated against
GitHub's real schema and has its own points limit, as on GitHub. With a FakeApp it speaks
GitHub App authentication instead of its token (tests/fakes/github_app.py); with
`api_prefix="/api/v3"` it is served as GitHub Enterprise Server is (REST under /api/v3,
GraphQL at /api/graphql; `api_url` is what GITHUB_API_URL would be).

Routes are a table: a module serving more of GitHub subclasses FakeGithub and appends
`routes = FakeGithub.routes + [(method, pattern, handler name), …]`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Callable

from orgpulse.timeutil import parse_time
from tests.fakes.github_app import APP_ROUTES, FakeApp, GithubAppAuthority
from tests.fakes.github_graphql import GithubGraphql
from tests.fakes.http import FakeServer

REPO = r"/repos/([\w.-]+)/([\w.-]+)"
REPO_NAME = re.compile(r"^/repos/([\w.-]+/[\w.-]+)")


class FakeGithub(GithubAppAuthority, GithubGraphql, FakeServer):
    routes = [
        ("GET", REPO, "repo"),
        ("GET", REPO + r"/pulls", "pulls"),
        ("GET", REPO + r"/commits", "commits"),
        ("GET", REPO + r"/actions/runs", "runs"),
        ("GET", REPO + r"/actions/runs/(\d+)", "one_run"),
        ("GET", REPO + r"/actions/runs/(\d+)/attempts/(\d+)", "run_attempt"),
        ("GET", REPO + r"/activity", "activity"),
        ("GET", REPO + r"/hooks/(\d+)/deliveries", "deliveries"),
        ("POST", REPO + r"/hooks/(\d+)/deliveries/(\d+)/attempts", "redeliver"),
        ("POST", r"/graphql", "graphql"),
    ] + APP_ROUTES

    def __init__(
        self,
        token: str = "gh-test-token",
        clock: Callable[[], float] = time.time,
        app: FakeApp | None = None,
        api_prefix: str = "",
    ):
        self.token, self.clock, self.app, self.api_prefix = token, clock, app, api_prefix
        self.repos: dict[str, dict] = {}
        self.remaining = 5000  # REST requests; GraphQL points are apart (graphql_remaining)
        self.installation_remaining: dict[int, int] = dict.fromkeys(app.installations, app.limit) if app else {}
        self.not_modified = 0
        self.raw_paths: list[str] = []  # as sent, before an Enterprise prefix is taken off
        self._init_graphql(clock)
        super().__init__()
        self.api_url = self.url + api_prefix

    def add_repo(self, full_name: str, default_branch: str = "main") -> dict:
        self.repos[full_name] = {
            "meta": {"full_name": full_name, "default_branch": default_branch},
            "pulls": [],
            "commits": [],
            "runs": [],
            "activity": [],
        }
        return self.repos[full_name]

    # ------------------------------------------------------------ plumbing
    def dispatch(self, req):
        self.raw_paths.append(req.path)
        req = self._unprefixed(req)
        if req is None:
            return 404, {}, {"message": "Not Found"}
        caller = self.caller(req)
        if caller is None:
            return 401, {}, {"message": "Bad credentials"}
        req.caller = caller
        repo = REPO_NAME.match(req.path)
        if repo and caller.kind == "installation" and not self.visible(caller, repo.group(1)):
            return 404, {}, {"message": "Not Found"}
        if req.path == "/graphql" or caller.kind == "jwt":  # limits of their own
            return super().dispatch(req)
        if self._remaining(caller) <= 0:
            self.requests[req.path] += 1
            return 403, self._rate_headers(caller), {"message": "API rate limit exceeded"}
        status, headers, body = super().dispatch(req)
        if status == 200 and req.method == "GET":
            etag = '"' + hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest() + '"'
            headers = {**headers, "ETag": etag}
            if req.headers.get("if-none-match") == etag:
                self.not_modified += 1  # a 304 does not count against the rate limit
                return 304, {**headers, **self._rate_headers(caller)}, b""
        self._spend(caller)
        return status, {**headers, **self._rate_headers(caller)}, body

    def _unprefixed(self, req):
        """The request as routed: Enterprise Server's /api/v3 and /api/graphql taken off."""
        if not self.api_prefix:
            return req
        if req.path == "/api/graphql":
            return dataclasses.replace(req, path="/graphql")
        if req.path.startswith(self.api_prefix + "/"):
            return dataclasses.replace(req, path=req.path[len(self.api_prefix) :])
        return None

    def _remaining(self, caller) -> int:
        if caller.installation:  # an installation added by a test starts with its full limit
            return self.installation_remaining.setdefault(caller.installation, self.app.limit)
        return self.remaining

    def _spend(self, caller) -> None:
        if caller.installation:
            self.installation_remaining[caller.installation] = self._remaining(caller) - 1
        else:
            self.remaining -= 1

    def _rate_headers(self, caller=None) -> dict:
        limit = self.app.limit if caller and caller.installation else 5000
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(self._remaining(caller) if caller else self.remaining, 0)),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Used": "0",
        }

    def _page(self, req, items: list, cap: int | None = None):
        per_page = int(req.query.get("per_page", ["30"])[0])
        page = int(req.query.get("page", ["1"])[0])
        if cap is not None:
            items = items[:cap]
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = "&".join(f"{k}={v[0]}" for k, v in req.query.items() if k != "page")
            headers["Link"] = f'<{self.api_url}{req.path}?{query}&page={page + 1}>; rel="next"'
        return chunk, headers

    # ------------------------------------------------------------ REST
    def repo(self, req, match):
        return 200, {}, self.repos[f"{match.group(1)}/{match.group(2)}"]["meta"]

    def pulls(self, req, match):
        repo = self.repos[f"{match.group(1)}/{match.group(2)}"]
        state = req.query.get("state", ["open"])[0]
        items = [p for p in repo["pulls"] if state == "all" or p["state"] == state]
        items.sort(key=lambda p: p["updated_at"], reverse=req.query.get("direction", ["desc"])[0] == "desc")
        chunk, headers = self._page(req, items)
        return 200, headers, chunk

    def commits(self, req, match):
        repo = self.repos[f"{match.group(1)}/{match.group(2)}"]
        since = parse_time(req.query.get("since", [None])[0])
        items = [c for c in repo["commits"] if since is None or parse_time(c["commit"]["committer"]["date"]) >= since]
        items.sort(key=lambda c: c["commit"]["committer"]["date"], reverse=True)
        chunk, headers = self._page(req, items)
        return 200, headers, chunk

    def runs(self, req, match):
        repo = self.repos[f"{match.group(1)}/{match.group(2)}"]
        created = req.query.get("created", [None])[0]
        items = [r for r in repo["runs"] if _created_matches(r["created_at"], created)]
        items.sort(key=lambda r: r["created_at"], reverse=True)
        chunk, headers = self._page(req, items, cap=1000)  # GitHub returns at most 1,000
        return 200, headers, {"total_count": len(items), "workflow_runs": [_public(r) for r in chunk]}

    def _run(self, match) -> dict | None:
        repo = self.repos[f"{match.group(1)}/{match.group(2)}"]
        return next((r for r in repo["runs"] if r["id"] == int(match.group(3))), None)

    def one_run(self, req, match):
        run = self._run(match)
        return (200, {}, _public(run)) if run else (404, {}, {"message": "Not Found"})

    def run_attempt(self, req, match):
        """An attempt as GitHub keeps it: the run with that attempt's number and outcome."""
        run, n = self._run(match), int(match.group(4))
        if run is None or not 1 <= n <= run["run_attempt"]:
            return 404, {}, {"message": "Not Found"}
        earlier = run.get("_attempts", [])
        return 200, {}, _public({**run, **earlier[n - 1]} if n < run["run_attempt"] else run)

    def activity(self, req, match):
        repo = self.repos[f"{match.group(1)}/{match.group(2)}"]
        kind = req.query.get("activity_type", [None])[0]
        items = [a for a in repo["activity"] if kind in (None, a["activity_type"])]
        chunk, headers = self._page(req, items)
        return 200, headers, chunk

    def deliveries(self, req, match):
        repo = self.repos[f"{match.group(1)}/{match.group(2)}"]
        items = sorted(repo.get("deliveries", []), key=lambda d: d["delivered_at"], reverse=True)
        chunk, headers = self._page(req, items)
        return 200, headers, chunk

    def redeliver(self, req, match):
        repo = self.repos[f"{match.group(1)}/{match.group(2)}"]
        repo.setdefault("redelivered", []).append(int(match.group(4)))
        return 202, {}, {}


def _public(item: dict) -> dict:
    """What GitHub sends: the fake's own bookkeeping (keys starting with _) left out."""
    return {k: v for k, v in item.items() if not k.startswith("_")}


def _created_matches(created_at: str, query: str | None) -> bool:
    if not query:
        return True
    t = parse_time(created_at)
    if query.startswith(">="):
        return t >= parse_time(_day_or_time(query[2:]))
    if ".." in query:
        a, b = query.split("..")
        return parse_time(_day_or_time(a)) <= t <= parse_time(_day_or_time(b, end=True))
    return parse_time(_day_or_time(query)) <= t <= parse_time(_day_or_time(query, end=True))


def _day_or_time(text: str, end: bool = False) -> str:
    return text if "T" in text else f"{text}T{'23:59:59' if end else '00:00:00'}Z"
