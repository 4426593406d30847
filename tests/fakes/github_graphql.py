"""The fake GitHub's GraphQL endpoint: every query is validated against GitHub's real public
schema (tests/fixtures/github-graphql) and executed by graphql-core over the fake's data.

So a field, argument or enum value GitHub does not have is refused here as GitHub refuses
it (HTTP 200 with `errors`), and the fake records it in `rejected_queries`, which the tests'
fixture checks. Real-GitHub details mirrored: a Bot's GraphQL `login` has no "[bot]" suffix
(REST's does); a connection needs `first` or `last` and refuses either over 100; GraphQL has
its own hourly points limit, reported by `rateLimit { cost remaining resetAt }` and, once
spent, answered with a RATE_LIMITED error. Every query costs 1 point here (GitHub's minimum).
Resolvers are plain dicts whose callables take the field's arguments — extend `gql_repository`
to serve more of a repository.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from graphql import GraphQLError, build_schema, execute, parse, validate
from graphql.error import GraphQLSyntaxError

SCHEMA = Path(__file__).resolve().parent.parent / "fixtures" / "github-graphql" / "schema.graphql"
MAX_PAGE = 100


@functools.cache
def schema():
    """GitHub's schema, built once per process (~0.5 s)."""
    built = build_schema(SCHEMA.read_text(), assume_valid_sdl=True)
    # Two interface rules fail on GitHub's own SDL (tests/fixtures/github-graphql/README.md).
    built._validation_errors = []
    return built


class Rejected(GraphQLError):
    """An error GitHub raises before running the query (pagination bounds), with its type."""

    def __init__(self, message: str, kind: str):
        super().__init__(message, extensions={"type": kind})


def _selects_items(info) -> bool:
    """Whether the query asks the connection for nodes or edges (totalCount alone needs no bound)."""
    pending = [n.selection_set for n in info.field_nodes if n.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if getattr(selection, "name", None) is not None and selection.name.value in ("nodes", "edges"):
                return True
            if getattr(selection, "selection_set", None) and not hasattr(selection, "alias"):
                pending.append(selection.selection_set)  # an inline fragment
    return False


def connection(
    items: list,
    name: str,
    info=None,
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    **_filters,
) -> dict:
    """A GraphQL connection over `items`; cursors are offsets. Like GitHub, it refuses to list
    nodes or edges without `first` or `last`, and either over 100."""
    if first is None and last is None and (info is None or _selects_items(info)):
        raise Rejected(
            f"You must provide a `first` or `last` value to properly paginate the `{name}` connection.",
            "MISSING_PAGINATION_BOUNDARIES",
        )
    for arg, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise Rejected(
                f"Requesting {value} records on the `{name}` connection exceeds the `{arg}` "
                f"limit of {MAX_PAGE} records.",
                "EXCESSIVE_PAGINATION",
            )
    start = int(after) if after else 0
    window = items[start : int(before) if before else len(items)]
    if first is None and last is None:
        first = 0  # totalCount only
    page = window[:first] if first is not None else window[len(window) - last :]
    start += len(window) - len(page) if first is None else 0
    return {
        "nodes": page,
        "totalCount": len(items),
        "edges": [{"node": n, "cursor": str(start + i + 1)} for i, n in enumerate(page)],
        "pageInfo": {
            "hasNextPage": start + len(page) < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": str(start),
            "endCursor": str(start + len(page)),
        },
    }


def connected(items: list, name: str) -> Callable[..., dict]:
    return lambda info, **args: connection(items, name, info, **args)


def actor(login: str | None) -> dict | None:
    """A user or bot as GraphQL shows it: a Bot's login without REST's "[bot]"."""
    if login is None:
        return None  # a deleted account ("ghost")
    if login.endswith("[bot]"):
        return {"__typename": "Bot", "login": login[: -len("[bot]")]}
    return {"__typename": "User", "login": login}


def pull_request(p: dict) -> dict:
    return {
        "number": p["number"],
        "additions": p["_additions"],
        "deletions": p["_deletions"],
        "changedFiles": p["_changed_files"],
        "author": actor((p.get("user") or {}).get("login")),
        # the discussion (issue comments) and the review comments
        "totalCommentsCount": p["_comments"] + p.get("_review_comments", 0),
        "comments": connected([{"body": ""}] * p["_comments"], "comments"),
        "reviews": connected(
            [
                {"author": actor(r["login"]), "state": "APPROVED", "submittedAt": r["at"]}
                for r in sorted(p["_reviews"], key=lambda r: r["at"])
            ],
            "reviews",
        ),
        "commits": connected([{"commit": {"authoredDate": p["_first_commit_at"]}}], "commits"),
    }


class GithubGraphql:
    """Mixed into the fake GitHub: needs `self.repos` (full name → data)."""

    graphql_limit = 5000

    def _init_graphql(self, clock: Callable[[], float] = time.time) -> None:
        self.graphql_clock = clock
        self.graphql_remaining = self.graphql_limit
        self.graphql_reset = clock() + 3600
        self.rejected_queries: list[str] = []

    def _graphql_headers(self) -> dict:
        return {
            "X-RateLimit-Resource": "graphql",
            "X-RateLimit-Limit": str(self.graphql_limit),
            "X-RateLimit-Remaining": str(max(self.graphql_remaining, 0)),
            "X-RateLimit-Reset": str(int(self.graphql_reset)),
        }

    def graphql(self, req, match):
        if self.graphql_clock() >= self.graphql_reset:
            self.graphql_remaining, self.graphql_reset = self.graphql_limit, self.graphql_clock() + 3600
        if self.graphql_remaining <= 0:
            return (
                200,
                self._graphql_headers(),
                {"errors": [{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]},
            )
        body = req.json() or {}
        try:
            document = parse(body.get("query") or "")
        except GraphQLSyntaxError as exc:
            return self._rejected([exc])
        errors = validate(schema(), document)
        if errors:
            return self._rejected(errors)
        self.graphql_remaining -= 1
        result = execute(
            schema(),
            document,
            root_value=self.gql_root(getattr(req, "caller", None)),
            variable_values=body.get("variables") or {},
        )
        if result.errors:
            if any(isinstance(e.original_error, Rejected) for e in result.errors):
                return self._rejected(result.errors)  # GitHub refuses these before running
            return 200, self._graphql_headers(), {"data": result.data, "errors": [_error(e) for e in result.errors]}
        return 200, self._graphql_headers(), {"data": result.data}

    def _rejected(self, errors: list[GraphQLError]):
        self.rejected_queries += [e.message for e in errors]
        return 200, self._graphql_headers(), {"errors": [_error(e) for e in errors]}

    def gql_root(self, caller=None) -> dict[str, Any]:
        """`caller`: who asks (tests/fakes/github_app.py); an app's installation sees its own
        repositories only, like GitHub."""
        reset = datetime.fromtimestamp(self.graphql_reset, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "rateLimit": lambda info, dryRun=False: {
                "cost": 1,
                "limit": self.graphql_limit,
                "remaining": self.graphql_remaining,
                "used": self.graphql_limit - self.graphql_remaining,
                "resetAt": reset,
                "nodeCount": 0,
            },
            "repository": lambda info, owner, name, **_: self.gql_repository(
                _visible(f"{owner}/{name}", caller is None or self.visible(caller, f"{owner}/{name}"))
            ),
        }

    def gql_repository(self, full_name: str) -> dict[str, Any]:
        repo = self.repos.get(full_name)
        if repo is None:
            raise _no_repository(full_name)
        pulls = {p["number"]: p for p in repo["pulls"]}

        def pull(info, number):
            if number not in pulls:
                raise GraphQLError(
                    f"Could not resolve to a PullRequest with the number of {number}.", extensions={"type": "NOT_FOUND"}
                )
            return pull_request(pulls[number])

        def refs(info, refPrefix, orderBy=None, **args):
            newest = orderBy and orderBy.get("direction") == "DESC"
            branches = sorted(repo.get("branches", []), key=lambda b: b[1], reverse=bool(newest))
            nodes = [
                {"name": n, "prefix": refPrefix, "target": {"__typename": "Commit", "committedDate": d}}
                for n, d in branches
            ]
            return connection(nodes, "refs", info, **args)

        return {"nameWithOwner": full_name, "pullRequest": pull, "refs": refs}


def _no_repository(full_name: str) -> GraphQLError:
    return GraphQLError(
        f"Could not resolve to a Repository with the name '{full_name}'.", extensions={"type": "NOT_FOUND"}
    )


def _visible(full_name: str, visible: bool) -> str:
    if not visible:  # what GitHub says of a repository the token may not see
        raise _no_repository(full_name)
    return full_name


def _error(e: GraphQLError) -> dict:
    out = {"message": e.message, "locations": [{"line": x.line, "column": x.column} for x in e.locations or []]}
    if e.path:
        out["path"] = e.path
    kind = (e.extensions or {}).get("type")
    if kind:
        out["type"] = kind
    return out
