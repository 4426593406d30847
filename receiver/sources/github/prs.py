"""pull_request and pull_request_review → metrics. Pure but for ctx.recall (first review)."""
from __future__ import annotations

from orgpulse import metrics as m
from orgpulse.timeutil import seconds_between
from receiver.sources.github.context import GithubContext, author_type, branch_type


def _pr_tags(payload: dict, ctx: GithubContext) -> dict:
    pr = payload["pull_request"]
    return {"repo": ctx.repo(payload), "author_type": author_type(pr.get("user")),
            "branch_type": branch_type((pr.get("base") or {}).get("ref"), payload)}


def _opened(pr: dict, tags: dict) -> list[m.Metric]:
    return [m.count("github.prs.opened", draft=str(bool(pr.get("draft"))).lower(), **tags)]


def _closed(pr: dict, tags: dict) -> list[m.Metric]:
    if not pr.get("merged_at"):
        return [m.count("github.prs.closed_without_merge", **tags)]
    out = [m.count("github.prs.merged", **tags)]
    to_merge = seconds_between(pr.get("created_at"), pr.get("merged_at"))
    if to_merge is not None:
        out.append(m.distribution("github.prs.time_to_merge", to_merge, **tags))
    # The closed payload carries the diff size: no per-commit API calls (seed P1).
    for field, name in (("additions", "github.prs.lines_added"),
                        ("deletions", "github.prs.lines_deleted"),
                        ("changed_files", "github.prs.files_changed")):
        if isinstance(pr.get(field), int):
            out.append(m.count(name, pr[field], **tags))
    return out


def _simple(name: str):
    return lambda pr, tags: [m.count(name, **tags)]


PR_ACTIONS = {
    "opened": _opened,
    "closed": _closed,
    "reopened": _simple("github.prs.reopened"),
    "ready_for_review": _simple("github.prs.ready_for_review"),
}


def pull_request(payload: dict, ctx: GithubContext) -> list[m.Metric] | None:
    handler = PR_ACTIONS.get(payload.get("action"))
    return handler(payload["pull_request"], _pr_tags(payload, ctx)) if handler else None


REVIEW_STATES = {"approved", "changes_requested", "commented", "dismissed"}


def pull_request_review(payload: dict, ctx: GithubContext) -> list[m.Metric] | None:
    if payload.get("action") not in ("submitted", "dismissed"):
        return None
    review, pr = payload["review"], payload["pull_request"]
    reviewer = review.get("user") or {}
    if reviewer.get("id") is not None and reviewer.get("id") == (pr.get("user") or {}).get("id"):
        return None  # an author answering on their own PR is not a review
    state = str(review.get("state", "")).lower()
    repo = ctx.repo(payload)
    out = [m.count("github.prs.reviews", repo=repo, author_type=author_type(reviewer),
                   state=state if state in REVIEW_STATES else "other")]
    # Pickup time (DevLake): PR created → first human review. "First" as far as
    # this receiver has seen within a week; bots are excluded, they answer in seconds.
    key = ("reviewed", (payload.get("repository") or {}).get("id"), pr.get("number"))
    if payload["action"] == "submitted" and author_type(reviewer) == "human" and ctx.recall.first(key):
        pickup = seconds_between(pr.get("created_at"), review.get("submitted_at"))
        if pickup is not None:
            out.append(m.distribution("github.prs.time_to_first_review", pickup, repo=repo))
    return out
