"""A fake GitHub REST + GraphQL API for PyGithub: pulls, commits, workflow runs and their
attempts, activity, webhook deliveries, with Link pagination, ETags (If-None-Match → 304),
the 1,000-result cap on searches of runs, REST rate-limit headers and exhaustion, and a
count of every request. GraphQL (tests/fakes/github_graphql.py) is validated against
GitHub's real schema and has its own points limit, as on GitHub.

Routes are a table: a module serving more of GitHub subclasses FakeGithub and appends
`routes = FakeGithub.routes + [(method, pattern, handler name), …]`."""
from __future__ import annotations

import hashlib
import json
import time
from typing import Callable

from orgpulse.timeutil import parse_time
from tests.fakes.github_graphql import GithubGraphql
from tests.fakes.http import FakeServer

REPO = r"/repos/([\w.-]+)/([\w.-]+)"


class FakeGithub(GithubGraphql, FakeServer):
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
    ]

    def __init__(self, token: str = "gh-test-token", clock: Callable[[], float] = time.time):
        self.token = token
        self.repos: dict[str, dict] = {}
        self.remaining = 5000  # REST requests; GraphQL points are apart (graphql_remaining)
        self.not_modified = 0
        self._init_graphql(clock)
        super().__init__()

    def add_repo(self, full_name: str, default_branch: str = "main") -> dict:
        self.repos[full_name] = {"meta": {"full_name": full_name, "default_branch": default_branch},
                                 "pulls": [], "commits": [], "runs": [], "activity": []}
        return self.repos[full_name]

    # ------------------------------------------------------------ plumbing
    def dispatch(self, req):
        if req.headers.get("authorization") not in (f"token {self.token}", f"Bearer {self.token}"):
            return 401, {}, {"message": "Bad credentials"}
        if req.path == "/graphql":  # its own limit, its own headers
            return super().dispatch(req)
        if self.remaining <= 0:
            self.requests[req.path] += 1
            return 403, self._rate_headers(), {"message": "API rate limit exceeded"}
        status, headers, body = super().dispatch(req)
        if status == 200 and req.method == "GET":
            etag = '"' + hashlib.sha1(json.dumps(body, sort_keys=True).encode()).hexdigest() + '"'
            headers = {**headers, "ETag": etag}
            if req.headers.get("if-none-match") == etag:
                self.not_modified += 1  # a 304 does not count against the rate limit
                return 304, {**headers, **self._rate_headers()}, b""
        self.remaining -= 1
        return status, {**headers, **self._rate_headers()}, body

    def _rate_headers(self) -> dict:
        return {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": str(max(self.remaining, 0)),
                "X-RateLimit-Reset": str(int(time.time()) + 3600), "X-RateLimit-Used": "0"}

    def _page(self, req, items: list, cap: int | None = None):
        per_page = int(req.query.get("per_page", ["30"])[0])
        page = int(req.query.get("page", ["1"])[0])
        if cap is not None:
            items = items[:cap]
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = "&".join(f"{k}={v[0]}" for k, v in req.query.items() if k != "page")
            headers["Link"] = f'<{self.url}{req.path}?{query}&page={page + 1}>; rel="next"'
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
