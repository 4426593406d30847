"""The fake GitHub with DORA's routes: deployments and their statuses, a workflow's runs,
compare, issues, and GraphQL's commit → pull request lookup (validated against GitHub's
schema like every query of the fake, tests/fakes/github_graphql.py).

Per repository (FakeGithub.repos[name]): `deployments` (each with its `statuses`, newest
last), `history` (the default branch's commits in order: what compare walks), `commit_prs`
(sha → the pull request it is the merge commit of: {"first_commit_at": …}), `issues`, and
the collector's existing `runs` (a run's `path` names its workflow file).
"""

from __future__ import annotations

import re

from orgpulse.timeutil import parse_time
from tests.fakes.github_api import REPO, FakeGithub
from tests.fakes.github_graphql import connected

DORA_ROUTES = [
    ("GET", REPO + r"/deployments", "dora_deployments"),
    ("GET", REPO + r"/deployments/(\d+)/statuses", "dora_statuses"),
    ("GET", REPO + r"/actions/workflows/([\w.-]+)/runs", "dora_workflow_runs"),
    ("GET", REPO + r"/compare/([0-9a-f]+)\.\.\.([0-9a-f]+)", "dora_compare"),
    ("GET", REPO + r"/issues", "dora_issues"),
]


def _q(req, name: str, default=None):
    return req.query.get(name, [default])[0]


def _created(value: str, query: str | None) -> bool:
    """`created` filters as the runs API takes them: >=T, <T (T a day or a time)."""
    if not query:
        return True
    op, text = re.match(r"(>=|<|)(.*)", query).groups()
    bound = parse_time(text if "T" in text else f"{text}T00:00:00Z")
    t = parse_time(value)
    return t >= bound if op == ">=" else t < bound if op == "<" else t.date() == bound.date()


class DoraGithub(FakeGithub):
    routes = FakeGithub.routes + DORA_ROUTES

    def _dora_repo(self, match) -> dict:
        return self.repos[f"{match.group(1)}/{match.group(2)}"]

    def dora_deployments(self, req, match):
        repo = self._dora_repo(match)
        env = _q(req, "environment")
        items = [
            {k: v for k, v in d.items() if k != "statuses"}
            for d in repo.get("deployments", [])
            if env in (None, d["environment"])
        ]
        items.sort(key=lambda d: d["id"], reverse=True)  # newest first, as GitHub lists them
        chunk, headers = self._page(req, items)
        return 200, headers, chunk

    def dora_statuses(self, req, match):
        repo = self._dora_repo(match)
        deployment = next(d for d in repo.get("deployments", []) if d["id"] == int(match.group(3)))
        chunk, headers = self._page(req, list(reversed(deployment["statuses"])))  # newest first
        return 200, headers, chunk

    def dora_workflow_runs(self, req, match):
        repo = self._dora_repo(match)
        workflow, branch, status = match.group(3), _q(req, "branch"), _q(req, "status")
        items = [
            r
            for r in repo.get("runs", [])
            if r.get("path", "").rsplit("/", 1)[-1] == workflow
            and branch in (None, r["head_branch"])
            and _created(r["created_at"], _q(req, "created"))
            and status in (None, r.get("status"), r.get("conclusion"))
        ]
        items.sort(key=lambda r: r["created_at"], reverse=True)
        chunk, headers = self._page(req, items)
        return 200, headers, {"total_count": len(items), "workflow_runs": chunk}

    def dora_compare(self, req, match):
        history = self._dora_repo(match).get("history", [])
        index = {c["sha"]: i for i, c in enumerate(history)}
        base, head = match.group(3), match.group(4)
        if base not in index or head not in index:
            return 404, {}, {"message": "Not Found"}
        a, b = index[base], index[head]
        status = "identical" if a == b else "ahead" if a < b else "behind"
        commits = history[a + 1 : b + 1] if a < b else []
        chunk, headers = self._page(req, commits)
        return (
            200,
            headers,
            {
                "status": status,
                "ahead_by": max(b - a, 0),
                "behind_by": max(a - b, 0),
                "total_commits": len(commits),
                "commits": chunk,
                "files": [],
            },
        )

    def dora_issues(self, req, match):
        repo = self._dora_repo(match)
        labels = {x.lower() for x in (_q(req, "labels") or "").split(",") if x}
        state, since = _q(req, "state", "open"), parse_time(_q(req, "since"))
        items = [
            i
            for i in repo.get("issues", [])
            if labels <= {x["name"].lower() for x in i["labels"]}
            and state in ("all", i["state"])
            and (since is None or parse_time(i["updated_at"]) >= since)
        ]
        items.sort(key=lambda i: i["created_at"], reverse=True)
        chunk, headers = self._page(req, items)
        return 200, headers, chunk

    def gql_repository(self, full_name: str) -> dict:
        """Commit objects by oid: the pull requests a commit belongs to (the one it is the
        merge commit of, with that PR's first commit)."""
        repo = self.repos[full_name]
        shas = {c["sha"] for c in repo.get("history", [])}

        def commit(info, oid=None, expression=None):
            if oid not in shas:
                return None
            pr = repo.get("commit_prs", {}).get(oid)
            prs = (
                []
                if pr is None
                else [
                    {
                        "mergeCommit": {"oid": oid},
                        "commits": connected([{"commit": {"authoredDate": pr["first_commit_at"]}}], "commits"),
                    }
                ]
            )
            return {
                "__typename": "Commit",
                "oid": oid,
                "associatedPullRequests": connected(prs, "associatedPullRequests"),
            }

        return {**super().gql_repository(full_name), "object": commit}
